"""The shared fixtures other tests rely on: ``devidp`` and ``bff_on_devidp``."""

from urllib.parse import parse_qs, urlsplit

from django.conf import settings

from tests.fixtures.devidp import pkce_pair


def test_bff_on_devidp_points_the_bff_at_the_live_idp(bff_on_devidp):
    idp = bff_on_devidp

    assert settings.OAUTHBFF["ISSUER"] == idp.url
    assert settings.OAUTHBFF["CLIENT_ID"] == idp.client_id
    assert settings.OAUTHBFF["CLIENT_SECRET"] == idp.client_secret
    fusionauth = settings.USERDATA["FUSIONAUTH"]
    assert fusionauth["API_URL"] == idp.url
    assert fusionauth["API_KEY"] == idp.api_key
    assert fusionauth["WEBHOOK_SECRET"] == idp.webhook_secret
    _verifier, challenge = pkce_pair()
    location = idp.sign_in(
        idp.authorize_url("http://testserver/auth/callback/", challenge=challenge),
        "customer@example.com",
    )
    assert location.startswith("http://testserver/auth/callback/?")
    assert parse_qs(urlsplit(location).query)["state"] == ["state-1"]


def jwt_configurations(idp):
    tenant = idp.api("GET", f"/api/tenant/{idp.tenant_id}").json()["tenant"]
    application = idp.api("GET", f"/api/application/{idp.application_id}").json()["application"]
    return tenant["jwtConfiguration"], application["jwtConfiguration"]


def test_bff_on_devidp_restores_the_idp_defaults(bff_on_devidp):
    """Changes the IdP's token settings (they apply); the next test finds the defaults back."""
    bff_on_devidp.set_refresh_policy("OneTimeUse")
    bff_on_devidp.set_access_token_ttl(7)
    tenant, application = jwt_configurations(bff_on_devidp)
    assert tenant["refreshTokenUsagePolicy"] == "OneTimeUse"
    assert tenant["timeToLiveInSeconds"] == 7 and application["timeToLiveInSeconds"] == 7


def test_defaults_are_back_after_a_test_changed_them(devidp):
    tenant = devidp.api("GET", f"/api/tenant/{devidp.tenant_id}").json()["tenant"]
    application = devidp.api("GET", f"/api/application/{devidp.application_id}").json()

    assert tenant["jwtConfiguration"]["refreshTokenUsagePolicy"] == "Reusable"
    assert tenant["jwtConfiguration"]["timeToLiveInSeconds"] == 3600
    assert application["application"]["jwtConfiguration"]["timeToLiveInSeconds"] == 3600


def test_user_id_is_the_subject(devidp):
    assert devidp.user_id("admin@example.com") == "00000000-0000-0000-0000-000000000001"
