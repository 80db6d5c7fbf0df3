"""The production profile: configuration comes from the environment, and a bad one stops start-up."""

import json
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
    "REDIS_URL": "redis://127.0.0.1:6379/15",
    "OIDC_TOKEN_ENCRYPTION_KEY": "x8bJ1T2y0m0wqCq3C9m2Zr0qg0L0m3L8tF1zWbq5Wcs=",
}


def manage(*args, **overrides):
    env = {k: v for k, v in os.environ.items() if k not in PRODUCTION}
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


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"REDIS_URL": None}, "oauthbff.E020"),
        ({"OIDC_TOKEN_ENCRYPTION_KEY": None}, "oauthbff.W021"),
    ],
)
def test_check_deploy_names_a_per_process_cache_and_a_missing_token_key(overrides, message):
    result = manage("check", "--deploy", "--fail-level", "WARNING", **overrides)
    assert result.returncode != 0
    assert [line for line in result.stderr.splitlines() if "(oauthbff." in line] == [
        line for line in result.stderr.splitlines() if message in line
    ]
    assert message in result.stderr


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
def test_start_up_names_every_missing_variable_at_once():
    result = manage(
        "check",
        SECRET_KEY=None,
        ALLOWED_HOSTS=None,
        OIDC_ISSUER=None,
        OIDC_CLIENT_ID=None,
        FUSIONAUTH_API_KEY=None,
        FUSIONAUTH_WEBHOOK_SECRET=None,
        USERDATA_STORE="ldap",
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for name in ("SECRET_KEY", "ALLOWED_HOSTS", "OIDC_ISSUER", "OIDC_CLIENT_ID"):
        assert name in lines[0]
    assert "are not set" in lines[0] and "USERDATA_STORE must be one of" in lines[0]


@pytest.mark.smoke
def test_a_value_that_does_not_parse_is_named_with_the_others():
    result = manage(
        "check", SESSION_COOKIE_AGE="eight hours", OIDC_HTTP_TIMEOUT="fast", SECRET_KEY=None
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "SECRET_KEY is not set" in lines[0]
    assert "SESSION_COOKIE_AGE must be a whole number" in lines[0]
    assert "OIDC_HTTP_TIMEOUT must be a number" in lines[0]


DEMO = json.loads((ROOT / "kickstart" / "kickstart.json").read_text())["variables"]


@pytest.mark.smoke
def test_the_public_demo_secrets_are_refused_for_a_real_provider():
    # Production with the kickstart's webhook secret: anyone could sign webhooks.
    result = manage("check", FUSIONAUTH_WEBHOOK_SECRET=DEMO["webhookSecret"])
    assert result.returncode != 0
    assert "FUSIONAUTH_WEBHOOK_SECRET is the public demo value" in result.stderr
    # DEBUG with nothing set falls back to them: refused unless the issuer is on this machine.
    debug = {name: None for name in PRODUCTION} | {"DEBUG": "true"}
    refused = manage("check", **(debug | {"OIDC_ISSUER": "https://login.example.com"}))
    assert refused.returncode != 0 and "public demo values" in refused.stderr
    assert "Traceback" not in refused.stderr


@pytest.mark.smoke
def test_debug_with_the_demo_secrets_warns_loudly():
    debug = {name: None for name in PRODUCTION} | {"DEBUG": "true"}
    result = manage("check", **debug)
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert "ops.W001" in output and "PUBLIC demo values" in output
    assert "FUSIONAUTH_WEBHOOK_SECRET" in output


def test_gunicorn_start_up_logs_the_demo_secret_warning_too():
    """gunicorn runs no system checks: the WSGI module says it in the log instead."""
    debug = {name: None for name in PRODUCTION} | {"DEBUG": "true"}
    env = {k: v for k, v in os.environ.items() if k not in PRODUCTION and k != "REDIS_URL"}
    env.update({k: v for k, v in debug.items() if v is not None}, ENV_FILE="/nonexistent")
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [sys.executable, "-c", "import bffproject.wsgi"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "ops.W001" in result.stderr and "PUBLIC demo values" in result.stderr


PRODUCTION_PROBE = """
import json, django
django.setup()
from django.conf import settings
from django.core.management import call_command
from django.http import HttpResponse
from django.middleware.csrf import CsrfViewMiddleware, get_token
from django.contrib.sessions.middleware import SessionMiddleware
from django.test import Client, RequestFactory

call_command("migrate", verbosity=0)
answer = Client().get("/healthz", secure=True, HTTP_HOST="bff.example.com")
probes = [Client().get(path, HTTP_HOST="bff.example.com").status_code for path in ("/healthz", "/readyz", "/")]

def view(request):
    get_token(request)
    request.session["probe"] = 1
    return HttpResponse("ok")

request = RequestFactory().get("/", secure=True, HTTP_HOST="bff.example.com")
response = SessionMiddleware(CsrfViewMiddleware(view))(request)
cookies = {
    name: {key: str(morsel[key]) for key in ("secure", "httponly", "samesite", "path", "domain")}
    for name, morsel in response.cookies.items()
}
print(json.dumps({
    "status": answer.status_code,
    "plain_http": probes,
    "headers": dict(answer.headers),
    "cookies": cookies,
    "session_engine": settings.SESSION_ENGINE,
}))
"""


@pytest.mark.smoke
def test_production_cookies_and_headers(tmp_path):
    """Run under the production settings themselves (a process of its own, DEBUG off)."""
    result = subprocess.run(
        [sys.executable, "-c", PRODUCTION_PROBE],
        cwd=ROOT,
        env={
            **{k: v for k, v in os.environ.items() if k not in PRODUCTION and k != "REDIS_URL"},
            **PRODUCTION,
            "REDIS_URL": "",  # the probe's one process needs no shared cache
            "DATABASE_URL": f"sqlite:///{tmp_path / 'production.sqlite3'}",
            "ENV_FILE": "/nonexistent",
            "DJANGO_SETTINGS_MODULE": "bffproject.settings",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe["status"] == 200
    assert probe["plain_http"] == [200, 200, 301], (
        "probes over plain HTTP are answered, pages redirected"
    )
    headers = {key.lower(): value for key, value in probe["headers"].items()}
    csp = headers["content-security-policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "'unsafe-inline'" not in csp and "frame-ancestors 'none'" in csp
    assert "form-action 'self' https://idp.example.com" in csp
    assert "camera=()" in headers["permissions-policy"]
    assert headers["cross-origin-opener-policy"] == "same-origin"
    assert headers["strict-transport-security"].startswith("max-age=31536000")
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["x-frame-options"] == "DENY"
    session = probe["cookies"]["__Host-bff_session"]
    csrf = probe["cookies"]["__Host-bff_csrftoken"]
    for cookie in (session, csrf):
        # __Host-: Secure, Path=/, no Domain, or the browser drops it.
        assert cookie["secure"] == "True" and cookie["path"] == "/" and cookie["domain"] == ""
        assert cookie["httponly"] == "True", "no script reads either cookie"
        assert cookie["samesite"] == "Lax"
    assert not probe["session_engine"].endswith("signed_cookies")


def test_page_scripts_take_the_csrf_token_from_the_form_not_the_cookie():
    """The CSRF cookie is HttpOnly: a script that read document.cookie would send nothing."""
    scripts = [*ROOT.glob("static/**/*.js"), *ROOT.glob("*/static/**/*.js")]
    scripts = [path for path in scripts if ".venv" not in path.parts and "admin" not in path.parts]
    assert any(path.name == "userdata.js" for path in scripts), "the page scripts were found"
    for script in scripts:
        text = script.read_text()
        assert "document.cookie" not in text, script.name
        if "X-CSRFToken" in text:
            assert "csrfmiddlewaretoken" in text, script.name
