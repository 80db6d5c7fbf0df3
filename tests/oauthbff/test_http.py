"""oauthbff.http: every outbound call has a timeout, and no session keeps cookies."""

import pytest
import requests
from requests.adapters import HTTPAdapter

from oauthbff.http import RefuseAllCookies, provider_session, upstream_session


@pytest.fixture
def sent(monkeypatch):
    """The keyword arguments each request reached the adapter with (nothing goes on the wire)."""
    seen = []

    def send(self, request, **kwargs):
        seen.append(kwargs)
        response = requests.Response()
        response.status_code = 200
        response.request, response.url, response._content = request, request.url, b"{}"
        return response

    monkeypatch.setattr(HTTPAdapter, "send", send)
    return seen


def test_every_call_gets_the_configured_timeout_unless_given_one(sent, settings):
    settings.OAUTHBFF = {**settings.OAUTHBFF, "HTTP_TIMEOUT": 2.5, "UPSTREAM_TIMEOUT": [1, 9]}
    provider_session.get("https://idp.example/.well-known/jwks.json")
    upstream_session.post("https://api.example/x")
    provider_session.get("https://idp.example/x", timeout=0.5)
    assert [kwargs["timeout"] for kwargs in sent] == [2.5, (1, 9), 0.5]


def test_no_session_keeps_cookies_or_credentials():
    cookie = requests.cookies.create_cookie("tracker", "1", domain="idp.example")
    for session in (provider_session, upstream_session):
        policy = session.cookies._policy
        assert isinstance(policy, RefuseAllCookies)
        assert not policy.set_ok(cookie, None) and not policy.return_ok(cookie, None)
        assert session.auth is None and "Authorization" not in session.headers
