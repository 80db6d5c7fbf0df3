"""Effective settings of a client, resolved like FusionAuth: the application's jwtConfiguration
(when enabled) wins over the tenant's, field by field."""

REUSABLE = "Reusable"
ONE_TIME_USE = "OneTimeUse"
DEFAULT_ACCESS_TOKEN_TTL = 3600
DEFAULT_REFRESH_TTL_MINUTES = 43200


def jwt_setting(application, name, default):
    app_jwt = application.config.get("jwtConfiguration", {}) if application else {}
    if app_jwt.get("enabled") and app_jwt.get(name) is not None:
        return app_jwt[name]
    tenant = application.tenant if application else None
    tenant_jwt = tenant.config.get("jwtConfiguration", {}) if tenant else {}
    value = tenant_jwt.get(name)
    return default if value is None else value


def access_token_ttl(application):
    """jwtConfiguration.timeToLiveInSeconds (FusionAuth's default is an hour)."""
    try:
        return max(
            1, int(jwt_setting(application, "timeToLiveInSeconds", DEFAULT_ACCESS_TOKEN_TTL))
        )
    except (TypeError, ValueError):
        return DEFAULT_ACCESS_TOKEN_TTL


def refresh_policy(application):
    """jwtConfiguration.refreshTokenUsagePolicy: Reusable (default) or OneTimeUse (rotation)."""
    policy = jwt_setting(application, "refreshTokenUsagePolicy", REUSABLE)
    return ONE_TIME_USE if policy == ONE_TIME_USE else REUSABLE


def oauth_setting(application, name, default=None):
    value = application.config.get("oauthConfiguration", {}).get(name)
    return default if value is None else value


def issuer():
    """The issuer is always the IdP's own base URL (DEVIDP_URL), whatever the tenant says."""
    from django.conf import settings

    return settings.DEVIDP["URL"]
