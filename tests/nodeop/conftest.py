"""Fixtures for the certified provider: node-oidc-provider on a free port, the BFF pointed at it.

The provider is started once per test session, with an issuer that ends in "/" and a confidential
client for the BFF whose back-channel logout URI is the session's live server. Without Node.js or
``npm ci`` the tests skip locally and fail in CI, where the provider must be there.
"""

import os
import secrets

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.core.cache import cache

from oauthbff.keys import load_keys, public_jwks
from oauthbff.provider import reset_providers
from tests.nodeop.harness import NodeOP, missing_reason

CALLBACK = "http://testserver/auth/callback/"
AFTER_LOGOUT = "http://testserver/"
# An API with its own resource indicator (RFC 8707): its tokens are JWTs whose aud is this URL.
API_RESOURCE = "https://api.changebank.test/"


@pytest.fixture(scope="session")
def bff_server(django_db_setup, django_db_blocker):
    """The BFF served over HTTP for what the provider sends it (back-channel logout tokens, its
    reading of /auth/jwks.json). Not pytest-django's ``live_server``: that one would make every
    test here transactional; only the tests that need the server to see their data are."""
    from pytest_django.live_server_helper import LiveServer

    with django_db_blocker.unblock():
        server = LiveServer("localhost")
    yield server
    server.stop()


def require_node():
    reason = missing_reason()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


def bff_client(server, client_id="bff"):
    return {
        "client_id": client_id,
        "client_secret": secrets.token_urlsafe(32),
        "redirect_uris": [CALLBACK],
        "post_logout_redirect_uris": [AFTER_LOGOUT],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_basic",
        "backchannel_logout_uri": f"{server.url}/auth/backchannel-logout/",
        "backchannel_logout_session_required": True,
    }


def key_client(server, client_id="bff-pkjwt"):
    """A client that authenticates with private_key_jwt; the provider reads its public keys from
    the BFF's own /auth/jwks.json (served by the live server)."""
    client = {
        **bff_client(server, client_id),
        "token_endpoint_auth_method": "private_key_jwt",
        "token_endpoint_auth_signing_alg": "ES256",
        "jwks_uri": f"{server.url}/auth/jwks.json",
    }
    client.pop("client_secret")
    return client


@pytest.fixture(scope="session")
def nodeop(tmp_path_factory, bff_server):
    """node-oidc-provider with the issuer ``http://127.0.0.1:PORT/`` (the slash is the point); PAR
    offered but not required; a client_secret_basic client and a private_key_jwt one."""
    require_node()
    provider = NodeOP(
        tmp_path_factory.mktemp("nodeop"),
        clients=[bff_client(bff_server), key_client(bff_server)],
        roles={"admin": ["admin", "customer"]},
    )
    provider.start()
    provider.client, provider.key_client = provider.clients
    yield provider
    provider.stop()


@pytest.fixture
def bff_on_nodeop(nodeop, settings):
    """Point the BFF at node-oidc-provider for one test, the issuer spelt exactly as announced."""
    settings.OAUTHBFF = {
        **settings.OAUTHBFF,
        "ISSUER": nodeop.issuer,
        "CLIENT_ID": nodeop.client["client_id"],
        "CLIENT_SECRET": nodeop.client["client_secret"],
        "TOKEN_AUTH_METHOD": "client_secret_basic",
    }
    # The provider has no user-data API: the mirror stays local (and never calls a FusionAuth).
    settings.USERDATA = {**settings.USERDATA, "STORE": "local"}
    cache.clear()
    reset_providers()
    yield nodeop
    cache.clear()
    reset_providers()


@pytest.fixture(scope="session")
def client_key_file(tmp_path_factory):
    """A PEM file with this client's private key (EC P-256, so it signs ES256)."""
    path = tmp_path_factory.mktemp("client-key") / "bff-client-key.pem"
    path.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(path)


def fapi_client(server, client_id, key_file, **extra):
    """A client registration as FAPI 2.0 wants it: private_key_jwt with the key in ``key_file``,
    DPoP-bound tokens, PAR required, PS256 ID tokens; no client secret."""
    client = {
        **bff_client(server, client_id),
        "token_endpoint_auth_method": "private_key_jwt",
        "token_endpoint_auth_signing_alg": "ES256",
        "jwks": public_jwks(load_keys(key_file)),
        "dpop_bound_access_tokens": True,
        "require_pushed_authorization_requests": True,
        "id_token_signed_response_alg": "PS256",
        **extra,
    }
    client.pop("client_secret")
    return client


@pytest.fixture(scope="session")
def fapi_op(tmp_path_factory, bff_server, client_key_file):
    """node-oidc-provider in its FAPI 2.0 profile: PAR required, private_key_jwt, DPoP-bound tokens
    with server nonces, PS256 / ES256 only, and an API resource that gets JWT access tokens."""
    require_node()
    client = fapi_client(
        bff_server,
        "bff-fapi",
        client_key_file,
        grant_types=["authorization_code", "refresh_token", "client_credentials"],
    )
    provider = NodeOP(
        tmp_path_factory.mktemp("nodeop-fapi"),
        clients=[client],
        fapi=True,
        requirePAR=True,
        dpopNonce=True,
        signingAlgorithms=["PS256", "ES256"],
        resourceServers={
            API_RESOURCE: {
                "scope": "accounts",
                "audience": API_RESOURCE,
                "accessTokenFormat": "jwt",
                "accessTokenTTL": 300,
                "jwt": {"sign": {"alg": "PS256"}},
            }
        },
    )
    provider.start()
    provider.client = client
    provider.key_file = client_key_file
    yield provider
    provider.stop()
