"""Fixtures for the certified provider: node-oidc-provider on a free port, the BFF pointed at it.

The provider is started once per test session, with an issuer that ends in "/" and a confidential
client for the BFF whose back-channel logout URI is the session's live server. Without Node.js or
``npm ci`` the tests skip locally and fail in CI, where the provider must be there.
"""

import os
import secrets

import pytest
from django.core.cache import cache

from oauthbff.provider import reset_providers
from tests.nodeop.harness import NodeOP, missing_reason

CALLBACK = "http://testserver/auth/callback/"
AFTER_LOGOUT = "http://testserver/"


def bff_client(live_server, client_id="bff"):
    return {
        "client_id": client_id,
        "client_secret": secrets.token_urlsafe(32),
        "redirect_uris": [CALLBACK],
        "post_logout_redirect_uris": [AFTER_LOGOUT],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_basic",
        "backchannel_logout_uri": f"{live_server.url}/auth/backchannel-logout/",
        "backchannel_logout_session_required": True,
    }


@pytest.fixture(scope="session")
def nodeop(tmp_path_factory, live_server):
    """node-oidc-provider with the issuer ``http://127.0.0.1:PORT/`` (the slash is the point)."""
    reason = missing_reason()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    provider = NodeOP(
        tmp_path_factory.mktemp("nodeop"),
        clients=[bff_client(live_server)],
        roles={"admin": ["admin", "customer"]},
    )
    provider.start()
    provider.client = provider.clients[0]
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
