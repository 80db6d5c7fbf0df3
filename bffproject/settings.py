"""Settings for the BFF, read once from the environment (and an optional .env file).

Every variable is documented in .env.example. With DEBUG on, anything left unset falls back to the
development IdP's demo values (taken from kickstart/kickstart.json, the one source of demo data); with
DEBUG off, the production profile applies and a missing or unsafe value stops start-up with one line.
"""

import json
from pathlib import Path
from urllib.parse import urlsplit

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

# Every problem found while reading the environment; start-up names them all at once (at the end of
# this file) instead of one per run.
_PROBLEMS = []
_MISSING = []


class _Env(environ.Env):
    """django-environ's reader; a value that does not parse (SESSION_COOKIE_AGE=abc) is one more
    problem in the start-up line, not a traceback, and reading goes on with the default."""

    def get_value(self, var, cast=None, default=environ.Env.NOTSET, parse_default=False):
        try:
            return super().get_value(var, cast=cast, default=default, parse_default=parse_default)
        except (ValueError, TypeError):
            kind = {int: "a whole number", float: "a number"}.get(cast, "a valid value")
            _PROBLEMS.append(f"{var} must be {kind}")
            return None if default is environ.Env.NOTSET else default


env = _Env()
_env_file = Path(env.str("ENV_FILE", default=str(BASE_DIR / ".env")))
if _env_file.is_file():
    environ.Env.read_env(_env_file, overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
DEV_SECRET_KEY = "django-insecure-development-key-do-not-use-in-production"


def _kickstart_variables():
    """The demo values the development IdP is seeded with, so dev defaults are never written twice."""
    try:
        return json.loads((BASE_DIR / "kickstart" / "kickstart.json").read_text())["variables"]
    except (OSError, ValueError, KeyError):
        return {}


_KICKSTART = _kickstart_variables()
_DEMO = _KICKSTART if DEBUG else {}
# Secrets that fell back to the public demo values (DEBUG only): a system check warns about them.
DEMO_SECRET_FALLBACKS = []


def _setting(name, demo=None, required=True, secret=False):
    """Read one variable; in production a required variable without a value is recorded as missing."""
    value = env.str(name, default="")
    if not value and DEBUG and demo:
        value = demo
        if secret:
            DEMO_SECRET_FALLBACKS.append(name)
    if required and not value:
        _MISSING.append(name)
    return value


SECRET_KEY = _setting("SECRET_KEY", demo=DEV_SECRET_KEY, secret=True)
if not DEBUG and SECRET_KEY and (SECRET_KEY == DEV_SECRET_KEY or len(SECRET_KEY) < 32):
    _PROBLEMS.append(
        "SECRET_KEY is the development default or shorter than 32 characters: set a random one"
    )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    _MISSING.append("ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "csp",
    "ops",
    "oauthbff",
    "userdata",
    "changebank",
]

MIDDLEWARE = [
    "ops.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "oauthbff.middleware.TokenRefreshMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "bffproject.middleware.MethodNotAllowedPageMiddleware",
]

ROOT_URLCONF = "bffproject.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "changebank.context_processors.site",
            ],
        },
    },
]

WSGI_APPLICATION = "bffproject.wsgi.application"

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # SQLite: wait for a writer instead of failing at once; WAL lets readers run beside it; and
    # IMMEDIATE transactions take the write lock up front, so two writers queue instead of one
    # failing with "database is locked" when it upgrades a read.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL;",
            "transaction_mode": "IMMEDIATE",
        }
    )
    DATABASES["default"]["CONN_MAX_AGE"] = 0
elif DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # A database that does not answer fails a request (and /readyz) in seconds instead of hanging.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=5)
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="bff"),
            "OPTIONS": {"socket_timeout": 2, "socket_connect_timeout": 2},
        }
    }
    # Sessions in the database, read through Redis: fast, and they survive a Redis restart.
    SESSION_ENGINE = "oauthbff.session_store"
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    SESSION_ENGINE = "django.contrib.sessions.backends.db"

AUTH_PASSWORD_VALIDATORS = []
AUTHENTICATION_BACKENDS = ["oauthbff.backends.OIDCBackend"]
LOGIN_URL = "oauthbff:login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Production serves collected files (collectstatic) through WhiteNoise; development serves them from
# the apps' folders directly, so there is nothing to collect.
STATIC_ROOT = env.str("STATIC_ROOT", default="" if DEBUG else str(BASE_DIR / "staticfiles")) or None
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Cookies and transport security. SameSite=Lax (not Strict) because the IdP's redirect back to
# /auth/callback/ is a cross-site navigation that must carry the session cookie.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
# The __Host- prefix makes the browser refuse the cookie unless it is Secure, host-only and for the
# whole site, so a sibling subdomain or a plain-HTTP page cannot plant or shadow it. Browsers only
# accept it on Secure cookies, hence only with the production (HTTPS) defaults.
SESSION_COOKIE_NAME = env.str(
    "SESSION_COOKIE_NAME", default="__Host-bff_session" if SESSION_COOKIE_SECURE else "bff_session"
)
CSRF_COOKIE_NAME = "__Host-bff_csrftoken" if CSRF_COOKIE_SECURE else "bff_csrftoken"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=60 * 60 * 8)
# The page scripts send the token from the form they post (csrfmiddlewaretoken), never read the
# cookie, so no script needs to see it.
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
# People get a page in the product's look that explains the failure and offers the action again.
CSRF_FAILURE_VIEW = "bffproject.errors.csrf_failure"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
# Probes often speak plain HTTP to the instance itself: answer them instead of redirecting to HTTPS.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
if env.bool("USE_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SILENCED_SYSTEM_CHECKS = ["security.W021"] if not SECURE_HSTS_PRELOAD else []

# --- oauthbff: the OpenID Connect relying party --------------------------------------------------
OAUTHBFF = {
    # Every call to the provider and to upstreams carries the request's X-Request-ID.
    "OUTBOUND_HEADERS": "ops.requestid.outbound_headers",
    # Exactly as the provider announces it, trailing "/" included (Auth0's has one).
    "ISSUER": _setting("OIDC_ISSUER", demo=_DEMO.get("issuer")),
    "CLIENT_ID": _setting("OIDC_CLIENT_ID", demo=_DEMO.get("applicationId")),
    # No secret with private_key_jwt: the client's private key authenticates it.
    "CLIENT_SECRET": _setting(
        "OIDC_CLIENT_SECRET",
        demo=_DEMO.get("clientSecret"),
        secret=True,
        required=env.str("OIDC_TOKEN_AUTH_METHOD", default="") != "private_key_jwt",
    ),
    "SCOPES": env.str("OIDC_SCOPES", default="openid profile email offline_access"),
    "TOKEN_AUTH_METHOD": env.str("OIDC_TOKEN_AUTH_METHOD", default="client_secret_basic"),
    "CLIENT_PRIVATE_KEY_FILE": env.list("OIDC_CLIENT_PRIVATE_KEY_FILE", default=[]),
    "AUDIENCE": env.str("OIDC_AUDIENCE", default=""),
    "RESOURCE": env.list("OIDC_RESOURCE", default=[]),
    "PAR": env.str("OIDC_PAR", default="auto"),
    "DPOP": env.bool("OIDC_DPOP", default=False),
    "PROFILE": env.str("OIDC_PROFILE", default=""),
    "ALLOWED_ALGORITHMS": env.list("OIDC_ALLOWED_ALGORITHMS", default=["RS256", "ES256", "PS256"]),
    "API_AUDIENCE": env.list("OIDC_API_AUDIENCE", default=[]),
    "STAFF_ROLES": env.list("OIDC_STAFF_ROLES", default=["admin"]),
    "SUPERUSER_ROLES": env.list("OIDC_SUPERUSER_ROLES", default=["admin"]),
    "ROLES_CLAIM": env.str("OIDC_ROLES_CLAIM", default="roles"),
    "TOKEN_ENCRYPTION_KEY": env.str("OIDC_TOKEN_ENCRYPTION_KEY", default=""),
    "HTTP_TIMEOUT": env.float("OIDC_HTTP_TIMEOUT", default=5.0),
    "REFRESH_LEEWAY": env.int("OIDC_REFRESH_LEEWAY", default=30),
    "POST_LOGOUT_REDIRECT_URL": env.str("OIDC_POST_LOGOUT_REDIRECT_URL", default=""),
    "INTROSPECT_OPAQUE_TOKENS": env.bool("OIDC_INTROSPECT_OPAQUE_TOKENS", default=False),
    "CLOCK_SKEW": env.int("OIDC_CLOCK_SKEW", default=60),
    "JWKS_CACHE_SECONDS": env.int("OIDC_JWKS_CACHE_SECONDS", default=3600),
    "STATE_MAX_AGE": env.int("OIDC_STATE_MAX_AGE", default=600),
    # The home page shows the user's mirror row: load it with the user.
    "USER_SELECT_RELATED": ["userdata"],
    # The ChangeBank seed's front end may send its access token in this cookie.
    "ACCESS_TOKEN_COOKIE": "app.at",
    # DEBUG default: the BFF's own API, so the proxy works out of the box (runserver on :8000).
    "UPSTREAMS": env.dict(
        "BFF_UPSTREAMS", default={"changebank": "http://127.0.0.1:8000/api"} if DEBUG else {}
    ),
}

# --- Browser policies ----------------------------------------------------------------------------
# No inline script or style anywhere: every script and stylesheet is a static file. Forms post to
# this site, whose sign-out redirects to the provider's end-session endpoint (form-action covers
# redirects after a form post), so the issuer's origin is allowed there too.
_issuer_origin = "{0.scheme}://{0.netloc}".format(urlsplit(OAUTHBFF["ISSUER"]))
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [NONE],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF, _issuer_origin] if OAUTHBFF["ISSUER"] else [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [NONE],
        "object-src": [NONE],
    }
}
# Powerful browser features this site never uses are switched off for it and anything it embeds.
PERMISSIONS_POLICY = {
    feature: []
    for feature in (
        "accelerometer",
        "camera",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "payment",
        "usb",
    )
}

# --- userdata: the mirror of the IdP's per-application data --------------------------------------
USERDATA_STORE = env.str("USERDATA_STORE", default="fusionauth")
if USERDATA_STORE not in ("fusionauth", "auth0", "local"):
    _PROBLEMS.append("USERDATA_STORE must be one of fusionauth, auth0, local")
_FA = USERDATA_STORE == "fusionauth"
USERDATA = {
    "STORE": USERDATA_STORE,
    "CONFLICT_POLICY": env.str("USERDATA_CONFLICT_POLICY", default="manual"),
    "MAX_BYTES": env.int("USERDATA_MAX_BYTES", default=64 * 1024),
    "HTTP_TIMEOUT": env.float("USERDATA_HTTP_TIMEOUT", default=5.0),
    "CONNECT_TIMEOUT": env.float("USERDATA_CONNECT_TIMEOUT", default=2.0),
    "RETRIES": env.int("USERDATA_RETRIES", default=2),
    "RETRY_AFTER_MAX": env.float("USERDATA_RETRY_AFTER_MAX", default=30.0),
    "FRESH_SECONDS": env.int("USERDATA_FRESH_SECONDS", default=300),
    "PUSH_BACKOFF_MAX": env.int("USERDATA_PUSH_BACKOFF_MAX", default=300),
    "PUSH_DELAY": env.float("USERDATA_PUSH_DELAY", default=1.0),
    "PUSH_RATE": env.str("USERDATA_PUSH_RATE", default=""),
    "CHUNK_SIZE": env.int("USERDATA_CHUNK_SIZE", default=500),
    "SWEEP_AFTER_SECONDS": env.int("USERDATA_SWEEP_AFTER_SECONDS", default=20),
    "PUSH_LEASE_SECONDS": env.int("USERDATA_PUSH_LEASE_SECONDS", default=60),
    "STALE_SECONDS": env.int("USERDATA_STALE_SECONDS", default=24 * 3600),
    "SEARCH_PAGE_SIZE": env.int("USERDATA_SEARCH_PAGE_SIZE", default=500),
    # Rows a bulk pull or a webhook creates carry the sign-in issuer.
    "ISSUER": OAUTHBFF["ISSUER"],
    "FUSIONAUTH": {
        "API_URL": _setting("FUSIONAUTH_API_URL", demo=_DEMO.get("issuer"), required=_FA).rstrip(
            "/"
        ),
        "API_KEY": _setting(
            "FUSIONAUTH_API_KEY", demo=_DEMO.get("apiKey"), required=_FA, secret=True
        ),
        "APPLICATION_ID": _setting(
            "FUSIONAUTH_APPLICATION_ID", demo=_DEMO.get("applicationId"), required=_FA
        ),
        "TENANT_ID": env.str("FUSIONAUTH_TENANT_ID", default=_DEMO.get("defaultTenantId", "")),
        "WEBHOOK_SECRET": _setting(
            "FUSIONAUTH_WEBHOOK_SECRET", demo=_DEMO.get("webhookSecret"), required=_FA, secret=True
        ),
    },
    "AUTH0": {
        "DOMAIN": _setting("AUTH0_DOMAIN", required=USERDATA_STORE == "auth0"),
        "CLIENT_ID": _setting("AUTH0_MGMT_CLIENT_ID", required=USERDATA_STORE == "auth0"),
        "CLIENT_SECRET": _setting("AUTH0_MGMT_CLIENT_SECRET", required=USERDATA_STORE == "auth0"),
        "AUDIENCE": env.str("AUTH0_MGMT_AUDIENCE", default=""),
        "METADATA_FIELD": env.str("AUTH0_METADATA_FIELD", default="user_metadata"),
    },
}

# --- Celery: the sync work (userdata's push and pull tasks) ---------------------------------------
# Production: Redis (REDIS_URL, or CELERY_BROKER_URL). Embedded default: kombu's filesystem
# transport in var/celery/, a broker that needs no server (one machine only).
CELERY_DATA_DIR = Path(env.str("CELERY_DATA_DIR", default="") or BASE_DIR / "var" / "celery")
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or REDIS_URL or "filesystem://"
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_DATA_DIR / "queue"),
        "data_folder_out": str(CELERY_DATA_DIR / "queue"),
        "processed_folder": str(CELERY_DATA_DIR / "processed"),
        "control_folder": str(CELERY_DATA_DIR / "control"),
        "store_processed": False,
    }
    for _folder in ("queue", "processed", "control"):
        (CELERY_DATA_DIR / _folder).mkdir(parents=True, exist_ok=True)
else:
    # Fail fast when Redis is down: the save is committed and the sweeper pushes it later (a publish
    # still retries the connection for about 2 s; userdata.tasks.publish then skips the broker for
    # a few seconds). No "max_retries" here: it would also cut the worker's own reconnection short.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "socket_connect_timeout": 1,
        "socket_timeout": 5,
        "visibility_timeout": 3600,
    }
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="celery")
CELERY_BROKER_CONNECTION_TIMEOUT = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_PUBLISH_RETRY = False
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fix-up closes the worker's database connection before and after every task unless
# this is set, and each push would then open a new PostgreSQL connection (a server process fork):
# keep connections for this many tasks (CONN_MAX_AGE does not apply to workers).
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(CELERY_DATA_DIR / "beat-schedule")
CELERY_BEAT_SCHEDULE = {
    "userdata-sweep-pending": {
        "task": "userdata.tasks.sweep_pending",
        "schedule": env.float("USERDATA_SWEEP_SECONDS", default=30.0),
    },
    "userdata-prune-webhook-ids": {"task": "userdata.tasks.prune_webhook_ids", "schedule": 3600.0},
    "userdata-pull-stale": {
        "task": "userdata.tasks.pull_stale",
        "schedule": env.float("USERDATA_STALE_SWEEP_SECONDS", default=300.0),
    },
}
# --- Operations --------------------------------------------------------------------------------
# Error pages and reports never show a token, with DEBUG on or off.
DEFAULT_EXCEPTION_REPORTER_FILTER = "oauthbff.debug.SafeExceptionReporterFilter"
# /metrics answers only to "Authorization: Bearer <METRICS_TOKEN>"; unset, it is not served at all.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# Production logs one JSON object per line (for a log shipper); development keeps plain lines.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain" if DEBUG else "json")
if LOG_FORMAT not in ("plain", "json"):
    _PROBLEMS.append("LOG_FORMAT must be plain or json")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "ops.logging.RequestIdFilter"},
        # runserver logs each request line; a failed callback's line would carry its code and state.
        "redact_query": {"()": "ops.logging.RedactQueryFilter", "names": ["code", "state"]},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {
            "()": "ops.logging.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id", "redact_query"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # runserver prints "Watching for file changes" itself; the log line would repeat it.
        "django.utils.autoreload": {"level": "WARNING"},
        "django.server": {
            "level": "WARNING",
            "handlers": ["console"],
            "propagate": False,
            "filters": ["redact_query"],
        },
    },
}


def _loopback(url):
    """True for an issuer on this machine: the development IdP (or the kickstart's FusionAuth)."""
    return (urlsplit(url).hostname or "") in ("127.0.0.1", "localhost", "::1")


# The demo secrets are public (kickstart/kickstart.json): anyone holding them can forge webhooks or
# tokens, so they are only acceptable against a provider on this machine.
_PUBLIC_SECRETS = {
    "SECRET_KEY": (SECRET_KEY, DEV_SECRET_KEY),
    "OIDC_CLIENT_SECRET": (OAUTHBFF["CLIENT_SECRET"], _KICKSTART.get("clientSecret")),
    "FUSIONAUTH_API_KEY": (USERDATA["FUSIONAUTH"]["API_KEY"], _KICKSTART.get("apiKey")),
    "FUSIONAUTH_WEBHOOK_SECRET": (
        USERDATA["FUSIONAUTH"]["WEBHOOK_SECRET"],
        _KICKSTART.get("webhookSecret"),
    ),
}
_demo_in_use = sorted(
    name for name, (value, demo) in _PUBLIC_SECRETS.items() if demo and value == demo
)
if _demo_in_use and OAUTHBFF["ISSUER"] and not _loopback(OAUTHBFF["ISSUER"]):
    _PROBLEMS.append(
        f"{', '.join(_demo_in_use)} {'is' if len(_demo_in_use) == 1 else 'are'} the public demo "
        f"value{'' if len(_demo_in_use) == 1 else 's'}, refused with the issuer "
        f"{OAUTHBFF['ISSUER']} (only the development IdP on this machine may use them)"
    )
if _MISSING:
    _PROBLEMS.insert(
        0,
        f"{', '.join(_MISSING)} {'is' if len(_MISSING) == 1 else 'are'} not set: production "
        f"(DEBUG=False) needs {'it' if len(_MISSING) == 1 else 'them'}",
    )
if _PROBLEMS:
    raise ImproperlyConfigured("; ".join(_PROBLEMS) + "; see .env.example.")
