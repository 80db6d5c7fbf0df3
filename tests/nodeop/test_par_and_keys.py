"""PAR (RFC 9126) and private_key_jwt (RFC 7523) against node-oidc-provider."""

from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from django.test import Client

from oauthbff.crypto import decrypt
from oauthbff.models import OIDCSession
from oauthbff.oidc_client import introspect
from tests.nodeop.test_certified import sign_in

pytestmark = pytest.mark.django_db


def query(location):
    return dict(parse_qsl(urlsplit(location).query))


def test_par_auto_pushes_and_the_browser_carries_only_a_request_uri(bff_on_nodeop):
    client = Client()
    location = client.get("/auth/login/")["Location"]
    params = query(location)
    assert set(params) == {"client_id", "request_uri"}
    assert params["request_uri"].startswith("urn:ietf:params:oauth:request_uri:")
    assert location.startswith(bff_on_nodeop.metadata()["authorization_endpoint"] + "?")
    response, _ = sign_in(client, bff_on_nodeop)
    assert response.status_code == 302 and client.get("/auth/user/").status_code == 200


def test_par_false_sends_the_whole_request_through_the_browser(bff_on_nodeop, settings):
    settings.OAUTHBFF = {**settings.OAUTHBFF, "PAR": "false"}
    client = Client()
    params = query(client.get("/auth/login/")["Location"])
    assert {"state", "nonce", "code_challenge", "redirect_uri", "scope"} <= set(params)
    response, _ = sign_in(client, bff_on_nodeop)
    assert response.status_code == 302


def test_a_pushed_request_cannot_be_used_by_another_client(bff_on_nodeop):
    """The request_uri is bound to the client that pushed it (RFC 9126 §4)."""
    location = Client().get("/auth/login/")["Location"]
    params = query(location)
    forged = location.replace(f"client_id={params['client_id']}", "client_id=bff-pkjwt")
    page = requests.get(forged, allow_redirects=False, timeout=10)
    assert page.status_code == 400 or "error=" in page.headers.get("Location", "")


@pytest.fixture
def bff_with_private_key(bff_on_nodeop, settings, client_key_file):
    """The BFF as the private_key_jwt client: no secret at all."""
    settings.OAUTHBFF = {
        **settings.OAUTHBFF,
        "CLIENT_ID": bff_on_nodeop.key_client["client_id"],
        "CLIENT_SECRET": "",
        "TOKEN_AUTH_METHOD": "private_key_jwt",
        "CLIENT_PRIVATE_KEY_FILE": [client_key_file],
    }
    return bff_on_nodeop


@pytest.mark.django_db(transaction=True)
def test_sign_in_refresh_and_logout_with_private_key_jwt(bff_with_private_key):
    """The provider knows only our jwks_uri: it fetches /auth/jwks.json from the live BFF to check
    each assertion, at the PAR, token, introspection and revocation endpoints."""
    op = bff_with_private_key
    browser = requests.Session()
    client = Client()
    response, _ = sign_in(client, op, browser=browser)
    assert response.status_code == 302, response.content[:300]
    assert client.post("/auth/refresh/").status_code == 200
    row = OIDCSession.objects.get()
    refresh_token = decrypt(row.refresh_token)
    # Introspection authenticates the client the same way (RFC 7662 §2.1).
    assert introspect(refresh_token)["active"] is True
    assert client.post("/auth/logout/").status_code == 302
    # The refresh token was revoked with an assertion of ours: the provider no longer honours it.
    assert introspect(refresh_token)["active"] is False
