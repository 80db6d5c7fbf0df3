"""The guard that keeps the development IdP out of production."""

import os
import sys

TRUTHY = {"1", "true", "yes", "on"}


def production_flag():
    """The reason this environment looks like production, or an empty string."""
    if os.environ.get("PRODUCTION", "").strip().lower() in TRUTHY:
        return "PRODUCTION is set"
    if os.environ.get("DJANGO_ENV", "").strip().lower() == "production":
        return "DJANGO_ENV=production"
    return ""


def refuse_production():
    """Exit with one clear line instead of serving fake identities in production."""
    reason = production_flag()
    if reason:
        sys.stderr.write(
            f"devidp: refusing to start because {reason}: the development IdP is a "
            "development and test tool, never a production identity provider.\n"
        )
        raise SystemExit(2)
