"""System checks: a misconfigured store is one clear line at start-up, not an error at first use."""

from urllib.parse import urlsplit

from django.core.checks import Error, Tags, Warning, register

from .conf import CONFLICT_POLICIES, STORES, userdata_settings
from .ratelimit import parse_rate
from .stores.auth0 import is_canonical_domain

MIN_SECRET_BYTES = 32
"""RFC 7518 section 3.2: an HMAC key at least as long as the hash (HS256 32 bytes, HS512 64)."""


@register("userdata")
def check_userdata_settings(app_configs=None, **kwargs):
    conf = userdata_settings()
    problems = []
    store = conf["STORE"]
    if store not in STORES and "." not in str(store):
        problems.append(
            Error(
                f"USERDATA['STORE'] is {store!r}; use one of {', '.join(STORES)}.",
                id="userdata.E001",
            )
        )
    if store == "fusionauth":
        fa = conf.get("FUSIONAUTH") or {}
        missing = [k for k in ("API_URL", "API_KEY", "APPLICATION_ID") if not fa.get(k)]
        if missing:
            problems.append(
                Error(
                    "The fusionauth user-data store needs USERDATA['FUSIONAUTH'] "
                    f"{', '.join(missing)} (env FUSIONAUTH_API_URL, FUSIONAUTH_API_KEY, "
                    "FUSIONAUTH_APPLICATION_ID).",
                    id="userdata.E002",
                )
            )
        if not fa.get("WEBHOOK_SECRET"):
            problems.append(
                Warning(
                    "FUSIONAUTH_WEBHOOK_SECRET is empty: /webhooks/fusionauth/ will refuse every "
                    "event.",
                    id="userdata.W001",
                )
            )
    if store == "auth0":
        a0 = conf.get("AUTH0") or {}
        missing = [k for k in ("DOMAIN", "CLIENT_ID", "CLIENT_SECRET") if not a0.get(k)]
        if missing:
            problems.append(
                Error(
                    f"The auth0 user-data store needs USERDATA['AUTH0'] {', '.join(missing)}.",
                    id="userdata.E003",
                )
            )
        domain = a0.get("DOMAIN") or ""
        if domain and not a0.get("AUDIENCE") and not is_canonical_domain(domain):
            host = urlsplit(domain if "//" in domain else f"//{domain}").hostname or domain
            problems.append(
                Error(
                    f"AUTH0_DOMAIN {host!r} is not a *.auth0.com domain (a custom domain?), so "
                    "the Management API audience cannot be derived from it: set "
                    "AUTH0_MGMT_AUDIENCE to https://YOUR_TENANT.auth0.com/api/v2/ (the Management "
                    "API's identifier is always the tenant's auth0.com domain).",
                    id="userdata.E006",
                )
            )
        for key in ("EXPORT_POLL_SECONDS", "EXPORT_TIMEOUT"):
            value = a0.get(key, 1)
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                problems.append(
                    Error(
                        f"USERDATA['AUTH0']['{key}'] must be a number of seconds.",
                        id="userdata.E009",
                    )
                )
    try:
        parse_rate(conf["PUSH_RATE"])
    except ValueError as exc:
        problems.append(Error(f"USERDATA['PUSH_RATE']: {exc}", id="userdata.E010"))
    if conf["TASKS"] not in ("auto", "celery", "inline"):
        problems.append(
            Error(
                f"USERDATA['TASKS'] is {conf['TASKS']!r}; use auto, celery or inline.",
                id="userdata.E011",
            )
        )
    if conf["CONFLICT_POLICY"] not in CONFLICT_POLICIES:
        problems.append(
            Error(
                f"USERDATA['CONFLICT_POLICY'] is {conf['CONFLICT_POLICY']!r}; use one of "
                f"{', '.join(CONFLICT_POLICIES)}.",
                id="userdata.E004",
            )
        )
    window = conf.get("WEBHOOK_REPLAY_WINDOW", 1)
    if not isinstance(window, int) or isinstance(window, bool) or window <= 0:
        problems.append(
            Error(
                "USERDATA['WEBHOOK_REPLAY_WINDOW'] must be a positive number of seconds (an int).",
                id="userdata.E008",
            )
        )
    if not isinstance(conf["MAX_BYTES"], int) or conf["MAX_BYTES"] <= 0:
        problems.append(
            Error("USERDATA['MAX_BYTES'] must be a positive integer.", id="userdata.E005")
        )
    return problems


@register(Tags.security, deploy=True)
def check_webhook_secret(app_configs=None, **kwargs):
    """A short HMAC secret can be guessed offline from one signed delivery (RFC 7518 section 3.2
    wants at least the hash length: 32 bytes for HS256, 48 for HS384, 64 for HS512)."""
    secret = (userdata_settings().get("FUSIONAUTH") or {}).get("WEBHOOK_SECRET") or ""
    size = len(secret.encode())
    if secret and size < MIN_SECRET_BYTES:
        return [
            Error(
                f"FUSIONAUTH_WEBHOOK_SECRET is {size} bytes; an HMAC signing secret needs at least "
                f"{MIN_SECRET_BYTES} (HS256; 48 for HS384, 64 for HS512). Generate a new HMAC key "
                "at the IdP and set its secret here.",
                id="userdata.E007",
            )
        ]
    return []
