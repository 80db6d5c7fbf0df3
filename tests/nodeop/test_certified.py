"""The BFF against node-oidc-provider (OpenID Certified), whose issuer ends in "/".

Sign-in goes through the BFF's real views and the provider's real pages (login, consent); refresh
meets one-time rotating refresh tokens with reuse detection; logout is RP-initiated, and the
provider's back-channel logout reaches the BFF over HTTP.
"""

from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from django.test import Client

from oauthbff.checks import check_discovery
from oauthbff.crypto import decrypt
from oauthbff.models import OIDCIdentity, OIDCSession
from oauthbff.oidc_client import fetch_userinfo
from tests.nodeop.conftest import AFTER_LOGOUT

pytestmark = pytest.mark.django_db


def start(client):
    response = client.get("/auth/login/")
    assert response.status_code == 302, response.status_code
    return response["Location"]


def sign_in(client, op, login="customer@example.com", browser=None):
    """/auth/login/ -> the provider's pages -> /auth/callback/; returns (callback response, params)."""
    url = urlsplit(op.sign_in(start(client), login, browser=browser or requests.Session()))
    assert url.path == "/auth/callback/", url
    params = dict(parse_qsl(url.query))
    return client.get(url.path, params), params


def signed_in(op, login="customer@example.com", browser=None):
    client = Client()
    response, _ = sign_in(client, op, login, browser)
    assert response.status_code == 302, response.content[:300]
    return client


def refresh_token_of(row):
    row.refresh_from_db()
    return decrypt(row.refresh_token)


def test_the_issuer_ends_in_a_slash_and_passes_the_start_up_check(bff_on_nodeop):
    metadata = bff_on_nodeop.metadata()
    assert metadata["issuer"] == bff_on_nodeop.issuer and bff_on_nodeop.issuer.endswith("/")
    assert metadata["authorization_response_iss_parameter_supported"] is True
    assert check_discovery(None) == []


def test_sign_in(bff_on_nodeop):
    client = Client()
    response, params = sign_in(client, bff_on_nodeop)
    assert response.status_code == 302 and response["Location"] == "/"
    assert params["iss"] == bff_on_nodeop.issuer  # RFC 9207, with its slash
    assert bff_on_nodeop.prompts == ["login", "consent"]
    data = client.get("/auth/user/").json()
    assert data["authenticated"] and data["user"]["email"] == "customer@example.com"
    identity = OIDCIdentity.objects.get()
    assert (identity.issuer, identity.subject) == (bff_on_nodeop.issuer, "customer@example.com")
    row = OIDCSession.objects.get()
    assert row.issuer == bff_on_nodeop.issuer and row.sid and refresh_token_of(row)


def test_roles_come_from_userinfo(bff_on_nodeop):
    """The access token is opaque here: the roles can only come from the userinfo endpoint."""
    admin = signed_in(bff_on_nodeop, "admin@example.com")
    assert admin.get("/auth/user/").json()["user"]["roles"] == ["admin", "customer"]
    assert admin.get("/admin/").status_code == 200
    assert signed_in(bff_on_nodeop).get("/admin/").status_code == 302


def test_refresh_rotates_and_the_new_access_token_reaches_userinfo(bff_on_nodeop):
    client = signed_in(bff_on_nodeop)
    row = OIDCSession.objects.get()
    first = refresh_token_of(row)
    for version in (1, 2):
        response = client.post("/auth/refresh/")
        assert response.status_code == 200 and response.json()["version"] == version
    row.refresh_from_db()
    assert refresh_token_of(row) != first
    userinfo = fetch_userinfo(decrypt(row.access_token))
    assert userinfo["sub"] == "customer@example.com" and userinfo["email"] == "customer@example.com"
    # The first refresh token was rotated out: the provider refuses it, and (reuse detection)
    # revokes the whole grant, so the session ends at its next refresh instead of living on.
    reused = bff_on_nodeop.token(
        bff_on_nodeop.client, grant_type="refresh_token", refresh_token=first
    )
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    response = client.post("/auth/refresh/")
    assert response.status_code == 401 and response.json()["error"] == "session_expired"
    assert OIDCSession.objects.get().end_reason == "refresh_failed"


def test_rp_initiated_logout_ends_the_provider_session(bff_on_nodeop):
    browser = requests.Session()
    client = signed_in(bff_on_nodeop, browser=browser)
    row = OIDCSession.objects.get()
    refresh_token = refresh_token_of(row)
    response = client.post("/auth/logout/")
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith(bff_on_nodeop.metadata()["end_session_endpoint"] + "?")
    params = dict(parse_qsl(urlsplit(location).query))
    assert params["post_logout_redirect_uri"] == AFTER_LOGOUT and params["state"]
    # client_id and the provider's sid name the sign-out; the ID token stays on the server.
    assert (
        "id_token_hint" not in params and params["client_id"] == bff_on_nodeop.client["client_id"]
    )
    assert params["logout_hint"] == row.sid
    landing = bff_on_nodeop.confirm_logout(location, browser=browser)
    assert landing.startswith(AFTER_LOGOUT) and f"state={params['state']}" in landing
    assert client.get("/auth/user/").status_code == 401
    assert OIDCSession.objects.get().end_reason == "logout"
    revoked = bff_on_nodeop.token(
        bff_on_nodeop.client, grant_type="refresh_token", refresh_token=refresh_token
    )
    assert revoked.status_code == 400
    # The provider forgot the browser: signing in again asks for the login first.
    signed_in(bff_on_nodeop, browser=browser)
    assert bff_on_nodeop.prompts[0] == "login"


@pytest.mark.django_db(transaction=True)
def test_signing_out_at_the_provider_ends_the_bff_session_by_back_channel(bff_on_nodeop):
    """The provider POSTs a logout token to the BFF (served by the live server) before it answers."""
    browser = requests.Session()
    client = signed_in(bff_on_nodeop, browser=browser)
    other_tab = signed_in(bff_on_nodeop, browser=browser)  # single sign-on: same provider session
    assert bff_on_nodeop.prompts == []
    end_session = bff_on_nodeop.metadata()["end_session_endpoint"]
    bff_on_nodeop.confirm_logout(end_session, browser=browser)
    assert client.get("/auth/user/").status_code == 401
    assert other_tab.get("/auth/user/").status_code == 401
    assert sorted(OIDCSession.objects.values_list("end_reason", flat=True)) == [
        "backchannel",
        "backchannel",
    ]


def test_an_iss_parameter_without_the_slash_is_refused(bff_on_nodeop):
    client = Client()
    url = urlsplit(
        bff_on_nodeop.sign_in(start(client), "customer@example.com", browser=requests.Session())
    )
    params = dict(parse_qsl(url.query))
    assert params["iss"].endswith("/")
    response = client.get(url.path, {**params, "iss": params["iss"].rstrip("/")})
    assert response.status_code == 400
    assert "unexpected identity provider" in response.content.decode()
    assert not OIDCSession.objects.exists() and "_auth_user_id" not in client.session


def test_a_configured_issuer_without_the_slash_is_refused(bff_on_nodeop, settings):
    settings.OAUTHBFF = {**settings.OAUTHBFF, "ISSUER": bff_on_nodeop.issuer.rstrip("/")}
    (error,) = check_discovery(None)
    assert error.id == "oauthbff.E030" and "\n" not in error.msg
    client = Client()
    response = client.get("/auth/login/")
    assert response.status_code == 503
    assert not OIDCSession.objects.exists()
