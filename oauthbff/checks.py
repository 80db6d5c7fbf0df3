"""System checks: a misconfiguration is one clear line at start-up, not a traceback at sign-in."""

from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.checks import Error, Tags, Warning, register
from django.core.exceptions import FieldDoesNotExist
from django.utils.module_loading import import_string

from oauthbff.backends import OIDCBackend
from oauthbff.client import upstream_problem
from oauthbff.conf import oauthbff_settings
from oauthbff.crypto import configured_keys
from oauthbff.debug import SafeExceptionReporterFilter
from oauthbff.jwt import FORBIDDEN_ALGORITHMS
from oauthbff.middleware import TokenRefreshMiddleware
from oauthbff.roles import RolesMapper

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
    if not oauthbff_settings.CLIENT_SECRET:
        errors.append(_error("OAUTHBFF['CLIENT_SECRET'] (OIDC_CLIENT_SECRET) is not set.", 6))
    method = oauthbff_settings.TOKEN_AUTH_METHOD
    if method not in ("client_secret_basic", "client_secret_post"):
        errors.append(
            _error(
                f"OAUTHBFF['TOKEN_AUTH_METHOD'] {method!r} must be client_secret_basic or "
                "client_secret_post.",
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
            id="oauthbff.W003",
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
                18,
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
            id="oauthbff.W004",
        )
    ]


@register()
def check_upstreams(app_configs=None, **kwargs):
    """Every UPSTREAMS entry is usable; tokens go to remote hosts only over HTTPS."""
    messages = []
    for name, url in (oauthbff_settings.UPSTREAMS or {}).items():
        problem = upstream_problem(name, url)
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
