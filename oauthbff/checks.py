"""System checks: a misconfiguration is one clear line at start-up, not a traceback at sign-in."""

from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.checks import Error, Tags, Warning, register
from django.core.exceptions import FieldDoesNotExist

from oauthbff.conf import bff_settings
from oauthbff.provider import FORBIDDEN_ALGORITHMS, announced_issuer

COOKIE_ENGINES = ("django.contrib.sessions.backends.signed_cookies",)
MIDDLEWARE_PATH = "oauthbff.middleware.TokenRefreshMiddleware"
BACKEND_PATH = "oauthbff.backends.OIDCBackend"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


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
    issuer = bff_settings.ISSUER
    parts = urlsplit(issuer) if issuer else None
    if not issuer:
        errors.append(_error("OAUTHBFF['ISSUER'] (OIDC_ISSUER) is not set.", 2))
    elif parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        errors.append(_error(f"OAUTHBFF['ISSUER'] {issuer!r} is not an http(s) URL.", 3))
    elif parts.scheme == "http" and not settings.DEBUG and parts.hostname not in LOOPBACK:
        errors.append(_error("OAUTHBFF['ISSUER'] must use https when DEBUG is off.", 4))
    if not bff_settings.CLIENT_ID:
        errors.append(_error("OAUTHBFF['CLIENT_ID'] (OIDC_CLIENT_ID) is not set.", 5))
    if not bff_settings.CLIENT_SECRET:
        errors.append(_error("OAUTHBFF['CLIENT_SECRET'] (OIDC_CLIENT_SECRET) is not set.", 6))
    method = bff_settings.TOKEN_AUTH_METHOD
    if method not in ("client_secret_basic", "client_secret_post"):
        errors.append(
            _error(
                f"OAUTHBFF['TOKEN_AUTH_METHOD'] {method!r} must be client_secret_basic or "
                "client_secret_post.",
                7,
            )
        )
    algorithms = list(bff_settings.ALLOWED_ALGORITHMS or [])
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
    scopes = str(bff_settings.SCOPES).split()
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
    if int(bff_settings.REFRESH_LEEWAY) < 0:
        errors.append(_error("OAUTHBFF['REFRESH_LEEWAY'] must not be negative.", 11))
    superuser_roles = set(bff_settings.SUPERUSER_ROLES) - set(bff_settings.STAFF_ROLES)
    if superuser_roles:
        errors.append(
            Warning(
                f"OAUTHBFF['SUPERUSER_ROLES'] {sorted(superuser_roles)} are not in STAFF_ROLES; "
                "they are made staff anyway.",
                id="oauthbff.W002",
            )
        )
    key = bff_settings.TOKEN_ENCRYPTION_KEY
    if key:
        keys = key if isinstance(key, list | tuple) else str(key).split(",")
        try:
            for k in keys:
                Fernet(k.strip())
        except (ValueError, TypeError):
            errors.append(
                _error(
                    "OAUTHBFF['TOKEN_ENCRYPTION_KEY'] (OIDC_TOKEN_ENCRYPTION_KEY) is not a "
                    "comma-separated list of Fernet keys.",
                    12,
                )
            )
    if BACKEND_PATH not in settings.AUTHENTICATION_BACKENDS:
        errors.append(_error(f"AUTHENTICATION_BACKENDS must include {BACKEND_PATH!r}.", 13))
    middleware = list(settings.MIDDLEWARE)
    auth_mw = "django.contrib.auth.middleware.AuthenticationMiddleware"
    if MIDDLEWARE_PATH not in middleware:
        errors.append(_error(f"MIDDLEWARE must include {MIDDLEWARE_PATH!r}.", 14))
    elif auth_mw in middleware and middleware.index(MIDDLEWARE_PATH) < middleware.index(auth_mw):
        errors.append(_error(f"{MIDDLEWARE_PATH!r} must come after AuthenticationMiddleware.", 15))
    errors.extend(_check_select_related())
    return errors


@register()
def check_discovery_issuer(app_configs, **kwargs):
    """The configured issuer must be the one discovery announces, to the character: a token's
    ``iss`` is compared with it exactly, so a missing or extra "/" would refuse every sign-in.

    A provider that cannot be reached now is not an error here (it may start later); the sign-in
    page then says it is unavailable.
    """
    issuer = bff_settings.ISSUER
    parts = urlsplit(issuer) if isinstance(issuer, str) and issuer else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        return []
    announced = announced_issuer(issuer, timeout=min(float(bff_settings.HTTP_TIMEOUT), 3.0))
    if announced is None or announced == issuer:
        return []
    return [
        _error(
            f"OAUTHBFF['ISSUER'] (OIDC_ISSUER) {issuer!r} differs from the issuer {announced[:200]!r} "
            "that the provider's discovery document announces; set it exactly as announced.",
            30,
        )
    ]


def _check_select_related():
    """Every USER_SELECT_RELATED name must be a single-valued relation of the user model; otherwise
    each request would fail when loading its user."""
    user_model = get_user_model()
    for name in bff_settings.USER_SELECT_RELATED or []:
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
