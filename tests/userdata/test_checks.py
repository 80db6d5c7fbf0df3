"""userdata/checks.py: misconfiguration is one clear line."""

from userdata.checks import check_userdata_settings


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
