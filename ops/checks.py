"""Start-up checks of the project's configuration that Django's own checks do not cover."""

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security)
def check_demo_secrets(app_configs, **kwargs):
    """Loud at every start: with DEBUG, unset secrets fall back to the public demo values."""
    fallbacks = getattr(settings, "DEMO_SECRET_FALLBACKS", [])
    if not (settings.DEBUG and fallbacks):
        return []
    return [
        checks.Warning(
            f"DEBUG is on and {', '.join(fallbacks)} fell back to the PUBLIC demo values of "
            "kickstart/kickstart.json: anyone can forge webhooks, sessions and client calls with "
            "them. Fine for the development IdP on this machine only.",
            hint="Set them in the environment or .env (see .env.example), or run with DEBUG=false.",
            id="ops.W001",
        )
    ]
