"""oauthbff's settings: one object, ``oauthbff_settings``, read from the project's ``OAUTHBFF`` dict.

In the style of django-oauth-toolkit's ``oauth2_settings``: every key is listed here with its default
and what it is for; class-valued settings are dotted paths, imported on first use; the object
forgets what it read when ``OAUTHBFF`` changes (``override_settings``, pytest-django's ``settings``).
This module imports nothing else of oauthbff, so every other module may read it.
"""

from django.conf import settings
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

SETTINGS_NAME = "OAUTHBFF"

DEFAULTS = {
    # --- the provider and this client ---------------------------------------------------------
    # The issuer URL; the provider's endpoints and keys are found by discovery from it.
    "ISSUER": "",
    # This client's registration at the provider.
    "CLIENT_ID": "",
    "CLIENT_SECRET": "",
    # Scopes asked for at sign-in; offline_access brings the refresh token.
    "SCOPES": "openid profile email offline_access",
    # How this client authenticates to the token, PAR, revocation and introspection endpoints:
    # "client_secret_basic", "client_secret_post" or "private_key_jwt" (RFC 7523).
    "TOKEN_AUTH_METHOD": "client_secret_basic",
    # private_key_jwt: PEM file(s) with this client's private key(s) (RSA signs PS256, EC P-256
    # ES256), comma-separated or a list; the first signs, all are published at /auth/jwks.json.
    "CLIENT_PRIVATE_KEY_FILE": "",
    # "fapi2": the FAPI 2.0 Security Profile (PAR, PKCE, DPoP, private_key_jwt, PS256/ES256 and
    # the RFC 9207 iss parameter all required), checked at start-up; empty: no profile.
    "PROFILE": "",
    # Signature algorithms accepted on ID, access and logout tokens ("none" and HMAC never are).
    "ALLOWED_ALGORITHMS": ["RS256", "ES256", "PS256"],
    # Seconds (or a (connect, read) pair) every call to the provider may take.
    "HTTP_TIMEOUT": 5.0,
    # A function (dotted path) returning extra headers for every outbound call, e.g. the current
    # request's id, so the provider's and upstreams' logs can be matched with ours; None: none.
    "OUTBOUND_HEADERS": None,
    # Seconds a discovery document / JWKS stays cached, and the minimum gap between two JWKS
    # refetches triggered by an unknown ``kid``.
    "DISCOVERY_CACHE_SECONDS": 3600,
    "JWKS_CACHE_SECONDS": 3600,
    "JWKS_MIN_REFETCH_SECONDS": 60,
    # Seconds a provider that failed to answer (network error, 5xx) counts as down: the browser is
    # shown "sign-in unavailable" instead of being sent to it. One that answered counts as up as
    # long (no probe before sending the browser there).
    "PROVIDER_DOWN_SECONDS": 30,
    # Seconds of clock skew accepted on exp / iat / nbf.
    "CLOCK_SKEW": 60,
    # --- sign-in --------------------------------------------------------------------------------
    # Seconds a pending sign-in (state, nonce, PKCE verifier) stays valid.
    "STATE_MAX_AGE": 600,
    "USE_PKCE": True,
    "USE_NONCE": True,
    # The API the access token is for, as Auth0's "audience" authorization parameter (its access
    # token is otherwise opaque and good only for userinfo); empty: none sent.
    "AUDIENCE": "",
    # Resource indicators (RFC 8707) the access token is for: absolute URIs, a list or
    # comma-separated, sent as ``resource`` in the authorization request (and its push) and the
    # code exchange; empty: none sent. Upstreams with a resource of their own add theirs to the
    # authorization request (see UPSTREAMS).
    "RESOURCE": [],
    # Pushed authorization requests (RFC 9126): "auto" pushes whenever the provider offers them,
    # "true" requires them (no sign-in without), "false" never pushes.
    "PAR": "auto",
    # DPoP (RFC 9449): each session's tokens bound to a key pair of its own, with a proof on every
    # call that uses them.
    "DPOP": False,
    # Create a Django user on a first sign-in (otherwise only known identities may sign in).
    "CREATE_USERS": True,
    # One-to-one relations of the user model loaded with the user on every request (one query
    # instead of one more per relation), e.g. ["userdata"] for a page that shows the mirror.
    "USER_SELECT_RELATED": [],
    # --- roles ----------------------------------------------------------------------------------
    # Where the roles are in the access token, userinfo or ID token: a dotted path (Keycloak:
    # "realm_access.roles").
    "ROLES_CLAIM": "roles",
    # Roles that make a user staff, and superuser (superuser roles make staff too).
    "STAFF_ROLES": ["admin"],
    "SUPERUSER_ROLES": ["admin"],
    # The class that reads roles from claims and applies them to a user (dotted path); subclass
    # oauthbff.roles.RolesMapper to read them another way.
    "ROLES_MAPPER": "oauthbff.roles.RolesMapper",
    # --- the token set --------------------------------------------------------------------------
    # Fernet keys (comma-separated or a list, newest first) for tokens at rest; empty: keys
    # derived from SECRET_KEY and SECRET_KEY_FALLBACKS.
    "TOKEN_ENCRYPTION_KEY": "",
    # Seconds before expiry at which an access token is refreshed (at most half the lifetime the
    # provider issued it for).
    "REFRESH_LEEWAY": 30,
    # Refresh single-flight: how long the lock lives, and how long a waiter polls for the result.
    "REFRESH_LOCK_SECONDS": 30,
    "REFRESH_WAIT_SECONDS": 15,
    # How often (seconds) a session's "last used" time is written.
    "TOUCH_INTERVAL": 60,
    # URL names (or paths) the refresh middleware leaves alone, besides oauthbff's own callback,
    # logout and back-channel logout and the static files (like mozilla-django-oidc's
    # OIDC_EXEMPT_URLS).
    "EXEMPT_URLS": [],
    # Path prefixes whose callers get JSON (a 401) instead of a redirect when the session ended;
    # oauthbff's own JSON views are always treated so.
    "JSON_PATH_PREFIXES": ["/api/"],
    # --- signing out ----------------------------------------------------------------------------
    # Seconds after its ``iat`` a back-channel logout token is still accepted (besides its ``exp``);
    # its ``jti`` is remembered as long, so a replay is refused.
    "LOGOUT_TOKEN_MAX_AGE": 300,
    # Send the ID token as id_token_hint in the sign-out redirect (it passes through the browser):
    # only for a provider that otherwise asks the user to confirm (Keycloak). Off: client_id and
    # logout_hint (the provider's sid) are sent instead.
    "LOGOUT_ID_TOKEN_HINT": False,
    # Where the browser lands after signing out (a URL, path or URL name); empty: "/".
    "POST_LOGOUT_REDIRECT_URL": "",
    # --- protecting APIs ------------------------------------------------------------------------
    # Audiences an API's bearer token may name; empty: this client's own id.
    "API_AUDIENCE": [],
    # Check opaque (non-JWT) bearer tokens by introspection (RFC 7662), one round trip each.
    "INTROSPECT_OPAQUE_TOKENS": False,
    # A cookie that may carry an access token for the APIs (e.g. "app.at"); empty: none.
    "ACCESS_TOKEN_COOKIE": "",
    # --- calling downstream APIs ----------------------------------------------------------------
    # The allowlist {name: base URL} of APIs called with the user's token (client and proxy). An
    # entry may be {"url": base URL, "resource": ..., "audience": ..., "scope": ...}: that API
    # then gets a token minted for it (refresh grant), never the session's main token.
    "UPSTREAMS": {},
    # (connect, read) seconds for calls to downstream APIs.
    "UPSTREAM_TIMEOUT": (3.05, 15.0),
    # The proxy's limits on what it forwards, in bytes.
    "PROXY_MAX_REQUEST_BYTES": 1024 * 1024,
    "PROXY_MAX_RESPONSE_BYTES": 10 * 1024 * 1024,
}

# Settings holding a dotted path: read as the object it names.
IMPORT_STRINGS = ("ROLES_MAPPER", "OUTBOUND_HEADERS")


class OAuthBFFSettings:
    """Attribute access to ``OAUTHBFF`` with the defaults above; ``reload()`` forgets what was read."""

    def __init__(self, defaults, import_strings=()):
        self.defaults = defaults
        self.import_strings = import_strings
        self._cached = set()

    @property
    def user_settings(self):
        return getattr(settings, SETTINGS_NAME, None) or {}

    def __getattr__(self, name):
        if name not in self.defaults:
            raise AttributeError(f"Invalid oauthbff setting: {name!r}")
        value = self.user_settings.get(name, self.defaults[name])
        if name in self.import_strings and isinstance(value, str):
            value = import_string(value)
        self._cached.add(name)
        setattr(self, name, value)
        return value

    def reload(self):
        for name in self._cached:
            delattr(self, name)
        self._cached.clear()


oauthbff_settings = OAuthBFFSettings(DEFAULTS, IMPORT_STRINGS)


def reload_settings(*, setting, **kwargs):
    if setting == SETTINGS_NAME:
        oauthbff_settings.reload()


setting_changed.connect(reload_settings, dispatch_uid="oauthbff.conf.reload_settings")
