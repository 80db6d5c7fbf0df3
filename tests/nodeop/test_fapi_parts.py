"""The FAPI 2.0 parts (DPoP, private_key_jwt) against node-oidc-provider in its FAPI 2.0 profile.

A client-credentials grant is the smallest exchange that needs both: this client authenticates with
a signed assertion, proves possession of its DPoP key (retrying with the provider's nonce), and gets
a DPoP-bound JWT access token for an API, which our API-side verification then accepts only with a
matching proof.
"""

import pytest
import requests
from django.core.cache import cache

from oauthbff.dpop import DPoPKey, InvalidProof, verify_proof
from oauthbff.keys import KeyFileError, assertion_params, load_keys
from oauthbff.provider import get_provider
from tests.nodeop.conftest import API_RESOURCE
from tests.nodeop.harness import TIMEOUT

API_URL = API_RESOURCE + "accounts"


def post_with_dpop(url, form, dpop_key, nonce=None):
    """POST with a DPoP proof; once more with the provider's nonce if it asks for one (§8)."""
    response = requests.post(
        url,
        data=form(),
        headers={"DPoP": dpop_key.proof("POST", url, nonce=nonce)},
        timeout=TIMEOUT,
    )
    if response.status_code in (400, 401) and response.headers.get("DPoP-Nonce") and not nonce:
        return post_with_dpop(url, form, dpop_key, response.headers["DPoP-Nonce"])
    return response


def client_credentials(op, dpop_key, keys=None):
    keys = keys or load_keys(op.key_file)
    token_endpoint = op.metadata()["token_endpoint"]

    def form():
        return {
            "grant_type": "client_credentials",
            "scope": "accounts",
            "resource": API_RESOURCE,
            **assertion_params(keys, client_id=op.client["client_id"], audience=op.issuer),
        }

    return post_with_dpop(token_endpoint, form, dpop_key)


@pytest.fixture
def api_settings(fapi_op, settings):
    settings.OAUTHBFF = {
        **settings.OAUTHBFF,
        "ISSUER": fapi_op.issuer,
        "CLIENT_ID": fapi_op.client["client_id"],
        "ALLOWED_ALGORITHMS": ["PS256", "ES256"],
    }
    cache.clear()
    yield fapi_op
    cache.clear()


def test_the_provider_announces_the_fapi_parts(fapi_op):
    metadata = fapi_op.metadata()
    assert metadata["require_pushed_authorization_requests"] is True
    assert "private_key_jwt" in metadata["token_endpoint_auth_methods_supported"]
    assert "ES256" in metadata["dpop_signing_alg_values_supported"]


def test_a_private_key_jwt_and_dpop_token_request_gets_a_bound_jwt(api_settings):
    dpop_key = DPoPKey.generate()
    response = client_credentials(api_settings, dpop_key)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "DPoP"
    claims = get_provider().decode_jwt(body["access_token"], audience=API_RESOURCE)
    assert claims["cnf"]["jkt"] == dpop_key.thumbprint
    # Our API side: the provider-bound token is accepted with a proof by the bound key, only.
    token = body["access_token"]
    proof = dpop_key.proof("GET", API_URL, access_token=token)
    ok = verify_proof(
        proof, method="GET", url=API_URL, access_token=token, jkt=claims["cnf"]["jkt"]
    )
    assert ok["jkt"] == dpop_key.thumbprint
    stranger = DPoPKey.generate().proof("GET", API_URL, access_token=token)
    with pytest.raises(InvalidProof, match="another key"):
        verify_proof(
            stranger, method="GET", url=API_URL, access_token=token, jkt=claims["cnf"]["jkt"]
        )


def test_an_assertion_signed_by_an_unregistered_key_is_refused(api_settings, tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    other = tmp_path / "other.pem"
    other.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    response = client_credentials(api_settings, DPoPKey.generate(), load_keys(str(other)))
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_a_request_without_a_dpop_proof_is_refused(api_settings):
    """The profile requires sender-constrained tokens: no proof, no token."""
    keys = load_keys(api_settings.key_file)
    response = requests.post(
        api_settings.metadata()["token_endpoint"],
        data={
            "grant_type": "client_credentials",
            "scope": "accounts",
            "resource": API_RESOURCE,
            **assertion_params(keys, client_id="bff-fapi", audience=api_settings.issuer),
        },
        timeout=TIMEOUT,
    )
    assert response.status_code == 400, response.text


def test_a_missing_key_file_is_one_line():
    with pytest.raises(KeyFileError, match="cannot be read"):
        load_keys("/nonexistent/key.pem")
