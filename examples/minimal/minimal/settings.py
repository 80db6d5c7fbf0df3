"""The smallest project on the installed apps: a ``startproject`` settings file plus the lines marked
"oauthbff" and "userdata". Only the provider's three values come from the environment:

    OIDC_ISSUER=https://idp.example.com OIDC_CLIENT_ID=... OIDC_CLIENT_SECRET=... \
        python manage.py runserver

SQLite and the local-memory cache; no Redis (one process, so the refresh lock needs no sharing) and
no Celery (userdata then does its work in the request that asks for it).
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

# An example for a developer's machine: a fixed key and DEBUG on. A real deployment reads its own.
SECRET_KEY = "django-insecure-minimal-example-key-not-for-production-use"
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "oauthbff",  # oauthbff
    "userdata",  # userdata
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "oauthbff.middleware.TokenRefreshMiddleware",  # oauthbff: after AuthenticationMiddleware
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "minimal.urls"

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
            ],
        },
    },
]

WSGI_APPLICATION = "minimal.wsgi.application"

DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

USE_TZ = True
STATIC_URL = "static/"

# --- oauthbff ------------------------------------------------------------------------------------
# Users sign in through the provider (a project may name a subclass of the backend here).
AUTHENTICATION_BACKENDS = ["oauthbff.backends.OIDCBackend"]
LOGIN_URL = "oauthbff:login"

DEFAULT_EXCEPTION_REPORTER_FILTER = "oauthbff.debug.SafeExceptionReporterFilter"

OAUTHBFF = {
    "ISSUER": os.environ["OIDC_ISSUER"],
    "CLIENT_ID": os.environ["OIDC_CLIENT_ID"],
    "CLIENT_SECRET": os.environ["OIDC_CLIENT_SECRET"],
    # The one hook this example overrides: where roles come from (minimal/roles.py).
    "ROLES_MAPPER": "minimal.roles.GroupsOrRolesMapper",
}

# --- userdata ------------------------------------------------------------------------------------
# The user-data field on the home page; "local" keeps the text in this project's database. With
# FusionAuth or Auth0 the store pulls and pushes the provider's per-application data instead.
USERDATA = {"STORE": "local"}
