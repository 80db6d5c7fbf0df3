import time

import pytest
from django.test import Client

from oauthbff.models import OIDCSession
from oauthbff.signals import session_ended
from tests.oauthbff.fakeop import rsa_key, sign_in

pytestmark = pytest.mark.django_db

URL = "/auth/backchannel-logout/"


def post(client, token):
    return client.post(URL, {"logout_token": token})


def test_backchannel_logout_by_sid_ends_session(op):
    browser = Client()
    sign_in(browser, op)
    ended = []
    session_ended.connect(lambda **kw: ended.append(kw), weak=False, dispatch_uid="b1")
    try:
        response = post(Client(enforce_csrf_checks=True), op.logout_token(sub=None))
    finally:
        session_ended.disconnect(dispatch_uid="b1")
    assert response.status_code == 200
    assert (
        response["Cache-Control"].startswith("no-store") or "no-store" in response["Cache-Control"]
    )
    assert browser.get("/auth/user/").status_code == 401
    assert OIDCSession.objects.get().end_reason == "backchannel"
    assert ended[0]["reason"] == "backchannel"


def test_backchannel_logout_by_sub_ends_all_sessions(op):
    browsers = [Client(), Client()]
    for b in browsers:
        sign_in(b, op)
    assert post(Client(), op.logout_token(sid=None)).status_code == 200
    assert all(b.get("/auth/user/").status_code == 401 for b in browsers)


def test_other_users_sessions_untouched(op):
    browser = Client()
    sign_in(browser, op)
    assert post(Client(), op.logout_token(sub="someone-else", sid=None)).status_code == 200
    assert browser.get("/auth/user/").status_code == 200


def test_refresh_token_id_sid_matches(op):
    browser = Client()
    sign_in(browser, op)
    assert post(Client(), op.logout_token(sub=None, sid="refresh-id-1")).status_code == 200
    assert browser.get("/auth/user/").status_code == 401


@pytest.mark.parametrize(
    "claims",
    [
        {"events": None},
        {"events": {"other": {}}},
        {"nonce": "n"},
        {"sid": None, "sub": None},
        {"aud": "other"},
        {"iss": "https://evil.example"},
        {"iat": int(time.time()) + 3600},
        {"jti": None},
        {"jti": 12345},
        {"exp": None},
        {"iat": int(time.time()) - 3600, "exp": int(time.time()) + 3600},
    ],
)
def test_invalid_logout_tokens_are_400(op, claims):
    browser = Client()
    sign_in(browser, op)
    response = post(Client(), op.logout_token(**claims))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert browser.get("/auth/user/").status_code == 200


def test_bad_signature_and_missing_token(op):
    import jwt

    forged = jwt.encode(
        {
            "iss": op.issuer,
            "aud": "client-123",
            "iat": int(time.time()),
            "jti": "j",
            "sub": "x",
            "events": {"http://schemas.openid.net/event/backchannel-logout": {}},
        },
        rsa_key("attacker"),
        algorithm="RS256",
        headers={"kid": "k1"},
    )
    assert post(Client(), forged).status_code == 400
    assert Client().post(URL, {}).status_code == 400
    assert Client().get(URL).status_code == 405


def test_replayed_jti(op):
    token = op.logout_token()
    assert post(Client(), token).status_code == 200
    response = post(Client(), token)
    assert response.status_code == 400 and "already used" in response.json()["message"]


@pytest.mark.parametrize("lifetime, kept", [(250, 250), (3600, 300)])
def test_used_jtis_are_kept_as_long_as_the_token_is_good(op, monkeypatch, lifetime, kept):
    """Until ``exp``, at most LOGOUT_TOKEN_MAX_AGE (300 s) after ``iat``, plus the clock skew."""
    from oauthbff import logout

    timeouts = []
    real_add = logout.cache.add

    def add(key, value, timeout):
        timeouts.append(timeout)
        return real_add(key, value, timeout)

    monkeypatch.setattr(logout.cache, "add", add)
    now = int(time.time())
    assert post(Client(), op.logout_token(iat=now, exp=now + lifetime)).status_code == 200
    skew = 60
    assert kept - 2 <= timeouts[-1] <= kept + skew + 2


def test_user_logged_out_signal_ends_index_row(client, op):
    """Django's own logout (e.g. the admin's) keeps the index in step."""
    from django.contrib.auth import logout

    sign_in(client, op)
    request = type("R", (), {})()
    request.session = client.session
    request.user = OIDCSession.objects.get().user
    logout(request)
    assert OIDCSession.objects.get().ended_at is not None
    assert op.calls["revoke"] == 1


def test_an_ended_session_whose_key_cannot_be_read_is_over_too(op):
    """Ending a session deletes its Django session by the key sealed in the index; when that key is
    unreadable (its encryption key rotated away), the next request still finds the session over."""
    browser = Client()
    sign_in(browser, op)
    OIDCSession.objects.update(sealed_session_key="")
    assert post(Client(), op.logout_token()).status_code == 200
    assert browser.get("/auth/user/").status_code == 401
    assert "_auth_user_id" not in browser.session
