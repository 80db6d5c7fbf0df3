"""Settings of the development IdP: its own database file, cookie names and issuer.

Read from the environment: DEVIDP_URL (public base URL = issuer), DEVIDP_DB (SQLite path),
DEVIDP_KICKSTART (kickstart file), DEVIDP_BFF_URL (the BFF's base URL when not
http://127.0.0.1:8000: its callback and webhook URLs are registered at start), DEVIDP_ACCESS_TOKEN_TTL and DEVIDP_REFRESH_POLICY (start-up
overrides of the tenant's JWT settings), DEVIDP_SECRET_KEY.
"""

import os
from pathlib import Path
from urllib.parse import urlsplit

from devidp.lifetimes import access_token_expires_in
from devidp.safety import refuse_production

refuse_production()

BASE_DIR = Path(__file__).resolve().parent
REPO_DIR = BASE_DIR.parent

DEVIDP_URL = os.environ.get("DEVIDP_URL", "http://127.0.0.1:9011").rstrip("/")
DEVIDP = {
    "URL": DEVIDP_URL,
    "KICKSTART_FILE": os.environ.get(
        "DEVIDP_KICKSTART", str(REPO_DIR / "kickstart" / "kickstart.json")
    ),
    "BFF_URL": os.environ.get("DEVIDP_BFF_URL", "").rstrip("/"),
    "ACCESS_TOKEN_TTL": os.environ.get("DEVIDP_ACCESS_TOKEN_TTL", ""),
    "REFRESH_POLICY": os.environ.get("DEVIDP_REFRESH_POLICY", ""),
    "WEBHOOK_RETRIES": 3,
}

# A development tool: a fixed key is fine, but DEBUG stays off so that no error page can ever
# show a token in a traceback.
SECRET_KEY = os.environ.get("DEVIDP_SECRET_KEY", "devidp-insecure-development-only-key-0123456789")
DEBUG = os.environ.get("DEVIDP_DEBUG", "").lower() in {"1", "true", "yes"}
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]", "testserver", urlsplit(DEVIDP_URL).hostname]
ALLOWED_HOSTS += [h for h in os.environ.get("DEVIDP_ALLOWED_HOSTS", "").split(",") if h]

INSTALLED_APPS = [
    "devidp.apps.DevIdpConfig",  # first, so its runserver (port 9011, banner) wins
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "oauth2_provider",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "devidp.urls"
WSGI_APPLICATION = "devidp.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Its own SQLite file. WAL lets readers run beside the writer; IMMEDIATE transactions take the
# write lock up front, which serialises one-time-use refresh-token rotation; the timeout makes
# concurrent writers wait instead of failing under load.
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DEVIDP_DB", str(BASE_DIR / "devidp.sqlite3")),
        "OPTIONS": {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "devidp.User"
OAUTH2_PROVIDER_APPLICATION_MODEL = "devidp.Application"
# FusionAuth's default password hash (salted PBKDF2-HMAC-SHA256, factor 24,000), not Django's
# slower default: a load test signs in many users at once.
PASSWORD_HASHERS = [
    "devidp.hashers.FusionAuthPBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = []
LOGIN_URL = "/admin/login/"

# Own cookie names: the BFF runs on the same host (another port), and cookies ignore ports.
SESSION_COOKIE_NAME = "devidp_session"
CSRF_COOKIE_NAME = "devidp_csrftoken"
LANGUAGE_COOKIE_NAME = "devidp_language"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_ENGINE = "django.contrib.sessions.backends.db"

OAUTH2_PROVIDER = {
    "OIDC_ENABLED": True,
    "OIDC_ISS_ENDPOINT": DEVIDP_URL,
    "OAUTH2_VALIDATOR_CLASS": "devidp.validators.FusionAuthValidator",
    "ACCESS_TOKEN_GENERATOR": "devidp.tokens.generate_access_token",
    "REFRESH_TOKEN_GENERATOR": "oauthlib.oauth2.rfc6749.tokens.random_token_generator",
    "EXTRA_SERVER_KWARGS": {"token_expires_in": access_token_expires_in},
    "SCOPES": {
        "openid": "OpenID Connect sign-in",
        "offline_access": "Refresh tokens",
        "profile": "Name and username",
        "email": "E-mail address",
    },
    "DEFAULT_SCOPES": ["openid"],
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "ACCESS_TOKEN_EXPIRE_SECONDS": 3600,
    "ID_TOKEN_EXPIRE_SECONDS": 3600,
    "REFRESH_TOKEN_EXPIRE_SECONDS": 43200 * 60,
    "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 0,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["http", "https"],
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/_devidp/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SILENCED_SYSTEM_CHECKS = ["oauth2_provider.W006", "security.W004", "security.W008"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s devidp %(levelname)s %(name)s %(message)s"}},
    "filters": {"redact": {"()": "devidp.logs.RedactSecrets"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact"],
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("DEVIDP_LOG_LEVEL", "WARNING")},
    "loggers": {
        "devidp": {"level": os.environ.get("DEVIDP_LOG_LEVEL", "INFO")},
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
