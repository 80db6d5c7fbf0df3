"""One settings object for oauthbff, read from ``settings.OAUTHBFF``.

Like django-oauth-toolkit's ``oauth2_settings``: it knows the defaults and reloads when the setting
changes, so ``override_settings`` and pytest-django's ``settings`` fixture just work.
"""

from django.conf import settings
from django.core.signals import setting_changed

DEFAULTS = {
    "ISSUER": "",
    "CLIENT_ID": "",
    "CLIENT_SECRET": "",
    "SCOPES": "openid profile email offline_access",
    "TOKEN_AUTH_METHOD": "client_secret_basic",
    "ALLOWED_ALGORITHMS": ["RS256", "ES256", "PS256"],
    "API_AUDIENCE": [],
    "STAFF_ROLES": ["admin"],
    "SUPERUSER_ROLES": ["admin"],
    # Where the roles are in the access token / userinfo: a dotted path (Keycloak:
    # "realm_access.roles").
    "ROLES_CLAIM": "roles",
    "TOKEN_ENCRYPTION_KEY": "",
    "HTTP_TIMEOUT": 5.0,
    "REFRESH_LEEWAY": 30,
    "POST_LOGOUT_REDIRECT_URL": "",
    "INTROSPECT_OPAQUE_TOKENS": False,
    "UPSTREAMS": {},
    # Seconds a discovery document / JWKS stays cached, and the minimum gap between two JWKS
    # refetches triggered by an unknown ``kid``.
    "DISCOVERY_CACHE_SECONDS": 3600,
    "JWKS_CACHE_SECONDS": 3600,
    "JWKS_MIN_REFETCH_SECONDS": 60,
    # Seconds of clock skew accepted on exp / iat / nbf.
    "CLOCK_SKEW": 60,
    # Seconds a pending sign-in (state, nonce, PKCE verifier) stays valid.
    "STATE_MAX_AGE": 600,
    # Refresh single-flight: how long the lock lives, and how long a waiter polls for the result.
    "REFRESH_LOCK_SECONDS": 30,
    "REFRESH_WAIT_SECONDS": 15,
    # How often (seconds) a session's "last used" time is written.
    "TOUCH_INTERVAL": 60,
    "USE_PKCE": True,
    "USE_NONCE": True,
    # Create a Django user on first sign-in.
    "CREATE_USERS": True,
    # One-to-one relations of the user model loaded with the user on every request (one query
    # instead of one more per relation), e.g. ["userdata"] for the page that shows the mirror.
    "USER_SELECT_RELATED": [],
}


class BffSettings:
    """Attribute access to OAUTHBFF with defaults; ``reload()`` drops the cached values."""

    def __init__(self, defaults):
        self.defaults = defaults
        self._cached = set()

    @property
    def user_settings(self):
        return getattr(settings, "OAUTHBFF", {}) or {}

    def __getattr__(self, name):
        if name not in self.defaults:
            raise AttributeError(f"Invalid oauthbff setting: {name!r}")
        value = self.user_settings.get(name, self.defaults[name])
        self._cached.add(name)
        setattr(self, name, value)
        return value

    def reload(self):
        for name in self._cached:
            delattr(self, name)
        self._cached.clear()


bff_settings = BffSettings(DEFAULTS)


def _reload_settings(*, setting, **kwargs):
    if setting in ("OAUTHBFF", "SECRET_KEY"):
        bff_settings.reload()
        from oauthbff import provider, tokens

        provider.reset_providers()
        tokens.reset_fernet()


setting_changed.connect(_reload_settings, dispatch_uid="oauthbff.conf.reload")
