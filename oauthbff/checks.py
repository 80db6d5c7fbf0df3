"""System checks: a misconfiguration is one clear line at start-up, not a traceback at sign-in."""

from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.checks import Error, Tags, Warning, register
from django.core.exceptions import FieldDoesNotExist
from django.urls import NoReverseMatch, reverse
from django.utils.module_loading import import_string

from oauthbff.backends import OIDCBackend
from oauthbff.conf import oauthbff_settings
from oauthbff.crypto import configured_keys
from oauthbff.debug import SafeExceptionReporterFilter
from oauthbff.jwt import FORBIDDEN_ALGORITHMS
from oauthbff.keys import KeyFileError, key_paths, load_keys
from oauthbff.middleware import TokenRefreshMiddleware
from oauthbff.par import PAR_MODES, par_mode
from oauthbff.provider import read_discovery
from oauthbff.roles import RolesMapper
from oauthbff.upstreams import as_list, resource_problem, upstream_problem

TOKEN_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt")
FAPI2_ALGORITHMS = {"PS256", "ES256"}
COOKIE_ENGINES = ("django.contrib.sessions.backends.signed_cookies",)
MIDDLEWARE_PATH = "oauthbff.middleware.TokenRefreshMiddleware"
BACKEND_PATH = "oauthbff.backends.OIDCBackend"
FILTER_PATH = "oauthbff.debug.SafeExceptionReporterFilter"
AUTH_MIDDLEWARE_PATH = "django.contrib.auth.middleware.AuthenticationMiddleware"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _imported(path):
    """The class at a dotted path, or None when it cannot be imported."""
    try:
        return import_string(path)
    except ImportError:
        return None


def _index_of_subclass(paths, base):
    """The position of the first entry of ``paths`` naming ``base`` or a subclass, or None."""
    for index, path in enumerate(paths):
        cls = _imported(path) if isinstance(path, str) else None
        if isinstance(cls, type) and issubclass(cls, base):
            return index
    return None


def _error(msg, n, hint=None):
    return Error(msg, hint=hint, id=f"oauthbff.E{n:03d}")


@register(Tags.security, deploy=False)
def check_session_engine(app_configs, **kwargs):
    engine = getattr(settings, "SESSION_ENGINE", "")
    if engine in COOKIE_ENGINES or "cookie" in engine.rsplit(".", 1)[-1]:
        return [
            _error(
                f"SESSION_ENGINE {engine!r} stores sessions in the browser; oauthbff keeps tokens "
                "in the session and needs a server-side engine (db or cached_db).",
                1,
            )
        ]
    return []


@register()
def check_oauthbff_settings(app_configs, **kwargs):
    errors = []
    issuer = oauthbff_settings.ISSUER
    parts = urlsplit(issuer) if issuer else None
    if not issuer:
        errors.append(_error("OAUTHBFF['ISSUER'] (OIDC_ISSUER) is not set.", 2))
    elif parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        errors.append(_error(f"OAUTHBFF['ISSUER'] {issuer!r} is not an http(s) URL.", 3))
    elif parts.scheme == "http" and not settings.DEBUG and parts.hostname not in LOOPBACK:
        errors.append(_error("OAUTHBFF['ISSUER'] must use https when DEBUG is off.", 4))
    if not oauthbff_settings.CLIENT_ID:
        errors.append(_error("OAUTHBFF['CLIENT_ID'] (OIDC_CLIENT_ID) is not set.", 5))
    method = oauthbff_settings.TOKEN_AUTH_METHOD
    if method != "private_key_jwt" and not oauthbff_settings.CLIENT_SECRET:
        errors.append(_error("OAUTHBFF['CLIENT_SECRET'] (OIDC_CLIENT_SECRET) is not set.", 6))
    if method not in TOKEN_AUTH_METHODS:
        errors.append(
            _error(
                f"OAUTHBFF['TOKEN_AUTH_METHOD'] {method!r} must be client_secret_basic, "
                "client_secret_post or private_key_jwt.",
                7,
            )
        )
    algorithms = list(oauthbff_settings.ALLOWED_ALGORITHMS or [])
    bad = sorted(set(algorithms) & FORBIDDEN_ALGORITHMS)
    if bad:
        errors.append(
            _error(
                f"OAUTHBFF['ALLOWED_ALGORITHMS'] must not contain {', '.join(bad)} (unsigned or "
                "HMAC tokens).",
                8,
            )
        )
    if not [a for a in algorithms if a not in FORBIDDEN_ALGORITHMS]:
        errors.append(_error("OAUTHBFF['ALLOWED_ALGORITHMS'] allows no signing algorithm.", 9))
    scopes = str(oauthbff_settings.SCOPES).split()
    if "openid" not in scopes:
        errors.append(_error("OAUTHBFF['SCOPES'] must include 'openid'.", 10))
    if "offline_access" not in scopes:
        errors.append(
            Warning(
                "OAUTHBFF['SCOPES'] lacks 'offline_access': no refresh token, sessions end when "
                "the first access token expires.",
                id="oauthbff.W001",
            )
        )
    errors.extend(_check_resources())
    if int(oauthbff_settings.REFRESH_LEEWAY) < 0:
        errors.append(_error("OAUTHBFF['REFRESH_LEEWAY'] must not be negative.", 11))
    superuser_roles = set(oauthbff_settings.SUPERUSER_ROLES) - set(oauthbff_settings.STAFF_ROLES)
    if superuser_roles:
        errors.append(
            Warning(
                f"OAUTHBFF['SUPERUSER_ROLES'] {sorted(superuser_roles)} are not in STAFF_ROLES; "
                "they are made staff anyway.",
                id="oauthbff.W002",
            )
        )
    try:
        for key in configured_keys():
            Fernet(key)
    except (ValueError, TypeError):
        errors.append(
            _error(
                "OAUTHBFF['TOKEN_ENCRYPTION_KEY'] (OIDC_TOKEN_ENCRYPTION_KEY) is not a "
                "comma-separated list of Fernet keys.",
                12,
            )
        )
    # Subclasses count, as in django.contrib.auth's own checks: a project overrides the hooks.
    if _index_of_subclass(settings.AUTHENTICATION_BACKENDS, OIDCBackend) is None:
        errors.append(
            _error(f"AUTHENTICATION_BACKENDS must include {BACKEND_PATH!r} or a subclass.", 13)
        )
    middleware = list(settings.MIDDLEWARE)
    position = _index_of_subclass(middleware, TokenRefreshMiddleware)
    if position is None:
        errors.append(_error(f"MIDDLEWARE must include {MIDDLEWARE_PATH!r} or a subclass.", 14))
    elif AUTH_MIDDLEWARE_PATH in middleware and position < middleware.index(AUTH_MIDDLEWARE_PATH):
        errors.append(_error(f"{MIDDLEWARE_PATH!r} must come after AuthenticationMiddleware.", 15))
    mapper = _roles_mapper()
    if not (isinstance(mapper, type) and issubclass(mapper, RolesMapper)):
        errors.append(
            _error(
                f"OAUTHBFF['ROLES_MAPPER'] {oauthbff_settings.user_settings.get('ROLES_MAPPER')!r} "
                "is not oauthbff.roles.RolesMapper or a subclass.",
                17,
            )
        )
    errors.extend(_check_select_related())
    errors.extend(_check_exception_reporter_filter())
    errors.extend(_check_url_lists())
    return errors


def _check_resources():
    """RESOURCE: RFC 8707 §2 resource indicators, each an absolute URI without a fragment (the
    provider would refuse the whole sign-in with invalid_target)."""
    value = oauthbff_settings.RESOURCE
    if value and not isinstance(value, str | list | tuple):
        return [_error("OAUTHBFF['RESOURCE'] (OIDC_RESOURCE) must be a URI or a list of URIs.", 43)]
    return [
        _error(
            f"OAUTHBFF['RESOURCE'] (OIDC_RESOURCE) {uri!r} {problem}; a resource indicator is an "
            "absolute URI without a fragment (RFC 8707 §2).",
            43,
        )
        for uri in as_list(value)
        if (problem := resource_problem(uri))
    ]


def _check_url_lists():
    """EXEMPT_URLS and JSON_PATH_PREFIXES are lists; an exempt URL name must exist in the URL conf
    (a typo would leave the view behind the refresh middleware without a word)."""
    messages = []
    for name in ("EXEMPT_URLS", "JSON_PATH_PREFIXES"):
        value = getattr(oauthbff_settings, name)
        if isinstance(value, str) or not all(isinstance(item, str) for item in value):
            messages.append(_error(f"OAUTHBFF[{name!r}] must be a list of strings.", 18))
    if messages:
        return messages
    for name in oauthbff_settings.EXEMPT_URLS:
        if name.startswith("/"):
            continue
        try:
            reverse(name)
        except NoReverseMatch:
            messages.append(
                Warning(
                    f"OAUTHBFF['EXEMPT_URLS'] names {name!r}, which is no URL name here (or needs "
                    "arguments); write a path starting with '/' for those.",
                    id="oauthbff.W003",
                )
            )
    return messages


@register()
def check_sender_constraints(app_configs, **kwargs):
    """PAR, private_key_jwt, DPoP and the FAPI 2.0 profile: what can be told without the provider."""
    errors = []
    method = oauthbff_settings.TOKEN_AUTH_METHOD
    if par_mode() not in PAR_MODES:
        errors.append(
            _error(
                f"OAUTHBFF['PAR'] (OIDC_PAR) {oauthbff_settings.PAR!r} must be auto, true or false.",
                31,
            )
        )
    paths = key_paths(oauthbff_settings.CLIENT_PRIVATE_KEY_FILE)
    if method == "private_key_jwt" and not paths:
        errors.append(
            _error(
                "OAUTHBFF['TOKEN_AUTH_METHOD'] is private_key_jwt but no CLIENT_PRIVATE_KEY_FILE "
                "(OIDC_CLIENT_PRIVATE_KEY_FILE) is set.",
                32,
            )
        )
    elif paths:
        try:
            load_keys(paths)
        except KeyFileError as exc:
            errors.append(_error(f"OAUTHBFF['CLIENT_PRIVATE_KEY_FILE']: {exc}", 33))
    profile = str(oauthbff_settings.PROFILE or "").lower()
    if profile not in ("", "fapi2"):
        errors.append(
            _error(f"OAUTHBFF['PROFILE'] (OIDC_PROFILE) {profile!r} must be fapi2 or empty.", 34)
        )
    if profile == "fapi2":
        if method != "private_key_jwt":
            errors.append(
                _error(
                    f"The FAPI 2.0 profile needs TOKEN_AUTH_METHOD private_key_jwt, not {method!r} "
                    "(no client secrets).",
                    35,
                )
            )
        if not oauthbff_settings.DPOP:
            errors.append(_error("The FAPI 2.0 profile needs DPOP (OIDC_DPOP=true).", 36))
        if not oauthbff_settings.USE_PKCE:
            errors.append(_error("The FAPI 2.0 profile needs PKCE (USE_PKCE).", 37))
        others = sorted(set(oauthbff_settings.ALLOWED_ALGORITHMS or []) - FAPI2_ALGORITHMS)
        if others:
            errors.append(
                _error(
                    f"The FAPI 2.0 profile allows only PS256 and ES256; ALLOWED_ALGORITHMS also has "
                    f"{', '.join(others)}.",
                    38,
                )
            )
    return errors


@register()
def check_discovery(app_configs, **kwargs):
    """What the provider announces against what is configured: the issuer to the character (a
    token's ``iss`` is compared with it exactly, so a missing or extra "/" would refuse every
    sign-in), PAR when it is required, and what the FAPI 2.0 profile needs.

    A provider that cannot be reached now is not an error here (it may start later); the sign-in
    page then says it is unavailable.
    """
    issuer = oauthbff_settings.ISSUER
    parts = urlsplit(issuer) if isinstance(issuer, str) and issuer else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        return []
    metadata = read_discovery(issuer, timeout=min(float(oauthbff_settings.HTTP_TIMEOUT), 3.0))
    announced = metadata.get("issuer") if metadata else None
    if not isinstance(announced, str):
        return []
    if announced != issuer:
        return [
            _error(
                f"OAUTHBFF['ISSUER'] (OIDC_ISSUER) {issuer!r} differs from the issuer "
                f"{announced[:200]!r} that the provider's discovery document announces; set it "
                "exactly as announced.",
                30,
            )
        ]
    errors = []
    profile = str(oauthbff_settings.PROFILE or "").lower()
    if par_mode() == "true" and not metadata.get("pushed_authorization_request_endpoint"):
        errors.append(
            _error(
                "PAR is required (OIDC_PAR=true or the FAPI 2.0 profile) but the provider's "
                "discovery names no pushed_authorization_request_endpoint.",
                39,
            )
        )
    dpop_algs = metadata.get("dpop_signing_alg_values_supported") or []
    if (oauthbff_settings.DPOP or profile == "fapi2") and "ES256" not in dpop_algs:
        errors.append(
            _error(
                "DPoP is on (OIDC_DPOP or the FAPI 2.0 profile) but the provider's discovery does "
                "not announce DPoP with ES256 (dpop_signing_alg_values_supported).",
                40,
            )
        )
    methods = metadata.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    method = oauthbff_settings.TOKEN_AUTH_METHOD
    if method not in methods:
        errors.append(
            _error(
                f"The provider's discovery does not offer TOKEN_AUTH_METHOD {method!r} "
                f"(token_endpoint_auth_methods_supported: {', '.join(map(str, methods))[:200]}).",
                41,
            )
        )
    if profile == "fapi2" and not metadata.get("authorization_response_iss_parameter_supported"):
        errors.append(
            _error(
                "The FAPI 2.0 profile needs the RFC 9207 iss parameter, which the provider's "
                "discovery does not announce (authorization_response_iss_parameter_supported).",
                42,
            )
        )
    return errors


def _check_exception_reporter_filter():
    """Django's own filter shows every local of every frame while DEBUG is on: tokens included."""
    path = settings.DEFAULT_EXCEPTION_REPORTER_FILTER
    cls = _imported(path) if isinstance(path, str) else path
    if isinstance(cls, type) and issubclass(cls, SafeExceptionReporterFilter):
        return []
    return [
        Warning(
            f"DEFAULT_EXCEPTION_REPORTER_FILTER {path!r} is not oauthbff's: debug pages and error "
            "reports may show access, refresh and ID tokens.",
            hint=f"Set it to {FILTER_PATH!r} (or a subclass).",
            id="oauthbff.W020",
        )
    ]


def _check_select_related():
    """Every USER_SELECT_RELATED name must be a single-valued relation of the user model; otherwise
    each request would fail when loading its user."""
    user_model = get_user_model()
    for name in oauthbff_settings.USER_SELECT_RELATED or []:
        try:
            field = user_model._meta.get_field(name)
        except FieldDoesNotExist:
            field = None
        if field is None or not (field.one_to_one or field.many_to_one):
            return [
                _error(
                    f"OAUTHBFF['USER_SELECT_RELATED'] names {name!r}, which is not a one-to-one "
                    f"or foreign-key relation of {user_model._meta.label}.",
                    16,
                )
            ]
    return []


def _roles_mapper():
    try:
        return oauthbff_settings.ROLES_MAPPER
    except ImportError:
        return None


# Caches that are not shared between processes: each process would have its own refresh lock
# (two processes race one rotating refresh token) and its own replay caches (a logout token or a
# state used in one process is fresh in the next).
PER_PROCESS_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)


@register(Tags.security, Tags.caches, deploy=True)
def check_shared_cache(app_configs=None, **kwargs):
    """Production runs several processes: the refresh lock and the replay caches must be shared."""
    backend = settings.CACHES.get("default", {}).get("BACKEND", "")
    cls = _imported(backend) if isinstance(backend, str) else None
    per_process = [c for c in map(_imported, PER_PROCESS_CACHES) if c is not None]
    if isinstance(cls, type) and issubclass(cls, tuple(per_process)):
        return [
            _error(
                f"CACHES['default'] is {backend.rsplit('.', 1)[-1]}, which each process keeps to "
                "itself: the refresh lock and the replay caches would not hold across processes.",
                20,
                hint="Use a shared cache: Redis (REDIS_URL) or Memcached.",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def check_token_encryption_key(app_configs=None, **kwargs):
    """Tokens at rest are encrypted with a key derived from SECRET_KEY unless a key of their own is
    set: then whoever learns SECRET_KEY also reads every stored refresh token."""
    if configured_keys():
        return []
    return [
        Warning(
            "OAUTHBFF['TOKEN_ENCRYPTION_KEY'] (OIDC_TOKEN_ENCRYPTION_KEY) is not set: stored "
            "tokens are encrypted with a key derived from SECRET_KEY.",
            hint="Set a Fernet key of its own (cryptography.fernet.Fernet.generate_key()).",
            id="oauthbff.W021",
        )
    ]


@register()
def check_upstreams(app_configs=None, **kwargs):
    """Every UPSTREAMS entry is usable; tokens go to remote hosts only over HTTPS."""
    messages = []
    for name, entry in (oauthbff_settings.UPSTREAMS or {}).items():
        url = entry.get("url") if isinstance(entry, dict) else entry
        problem = upstream_problem(name, entry)
        if problem:
            messages.append(
                Error(
                    f"The upstream {name!r} in OAUTHBFF['UPSTREAMS'] {problem}; the proxy cannot "
                    "use it.",
                    hint="Write it as {'name': 'https://api.example.com/base'}.",
                    id="oauthbff.E201",
                )
            )
        elif urlsplit(url).scheme == "http" and urlsplit(url).hostname not in LOOPBACK:
            messages.append(
                Warning(
                    f"The upstream {name!r} is plain http: users' access tokens would cross the "
                    "network unencrypted.",
                    hint="Use an https:// base URL.",
                    id="oauthbff.W201",
                )
            )
    return messages
