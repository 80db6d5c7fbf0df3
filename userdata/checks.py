"""System checks: a misconfigured store is one clear line at start-up, not an error at first use."""

from django.core.checks import Error, Warning, register

from .conf import CONFLICT_POLICIES, STORES, userdata_settings
from .ratelimit import parse_rate


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
    try:
        parse_rate(conf["PUSH_RATE"])
    except ValueError as exc:
        problems.append(Error(f"USERDATA['PUSH_RATE']: {exc}", id="userdata.E006"))
    if conf["CONFLICT_POLICY"] not in CONFLICT_POLICIES:
        problems.append(
            Error(
                f"USERDATA['CONFLICT_POLICY'] is {conf['CONFLICT_POLICY']!r}; use one of "
                f"{', '.join(CONFLICT_POLICIES)}.",
                id="userdata.E004",
            )
        )
    if not isinstance(conf["MAX_BYTES"], int) or conf["MAX_BYTES"] <= 0:
        problems.append(
            Error("USERDATA['MAX_BYTES'] must be a positive integer.", id="userdata.E005")
        )
    return problems
