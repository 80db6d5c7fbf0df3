"""What breaks the FAPI 2.0 profile or DPoP is refused with a clear page, never a 500 or a loop."""

import json
from urllib.parse import parse_qs

import pytest
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from oauthbff.models import OIDCSession
from tests.oauthbff.fakeop import ISSUER, sign_in

pytestmark = pytest.mark.django_db

TOKEN_URL = f"{ISSUER}/oauth2/token"


def configure(settings, **values):
    settings.OAUTHBFF = {**settings.OAUTHBFF, **values}


@pytest.fixture
def key_file(tmp_path):
    path = tmp_path / "client.pem"
    path.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(path)


def assert_refused_page(response, client, status=400):
    body = response.content.decode()
    assert response.status_code == status, body[:300]
    assert "Sign-in" in body and "Traceback" not in body
    assert "_auth_user_id" not in client.session and not OIDCSession.objects.exists()
    return body


def test_without_the_iss_parameter_the_fapi2_profile_refuses(client, op, settings):
    """RFC 9207's iss is required under FAPI 2.0 even from a provider that does not announce it."""
    configure(settings, PROFILE="fapi2", ALLOWED_ALGORITHMS=["RS256"])
    op.metadata["pushed_authorization_request_endpoint"] = f"{ISSUER}/oauth2/par"
    pushed = []

    def push(request):
        pushed.append({k: v[0] for k, v in parse_qs(request.body).items()})
        return 201, {}, json.dumps({"request_uri": "urn:ietf:params:oauth:request_uri:x"})

    op.rsps.add_callback(responses.POST, f"{ISSUER}/oauth2/par", callback=push)
    assert client.get("/auth/login/").status_code == 302
    op.codes["code-1"] = pushed[0]["nonce"]
    response = client.get("/auth/callback/", {"code": "code-1", "state": pushed[0]["state"]})
    assert "unexpected identity provider" in assert_refused_page(response, client)
    assert op.calls["token"] == 0  # refused before the code was exchanged


def test_an_rs256_id_token_is_refused_by_the_profile_algorithms(client, op, settings):
    configure(settings, ALLOWED_ALGORITHMS=["PS256", "ES256"])
    response, _ = sign_in(client, op)  # the fake provider signs RS256
    assert "could not verify" in assert_refused_page(response, client)


def test_an_unbound_token_when_dpop_was_asked_is_refused(client, op, settings):
    configure(settings, DPOP=True)
    response, _ = sign_in(client, op)  # answers token_type Bearer
    assert "could not verify" in assert_refused_page(response, client)
    (request,) = op.token_requests
    assert request["headers"]["DPoP"].count(".") == 2  # the proof was sent


def test_a_nonce_loop_ends_after_one_retry(client, op, settings):
    configure(settings, DPOP=True)
    calls = []

    def always_asks(request):
        calls.append(request.headers["DPoP"])
        return 400, {"DPoP-Nonce": f"n-{len(calls)}"}, json.dumps({"error": "use_dpop_nonce"})

    op.rsps.remove(responses.POST, TOKEN_URL)
    op.rsps.add_callback(responses.POST, TOKEN_URL, callback=always_asks)
    response, _ = sign_in(client, op)
    assert "refused" in assert_refused_page(response, client)
    assert len(calls) == 2 and calls[0] != calls[1]


def test_a_private_key_file_gone_at_run_time_is_a_page(client, op, settings):
    configure(
        settings, TOKEN_AUTH_METHOD="private_key_jwt", CLIENT_PRIVATE_KEY_FILE="/nonexistent/k.pem"
    )
    response, _ = sign_in(client, op)
    body = assert_refused_page(response, client, status=502)
    assert "nonexistent" not in body


def test_private_key_jwt_replaces_the_secret_at_the_token_endpoint(client, op, settings, key_file):
    configure(settings, TOKEN_AUTH_METHOD="private_key_jwt", CLIENT_PRIVATE_KEY_FILE=key_file)
    response, _ = sign_in(client, op)
    assert response.status_code == 302
    (request,) = op.token_requests
    form = request["form"]
    assert form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    assert "client_secret" not in form and "Authorization" not in request["headers"]
    assert not parse_qs(json.dumps(form)).get("client_secret")
