"""oauthbff.oidc_client: one client authentication for the token and revocation endpoints."""

from urllib.parse import parse_qs

import pytest

from tests.oauthbff.fakeop import CLIENT_SECRET, sign_in

pytestmark = pytest.mark.django_db


def calls_to(op, suffix):
    return [call.request for call in op.rsps.calls if call.request.url.endswith(suffix)]


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_token_and_revocation_calls_authenticate_the_same_way(client, op, settings, method):
    settings.OAUTHBFF = {**settings.OAUTHBFF, "TOKEN_AUTH_METHOD": method}
    sign_in(client, op)
    assert client.post("/auth/logout/").status_code == 302
    (token_call,) = calls_to(op, "/oauth2/token")
    (revoke_call,) = calls_to(op, "/oauth2/revoke")
    for request in (token_call, revoke_call):
        form = parse_qs(request.body if isinstance(request.body, str) else request.body.decode())
        if method == "client_secret_post":
            assert form["client_secret"] == [CLIENT_SECRET]
            assert "Authorization" not in request.headers
        else:
            assert "client_secret" not in form
            assert request.headers["Authorization"].startswith("Basic ")
    assert op.calls["revoke"] == 1 and not op.refresh_tokens
