"""The development IdP's command line: production refusal, kickstart, setdata."""

import json
import subprocess
import sys

import pytest

from tests.fixtures.devidp import REPO


@pytest.mark.parametrize("env", [{"PRODUCTION": "true"}, {"DJANGO_ENV": "production"}])
def test_refuses_to_start_in_production_with_one_clear_line(devidp, env):
    result = devidp.command("runserver", "--noreload", check=False, env=env)

    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "refusing to start" in lines[0] and "never a production" in lines[0]


def test_wsgi_entry_point_refuses_production_too(devidp):
    result = subprocess.run(
        [sys.executable, "-c", "import devidp.wsgi"],
        cwd=REPO,
        env={**devidp.env, "PRODUCTION": "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert "refusing to start" in result.stderr


def test_kickstart_is_idempotent_and_prints_the_demo_users(devidp):
    result = devidp.command("kickstart")

    assert "already applied" in result.stdout
    assert devidp.client_id in result.stdout
    for email in ("admin@example.com", "teller@example.com", "customer@example.com"):
        assert email in result.stdout
    assert "'password'" in result.stdout
    assert devidp.client_secret not in result.stdout


def test_setdata_merges_data_and_fires_the_webhook(devidp, webhook_receiver):
    original = devidp.registration("customer@example.com")["data"]
    try:
        result = devidp.command("setdata", "customer@example.com", '{"userData": "set by command"}')
        event = webhook_receiver.next(event_type="user.registration.update")["json"]["event"]

        assert json.loads(result.stdout)["userData"] == "set by command"
        assert event["registration"]["data"]["userData"] == "set by command"
        assert event["original"]["data"] == original
        assert devidp.registration("customer@example.com")["data"]["userData"] == "set by command"
    finally:
        devidp.set_registration_data("customer@example.com", original)


@pytest.mark.parametrize(
    "args, message",
    [
        (["nobody@example.com", "{}"], "No user"),
        (["customer@example.com", "[1, 2]"], "JSON object"),
        (["customer@example.com", "{oops"], "JSON object"),
    ],
)
def test_setdata_rejects_bad_input_with_a_message(devidp, args, message):
    result = devidp.command("setdata", *args, check=False)

    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_kickstart_reports_a_broken_file_clearly(devidp, tmp_path):
    broken = tmp_path / "kickstart.json"
    broken.write_text("{not json")

    result = devidp.command("kickstart", "--file", str(broken), check=False)

    assert result.returncode != 0
    assert "not valid JSON" in result.stderr
    assert "Traceback" not in result.stderr


def test_runserver_prints_the_banner_at_start(devidp):
    log = devidp.log_path.read_text(errors="replace")  # the banner is at the start of the log

    assert f"Development IdP (FusionAuth dialect) at {devidp.url}" in log
    assert devidp.client_id in log
    assert "customer@example.com" in log and "roles: customer, teller" in log


def test_environment_overrides_the_token_settings_at_start(idp):
    result = idp.command(
        "kickstart",
        "--quiet",
        env={"DEVIDP_ACCESS_TOKEN_TTL": "42", "DEVIDP_REFRESH_POLICY": "OneTimeUse"},
    )
    tenant = idp.api("GET", f"/api/tenant/{idp.tenant_id}").json()["tenant"]
    application = idp.api("GET", f"/api/application/{idp.application_id}").json()["application"]

    assert "overridden from the environment" in result.stdout
    assert tenant["jwtConfiguration"]["refreshTokenUsagePolicy"] == "OneTimeUse"
    assert application["jwtConfiguration"]["timeToLiveInSeconds"] == 42


def test_a_bad_override_is_one_clear_error(devidp):
    result = devidp.command(
        "kickstart", "--quiet", check=False, env={"DEVIDP_REFRESH_POLICY": "Sometimes"}
    )

    assert result.returncode != 0
    assert "DEVIDP_REFRESH_POLICY must be Reusable or OneTimeUse" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bff_on_another_port_is_registered_at_start(devidp):
    bff = "http://127.0.0.1:8123"
    try:
        result = devidp.command("kickstart", "--quiet", env={"DEVIDP_BFF_URL": bff})
        application = devidp.api("GET", f"/api/application/{devidp.application_id}").json()
        webhook = devidp.api("GET", f"/api/webhook/{devidp.webhook_id}").json()["webhook"]

        urls = application["application"]["oauthConfiguration"]["authorizedRedirectURLs"]
        assert f"{bff}/auth/callback/" in urls and f"{bff}/" in urls
        assert webhook["url"] == f"{bff}/webhooks/fusionauth/"
        assert "BFF at http://127.0.0.1:8123" in result.stdout
    finally:
        devidp.set_webhook_url(devidp.default_webhook_url)
