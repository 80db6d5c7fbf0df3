"""oauthbff.proxy: /bff/api/<name>/<path> against a real upstream that echoes what it received."""

import jwt
import pytest
from django.contrib.auth.models import User
from django.test import Client

from oauthbff.models import OIDCSession
from tests.changebank.fakes import EchoUpstream, sign_in_locally, use_local_issuer
from tests.fixtures.stack import free_port

pytestmark = pytest.mark.django_db

XCSRF = {"HTTP_X_CSRF": "1"}


@pytest.fixture(scope="module")
def upstream():
    server = EchoUpstream()
    yield server
    server.stop()


@pytest.fixture
def issuer(settings, upstream):
    upstream.received.clear()
    return use_local_issuer(
        settings,
        UPSTREAMS={"echo": f"{upstream.url}/v1/", "dead": f"http://127.0.0.1:{free_port()}/api"},
    )


def signed_in(issuer, email="ada@example.com", roles=("customer",), client=None):
    client = client or Client()
    user = User.objects.create_user(username=email, email=email)
    token = issuer.mint(roles=list(roles), sub=f"sub-{email}")
    sign_in_locally(client, user, token, issuer=issuer)
    return client, token


def test_forwards_method_path_query_and_body_with_the_users_token(issuer, upstream):
    client, token = signed_in(issuer)
    response = client.post(
        "/bff/api/echo/accounts/42/notes?limit=5&q=a%20b",
        data=b'{"note": "hi"}',
        content_type="application/json",
        HTTP_ACCEPT="application/json",
        HTTP_ACCEPT_LANGUAGE="en",
        HTTP_IF_MATCH='"v0"',
        **XCSRF,
    )
    assert response.status_code == 200
    seen = upstream.last
    assert seen["method"] == "POST"
    assert seen["path"] == "/v1/accounts/42/notes"
    assert seen["query"] == "limit=5&q=a%20b"
    assert seen["body"] == '{"note": "hi"}'
    assert seen["headers"]["content-type"] == "application/json"
    assert seen["headers"]["accept"] == "application/json"
    assert seen["headers"]["accept-language"] == "en"
    assert seen["headers"]["if-match"] == '"v0"'
    assert seen["headers"]["authorization"] == f"Bearer {token}"
    assert response.json()["path"] == "/v1/accounts/42/notes"


def test_browser_credentials_and_hop_by_hop_headers_never_go_upstream(issuer, upstream):
    client, token = signed_in(issuer)
    client.cookies["app.at"] = "browser-held-token"
    client.get(
        "/bff/api/echo/items",
        HTTP_AUTHORIZATION="Bearer browser-supplied",
        HTTP_CONNECTION="keep-alive, X-Secret-Hop",
        HTTP_KEEP_ALIVE="timeout=5",
        HTTP_TE="trailers",
        HTTP_TRAILER="X-Foo",
        HTTP_UPGRADE="websocket",
        HTTP_PROXY_AUTHORIZATION="Basic Zm9vOmJhcg==",
        HTTP_PROXY_CONNECTION="keep-alive",
        HTTP_X_SECRET_HOP="1",
        HTTP_X_FORWARDED_FOR="10.0.0.1",
        HTTP_X_CSRFTOKEN="csrf",
        HTTP_ORIGIN="http://testserver",
        **XCSRF,
    )
    headers = upstream.last["headers"]
    assert headers["authorization"] == f"Bearer {token}"
    for name in (
        "cookie",
        "keep-alive",
        "te",
        "trailer",
        "upgrade",
        "proxy-authorization",
        "proxy-connection",
        "x-secret-hop",
        "x-forwarded-for",
        "x-csrftoken",
        "x-csrf",
        "origin",
    ):
        assert name not in headers, name
    assert headers.get("connection", "keep-alive").lower() in ("keep-alive", "close")
    assert headers["host"] == upstream.url.removeprefix("http://")


def test_upstream_cookies_and_hop_by_hop_headers_never_reach_the_browser(issuer, upstream):
    client, _ = signed_in(issuer)
    response = client.get("/bff/api/echo/items", **XCSRF)
    assert response.status_code == 200
    assert "upstream" not in response.cookies
    for name in ("Set-Cookie", "Keep-Alive", "X-Upstream-Private", "Strict-Transport-Security"):
        assert not response.has_header(name), name
    assert response["Cache-Control"] == "private, no-store"
    assert response["ETag"] == '"v1"'
    assert response["Content-Type"] == "application/json"
    # The pooled HTTP session kept no cookie either: the next call sends none upstream.
    client.get("/bff/api/echo/items", **XCSRF)
    assert "cookie" not in upstream.last["headers"]


def test_each_user_sends_their_own_token(issuer, upstream):
    ada, ada_token = signed_in(issuer, "ada@example.com")
    bob, bob_token = signed_in(issuer, "bob@example.com")
    for client, token in [(ada, ada_token), (bob, bob_token), (ada, ada_token), (bob, bob_token)]:
        client.get("/bff/api/echo/me", **XCSRF)
        sent = upstream.last["headers"]["authorization"].removeprefix("Bearer ")
        assert sent == token
        assert (
            jwt.decode(sent, options={"verify_signature": False})["sub"]
            == jwt.decode(token, options={"verify_signature": False})["sub"]
        )


def test_status_codes_pass_through(issuer):
    client, _ = signed_in(issuer)
    teapot = client.get("/bff/api/echo/status/418", **XCSRF)
    assert teapot.status_code == 418
    assert teapot["Cache-Control"] == "private, no-store"
    assert client.delete("/bff/api/echo/status/204", **XCSRF).status_code == 204
    assert client.head("/bff/api/echo/items", **XCSRF).status_code == 200


# --- the allowlist -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["nope", "ECHO", "echo.evil", "127.0.0.1"])
def test_unknown_upstreams_are_404(issuer, name):
    client, _ = signed_in(issuer)
    response = client.get(f"/bff/api/{name}/x", **XCSRF)
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


@pytest.mark.parametrize(
    "path",
    [
        "../secret",
        "a/../../secret",
        "./a",
        "%2e%2e/secret",  # decoded by the server before routing: still "..".
        "%252e%252e/secret",  # double-encoded: refused rather than guessed at.
        "a//b",
        "a%5Cb",
        "http://evil.example/x",
        "https:evil",
        "a%00b",
        "x/..;/admin/",  # ".." to Tomcat- and Spring-style upstreams
        "..;jsessionid=1/admin",
        "x/%2e%2e;/admin/",  # encoded dot segment with a matrix parameter
        "x/.;/admin",
        "x/%EF%BC%8E%EF%BC%8E/admin",  # full-width dots: ".." once NFKC-normalised
        "x/%EF%BC%8E%EF%BC%8E;/admin",
        "x/%EF%BC%8Fadmin",  # a full-width solidus
    ],
)
def test_paths_that_could_escape_the_base_are_400(issuer, upstream, path):
    client, _ = signed_in(issuer)
    response = client.get(f"/bff/api/echo/{path}", **XCSRF)
    assert response.status_code == 400, path
    assert response.json()["error"] == "invalid_path"
    assert upstream.received == []


def test_encoded_slashes_in_the_raw_uri_are_400(issuer, upstream):
    client, _ = signed_in(issuer)
    response = client.get("/bff/api/echo/a/b", RAW_URI="/bff/api/echo/a%2Fb", **XCSRF)
    assert response.status_code == 400
    assert upstream.received == []


# --- the anti-forgery header ---------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete"])
def test_every_method_needs_the_anti_forgery_header(issuer, upstream, method):
    client, _ = signed_in(issuer)
    response = getattr(client, method)("/bff/api/echo/items")
    assert response.status_code == 403
    assert response.json()["error"] == "csrf_failed"
    response = getattr(client, method)("/bff/api/echo/items", HTTP_X_CSRF="0")
    assert response.status_code == 403
    assert upstream.received == []


def test_cross_site_fetch_metadata_is_refused(issuer, upstream):
    client, _ = signed_in(issuer)
    response = client.get("/bff/api/echo/items", HTTP_SEC_FETCH_SITE="cross-site", **XCSRF)
    assert response.status_code == 403
    ok = client.get("/bff/api/echo/items", HTTP_SEC_FETCH_SITE="same-origin", **XCSRF)
    assert ok.status_code == 200


def test_anti_forgery_header_replaces_the_csrf_token(issuer, upstream):
    client, _ = signed_in(issuer, client=Client(enforce_csrf_checks=True))
    assert client.post("/bff/api/echo/items", data={}, **XCSRF).status_code == 200


# --- sessions ------------------------------------------------------------------------------------------
def test_anonymous_is_401_json_never_a_redirect(client, issuer):
    response = client.get("/bff/api/echo/items", **XCSRF)
    assert response.status_code == 401
    assert response.json()["error"] == "not_signed_in"
    assert not response.has_header("Location")


def test_ended_session_is_401_json(issuer, upstream):
    client, _ = signed_in(issuer)
    # The token expired and there is no refresh token: the session cannot go on.
    OIDCSession.objects.update(access_expires_at=None, refresh_token="")
    response = client.get("/bff/api/echo/items", **XCSRF)
    assert response.status_code == 401
    assert response.json()["error"] in ("session_expired", "not_signed_in")
    assert not response.has_header("Location")
    assert upstream.received == []


# --- limits and failures -------------------------------------------------------------------------------
def test_request_body_is_capped(settings, issuer, upstream):
    settings.OAUTHBFF = {**settings.OAUTHBFF, "PROXY_MAX_REQUEST_BYTES": 16}
    client, _ = signed_in(issuer)
    response = client.post(
        "/bff/api/echo/items", data=b"x" * 17, content_type="text/plain", **XCSRF
    )
    assert response.status_code == 413
    assert upstream.received == []
    ok = client.post("/bff/api/echo/items", data=b"x" * 16, content_type="text/plain", **XCSRF)
    assert ok.status_code == 200


def test_response_body_is_capped(settings, issuer, upstream):
    settings.OAUTHBFF = {**settings.OAUTHBFF, "PROXY_MAX_RESPONSE_BYTES": 100}
    upstream.big_bytes = 101
    client, _ = signed_in(issuer)
    response = client.get("/bff/api/echo/big", **XCSRF)
    assert response.status_code == 502
    assert response.json()["error"] == "upstream_too_large"


def test_slow_upstream_is_504(settings, issuer, upstream):
    settings.OAUTHBFF = {**settings.OAUTHBFF, "UPSTREAM_TIMEOUT": (1.0, 0.2)}
    upstream.slow_seconds = 1.0
    client, _ = signed_in(issuer)
    response = client.get("/bff/api/echo/slow", **XCSRF)
    assert response.status_code == 504
    assert response.json()["error"] == "upstream_timeout"


def test_unreachable_upstream_is_502(issuer):
    client, _ = signed_in(issuer)
    response = client.get("/bff/api/dead/items", **XCSRF)
    assert response.status_code == 502
    assert response.json()["error"] == "upstream_unavailable"


def test_answers_without_cache_control_are_private(issuer):
    client, _ = signed_in(issuer)
    response = client.get("/bff/api/echo/big", **XCSRF)
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"


def test_an_upstreams_public_caching_never_reaches_the_browser(issuer, settings):
    """The answer was made with one user's token: no shared cache may keep it."""
    import responses

    settings.OAUTHBFF = {
        **settings.OAUTHBFF,
        "UPSTREAMS": {"public": "https://api.example.test/v1"},
    }
    client, _ = signed_in(issuer)
    with responses.RequestsMock() as rsps:
        rsps.add_passthru("http://127.0.0.1")
        rsps.get(
            "https://api.example.test/v1/me",
            json={"me": 1},
            headers={
                "Cache-Control": "public, max-age=600",
                "Expires": "Thu, 01 Dec 2099 0:0:0 GMT",
            },
        )
        response = client.get("/bff/api/public/me", **XCSRF)
    assert response.status_code == 200 and response.json() == {"me": 1}
    assert response["Cache-Control"] == "private, no-store"
    assert not response.has_header("Expires")


def test_upstream_redirects_are_not_followed(issuer, upstream):
    client, _ = signed_in(issuer)
    response = client.get("/bff/api/echo/redirect", **XCSRF)
    assert response.status_code == 502
    assert not response.has_header("Location")
    assert len(upstream.received) == 1


def test_other_methods_are_405(issuer):
    client, _ = signed_in(issuer)
    response = client.options("/bff/api/echo/items", **XCSRF)
    assert response.status_code == 405
    assert "GET" in response["Allow"]
