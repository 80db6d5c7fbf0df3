"""userdata/checks.py: misconfiguration is one clear line."""

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from userdata.checks import check_userdata_settings, check_webhook_secret


def ids(settings):
    return [m.id for m in check_userdata_settings()]


def test_valid_settings_pass(settings):
    assert ids(settings) == []


def test_missing_fusionauth_settings(settings):
    settings.USERDATA = {**settings.USERDATA, "FUSIONAUTH": {"API_URL": "", "API_KEY": ""}}
    messages = check_userdata_settings()
    assert [m.id for m in messages] == ["userdata.E002", "userdata.W001"]
    assert "FUSIONAUTH_API_KEY" in messages[0].msg


def test_bad_policy_and_store(settings):
    settings.USERDATA = {**settings.USERDATA, "CONFLICT_POLICY": "yolo", "STORE": "nope"}
    assert ids(settings) == ["userdata.E001", "userdata.E004"]


def test_auth0_needs_credentials(settings):
    settings.USERDATA = {**settings.USERDATA, "STORE": "auth0", "AUTH0": {}}
    assert ids(settings) == ["userdata.E003"]


def auth0(settings, **a0):
    base = {"DOMAIN": "", "CLIENT_ID": "cid", "CLIENT_SECRET": "secret", **a0}
    settings.USERDATA = {**settings.USERDATA, "STORE": "auth0", "AUTH0": base}


@pytest.mark.parametrize(
    ("domain", "audience", "expected"),
    [
        ("tenant.auth0.com", "", []),
        ("https://tenant.eu.auth0.com/", "", []),
        ("login.example.com", "", ["userdata.E006"]),
        ("https://login.example.com", "https://tenant.auth0.com/api/v2/", []),
    ],
)
def test_a_custom_auth0_domain_needs_the_management_audience(settings, domain, audience, expected):
    auth0(settings, DOMAIN=domain, AUDIENCE=audience)
    messages = check_userdata_settings()
    assert [m.id for m in messages] == expected
    if expected:
        assert "AUTH0_MGMT_AUDIENCE" in messages[0].msg and "login.example.com" in messages[0].msg


def with_secret(settings, secret):
    fa = {**settings.USERDATA["FUSIONAUTH"], "WEBHOOK_SECRET": secret}
    settings.USERDATA = {**settings.USERDATA, "FUSIONAUTH": fa}


@pytest.mark.parametrize(("secret", "refused"), [("x", True), ("s" * 31, True), ("é" * 16, False)])
def test_a_webhook_secret_shorter_than_an_hmac_sha256_key_is_a_deploy_error(
    settings, secret, refused
):
    with_secret(settings, secret)
    messages = check_webhook_secret()
    assert [m.id for m in messages] == (["userdata.E007"] if refused else [])
    if refused:
        assert f"is {len(secret)} bytes" in messages[0].msg and "32" in messages[0].msg


def test_check_deploy_fails_on_a_one_character_webhook_secret(settings):
    with_secret(settings, "x")
    with pytest.raises(SystemCheckError, match="userdata.E007"):
        call_command("check", deploy=True, tags=["security"], fail_level="ERROR")
    assert not any(m.id == "userdata.E007" for m in run_checks(include_deployment_checks=False))


@pytest.mark.parametrize("window", [0, -1, 3600.5, "7d", True])
def test_the_replay_window_must_be_whole_seconds(settings, window):
    settings.USERDATA = {**settings.USERDATA, "WEBHOOK_REPLAY_WINDOW": window}
    assert ids(settings) == ["userdata.E008"]


def test_auth0_export_timings_must_be_seconds(settings):
    auth0(settings, DOMAIN="tenant.auth0.com", EXPORT_POLL_SECONDS="2s", EXPORT_TIMEOUT=-1)
    assert ids(settings) == ["userdata.E009", "userdata.E009"]
    auth0(settings, DOMAIN="tenant.auth0.com", EXPORT_POLL_SECONDS=0.5, EXPORT_TIMEOUT=600)
    assert ids(settings) == []
