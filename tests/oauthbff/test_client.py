"""oauthbff.client: server-side calls to downstream APIs with the user's own, current token."""

import pytest
import requests
from django.contrib.auth.models import User
from django.test import Client

from oauthbff.client import (
    SessionExpired,
    UnknownUpstream,
    UnsafePath,
    UserApiClient,
    build_url,
    upstream_client,
)
from oauthbff.http import upstream_session
from tests.changebank.fakes import EchoUpstream, request_for, sign_in_locally, use_local_issuer

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def upstream():
    server = EchoUpstream()
    yield server
    server.stop()


@pytest.fixture
def issuer(settings, upstream):
    upstream.received.clear()
    return use_local_issuer(settings, UPSTREAMS={"echo": f"{upstream.url}/v1"})


def signed_in_request(issuer, email="ada@example.com"):
    browser = Client()
    user = User.objects.create_user(username=email, email=email)
    token = issuer.mint(sub=f"sub-{email}")
    sign_in_locally(browser, user, token, issuer=issuer)
    return request_for(browser, user), token


@pytest.mark.parametrize(
    ("path", "url"),
    [
        ("", "https://api.example/v1"),
        ("items", "https://api.example/v1/items"),
        ("items/", "https://api.example/v1/items/"),
        ("a b/ü", "https://api.example/v1/a%20b/%C3%BC"),
        ("x/a:b@c", "https://api.example/v1/x/a:b@c"),
    ],
)
def test_build_url_stays_under_the_base(path, url):
    assert build_url("https://api.example/v1", path) == url


@pytest.mark.parametrize(
    "path",
    [
        "..",
        "a/..",
        "./x",
        "/etc/passwd",
        "//evil.example",
        "a//b",
        "a\\b",
        "%2e%2e",
        "http://evil.example",
        "javascript:alert(1)",
        "a:b",
        "a\nb",
        "a\x00b",
    ],
)
def test_build_url_refuses_escapes(path):
    with pytest.raises(UnsafePath):
        build_url("https://api.example/v1", path)


def test_unknown_upstream_is_refused(issuer):
    request, _ = signed_in_request(issuer)
    with pytest.raises(UnknownUpstream):
        upstream_client(request, "elsewhere")


def test_base_url_must_be_absolute_http():
    with pytest.raises(ValueError):
        UserApiClient(None, "file:///etc")


def test_sends_the_users_token_per_request_only(issuer, upstream):
    request, token = signed_in_request(issuer)
    response = upstream_client(request, "echo").get("things", params={"q": "1"})
    assert response.status_code == 200
    seen = upstream.last
    assert seen["path"] == "/v1/things"
    assert seen["query"] == "q=1"
    assert seen["headers"]["authorization"] == f"Bearer {token}"
    # Nothing of the user's stays on the shared HTTP session.
    assert "Authorization" not in upstream_session.headers
    assert upstream_session.auth is None
    assert len(upstream_session.cookies) == 0


@pytest.mark.parametrize(
    "name", ["Authorization", "authorization", "AUTHORIZATION", "aUTHORIZATION", "AuThOrIzAtIoN"]
)
def test_a_caller_cannot_override_the_token(issuer, upstream, name):
    request, token = signed_in_request(issuer)
    upstream_client(request, "echo").post(
        "things", json={"a": 1}, headers={name: "Bearer someone-else"}
    )
    assert upstream.last["headers"]["authorization"] == f"Bearer {token}"
    assert upstream.last["body"] == '{"a": 1}'


def test_two_users_never_share_a_token(issuer, upstream):
    ada, ada_token = signed_in_request(issuer, "ada@example.com")
    bob, bob_token = signed_in_request(issuer, "bob@example.com")
    clients = [(upstream_client(ada, "echo"), ada_token), (upstream_client(bob, "echo"), bob_token)]
    for client, token in clients * 2:
        client.get("me")
        assert upstream.last["headers"]["authorization"] == f"Bearer {token}"
        assert "cookie" not in upstream.last["headers"]


def test_not_signed_in_raises_session_expired(issuer):
    request, _ = signed_in_request(issuer)
    request.session.flush()
    request.user = type("Anon", (), {"is_authenticated": False, "pk": None})()
    with pytest.raises(SessionExpired):
        upstream_client(request, "echo").get("me")


def test_timeouts_apply(settings, issuer, upstream):
    request, _ = signed_in_request(issuer)
    upstream.slow_seconds = 1.0
    with pytest.raises(requests.Timeout):
        upstream_client(request, "echo", timeout=(1.0, 0.2)).get("slow")
    settings.OAUTHBFF = {**settings.OAUTHBFF, "UPSTREAM_TIMEOUT": (1.0, 0.2)}
    with pytest.raises(requests.Timeout):
        upstream_client(request, "echo").get("slow")


def test_redirects_are_returned_not_followed(issuer, upstream):
    request, _ = signed_in_request(issuer)
    response = upstream_client(request, "echo").get("redirect")
    assert response.status_code == 302
    assert len(upstream.received) == 1


def test_upstream_settings_are_checked(settings):
    from oauthbff.checks import check_upstreams
    from oauthbff.client import get_upstreams

    settings.OAUTHBFF = {
        **settings.OAUTHBFF,
        "UPSTREAMS": {
            "good": "https://api.example/v1/",
            "local": "http://127.0.0.1:8000/api",
            "bad name": "https://api.example",
            "query": "https://api.example/v1?key=1",
            "creds": "https://user:pw@api.example",
            "ftp": "ftp://files.example",
            "plain": "http://10.1.2.3/api",
        },
    }
    assert get_upstreams() == {
        "good": "https://api.example/v1",
        "local": "http://127.0.0.1:8000/api",
        "plain": "http://10.1.2.3/api",
    }
    messages = {(m.id, m.msg.split("'")[1]) for m in check_upstreams()}
    assert messages == {
        ("oauthbff.E201", "bad name"),
        ("oauthbff.E201", "query"),
        ("oauthbff.E201", "creds"),
        ("oauthbff.E201", "ftp"),
        ("oauthbff.W201", "plain"),
    }
