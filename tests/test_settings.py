"""The production profile: configuration comes from the environment, and a bad one stops start-up."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "k3y-" + "x9" * 30,
    "ALLOWED_HOSTS": "bff.example.com",
    "DATABASE_URL": "sqlite:////tmp/bff-production-profile.sqlite3",
    "OIDC_ISSUER": "https://idp.example.com",
    "OIDC_CLIENT_ID": "e9fdb985-9173-4e01-9d73-ac2d60d1dc8e",
    "OIDC_CLIENT_SECRET": "s3cret-" + "y" * 30,
    "USERDATA_STORE": "fusionauth",
    "FUSIONAUTH_API_URL": "https://idp.example.com",
    "FUSIONAUTH_API_KEY": "api-key-" + "z" * 30,
    "FUSIONAUTH_APPLICATION_ID": "e9fdb985-9173-4e01-9d73-ac2d60d1dc8e",
    "FUSIONAUTH_WEBHOOK_SECRET": "hook-" + "w" * 30,
}


def manage(*args, **overrides):
    env = {k: v for k, v in os.environ.items() if k not in PRODUCTION and k != "REDIS_URL"}
    env.update(PRODUCTION)
    env["ENV_FILE"] = "/nonexistent"
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.smoke
def test_check_deploy_is_clean_with_the_documented_production_variables():
    result = manage("check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.smoke
@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"SECRET_KEY": None}, "SECRET_KEY is not set"),
        (
            {"SECRET_KEY": "django-insecure-development-key-do-not-use-in-production"},
            "SECRET_KEY is the development default",
        ),
        ({"OIDC_ISSUER": None}, "OIDC_ISSUER is not set"),
        ({"OIDC_CLIENT_SECRET": ""}, "OIDC_CLIENT_SECRET is not set"),
        ({"FUSIONAUTH_API_KEY": None}, "FUSIONAUTH_API_KEY is not set"),
        ({"ALLOWED_HOSTS": None}, "ALLOWED_HOSTS is not set"),
        ({"USERDATA_STORE": "ldap"}, "USERDATA_STORE must be one of"),
    ],
)
def test_start_up_refuses_a_missing_or_unsafe_setting_in_one_line(overrides, reason):
    result = manage("check", **overrides)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and reason in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.smoke
def test_the_local_store_needs_no_fusionauth_settings():
    result = manage(
        "check",
        USERDATA_STORE="local",
        FUSIONAUTH_API_URL=None,
        FUSIONAUTH_API_KEY=None,
        FUSIONAUTH_APPLICATION_ID=None,
        FUSIONAUTH_WEBHOOK_SECRET=None,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.smoke
def test_production_cookies_and_headers(settings):
    from django.conf import settings as live

    assert live.SESSION_COOKIE_HTTPONLY is True
    assert live.SECURE_CONTENT_TYPE_NOSNIFF is True
    assert live.SECURE_REFERRER_POLICY == "same-origin"
    assert not live.SESSION_ENGINE.endswith("signed_cookies")
