"""Settings for the reusable apps' own tests: oauthbff and userdata in a bare project.

No demo app, no project templates or static folders, no environment: what a project that installs
the apps has. ``tests/test_standalone.py`` runs ``tests/standalone/`` under these settings.
"""

import os
import tempfile

from tests.oauthbff.fakeop import CLIENT_ID, CLIENT_SECRET, ISSUER

SECRET_KEY = "standalone-tests-secret-key-that-is-long-enough"
DEBUG = False
ALLOWED_HOSTS = ["testserver"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "oauthbff",
    "userdata",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "oauthbff.middleware.TokenRefreshMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "tests.standalone.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
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
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": ":memory:",
        "TEST": {
            "NAME": os.path.join(tempfile.gettempdir(), f"bff-standalone-{os.getpid()}.sqlite3")
        },
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
USE_TZ = True
STATIC_URL = "static/"

AUTHENTICATION_BACKENDS = ["oauthbff.backends.OIDCBackend"]
LOGIN_URL = "oauthbff:login"
OAUTHBFF = {"ISSUER": ISSUER, "CLIENT_ID": CLIENT_ID, "CLIENT_SECRET": CLIENT_SECRET}
USERDATA = {"STORE": "local"}

# Error reports without tokens (a system check asks for it, as the README does).
DEFAULT_EXCEPTION_REPORTER_FILTER = "oauthbff.debug.SafeExceptionReporterFilter"
