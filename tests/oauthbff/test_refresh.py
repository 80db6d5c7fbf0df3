import threading
import uuid
from datetime import timedelta

import pytest
import responses
from django.db import close_old_connections
from django.test import Client
from django.utils import timezone

from oauthbff.crypto import decrypt, encrypt
from oauthbff.exceptions import RefreshUnavailable, SessionExpired
from oauthbff.models import OIDCSession
from oauthbff.refresh import get_access_token, refresh_tokens
from oauthbff.signals import tokens_refreshed
from tests.oauthbff.fakeop import sign_in

pytestmark = pytest.mark.django_db


def expire(row_filter=None):
    OIDCSession.objects.active().update(access_expires_at=timezone.now() - timedelta(seconds=5))


def test_middleware_refreshes_before_expiry_on_post(client, op):
    sign_in(client, op)
    seen = []
    tokens_refreshed.connect(lambda **kw: seen.append(kw), weak=False, dispatch_uid="r1")
    try:
        expire()
        response = client.post("/auth/user/")  # any method triggers the refresh
    finally:
        tokens_refreshed.disconnect(dispatch_uid="r1")
    assert response.status_code == 405
    assert op.grants == ["authorization_code", "refresh_token"]
    row = OIDCSession.objects.get()
    assert row.version == 1 and row.access_expires_at > timezone.now()
    assert seen and seen[0]["expires_at"] == row.access_expires_at
    # Rotated refresh token was stored: the next refresh works too.
    expire()
    assert client.get("/auth/user/").status_code == 200
    assert op.grants.count("refresh_token") == 2


def test_roles_granted_and_revoked_at_the_provider_apply_at_the_next_refresh(client, op):
    sign_in(client, op)
    user = OIDCSession.objects.get().user
    assert client.get("/auth/user/").json()["user"]["roles"] == ["customer"]
    op.roles = ["admin", "customer"]
    expire()
    assert client.get("/auth/user/").json()["user"]["roles"] == ["admin", "customer"]
    user.refresh_from_db()
    assert user.is_staff and sorted(g.name for g in user.groups.all()) == ["admin", "customer"]
    op.roles = ["customer"]
    expire()
    assert client.get("/auth/user/").json()["user"]["roles"] == ["customer"]
    user.refresh_from_db()
    assert not user.is_staff and not user.is_superuser
    assert [g.name for g in user.groups.all()] == ["customer"]


def opaque_access_tokens(op):
    op.access_token = lambda **extra: "opaque-" + uuid.uuid4().hex


def test_a_revoked_role_ends_at_refresh_with_an_opaque_access_token(client, op):
    """Auth0 and others issue opaque access tokens: the roles come from userinfo then."""
    op.roles = ["admin", "customer"]
    sign_in(client, op)
    assert OIDCSession.objects.get().user.is_staff
    op.roles = ["customer"]
    opaque_access_tokens(op)
    expire()
    assert client.get("/auth/user/").json()["user"]["roles"] == ["customer"]
    assert op.calls["userinfo"] == 1
    assert not OIDCSession.objects.get().user.is_staff


def test_roles_come_from_the_refreshed_id_token_before_userinfo(client, op):
    op.roles = ["admin"]
    sign_in(client, op)
    original = op.access_token
    op.access_token = lambda **extra: original(aud="another-api", **extra)
    op.id_claims_override = {"roles": ["customer"]}
    expire()
    assert client.get("/auth/user/").json()["user"]["roles"] == ["customer"]
    assert op.calls["userinfo"] == 0
    assert not OIDCSession.objects.get().user.is_staff


def test_roles_are_dropped_when_no_source_answers_at_refresh(client, op):
    """Fail closed: no readable token, userinfo refused, no introspection -> no roles."""
    op.roles = ["admin"]
    sign_in(client, op)
    opaque_access_tokens(op)
    op.rsps.replace(responses.GET, op.metadata["userinfo_endpoint"], status=500)
    op.rsps.add(responses.POST, f"{op.issuer}/oauth2/introspect", status=503)
    expire()
    assert client.get("/auth/user/").json()["user"]["roles"] == []
    assert op.grants.count("refresh_token") == 1
    user = OIDCSession.objects.get().user
    assert not user.is_staff and not user.groups.exists()


def test_short_lived_tokens_are_not_refreshed_on_every_request(client, op):
    """A 6-second token with REFRESH_LEEWAY 30: refreshed after half its life, not at once."""
    op.access_ttl = 6
    sign_in(client, op)
    for _ in range(3):
        assert client.get("/auth/user/").status_code == 200
    assert op.grants.count("refresh_token") == 0
    OIDCSession.objects.update(access_expires_at=timezone.now() + timedelta(seconds=2))
    assert client.get("/auth/user/").status_code == 200
    assert client.get("/auth/user/").status_code == 200
    assert op.grants.count("refresh_token") == 1
    assert OIDCSession.objects.get().access_lifetime == 6


def test_no_refresh_when_fresh(client, op):
    sign_in(client, op)
    for _ in range(3):
        client.get("/auth/user/")
    assert op.grants == ["authorization_code"]


def test_reusable_refresh_token_is_kept(client, op):
    op.rotate_refresh = False
    sign_in(client, op)
    expire()
    client.get("/auth/user/")
    expire()
    assert client.get("/auth/user/").status_code == 200
    assert op.grants.count("refresh_token") == 2


def test_invalid_grant_ends_session_html_redirects(client, op):
    sign_in(client, op)
    op.refresh_tokens.clear()
    expire()
    response = client.get("/some/page/?x=1")
    assert response.status_code == 302
    assert response["Location"] == "/auth/login/?next=%2Fsome%2Fpage%2F%3Fx%3D1"
    assert client.get("/auth/user/").status_code == 401
    assert OIDCSession.objects.get().end_reason == "refresh_failed"


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/auth/user/", {"HTTP_ACCEPT": "application/json"}),
        ("/anything/", {"HTTP_X_REQUESTED_WITH": "XMLHttpRequest"}),
        ("/api/make-change", {}),
        ("/bff/api/x/y", {}),
    ],
)
def test_invalid_grant_json_gets_401(client, op, path, headers):
    sign_in(client, op)
    op.refresh_tokens.clear()
    expire()
    response = client.post(path, **headers)
    assert response.status_code == 401
    assert response.json()["error"] == "session_expired"


def test_provider_down_keeps_session(client, op):
    sign_in(client, op)

    op.token_override = lambda form: (503, {})
    expire()
    assert client.get("/auth/user/").status_code == 200
    assert OIDCSession.objects.active().count() == 1
    request = type("R", (), {})()
    request.session = client.session
    request.user = OIDCSession.objects.get().user
    with pytest.raises(RefreshUnavailable):
        get_access_token(request)


def test_invalid_grant_rereads_session_before_giving_up(client, op):
    """Another process rotated the token meanwhile: the loser sees the new version, not a logout."""
    sign_in(client, op)
    expire()
    row = OIDCSession.objects.get()

    def winner_then_fail(form):
        if form.get("grant_type") == "refresh_token":
            OIDCSession.objects.filter(pk=row.pk).update(
                version=row.version + 1,
                access_token=encrypt("fresh-from-elsewhere"),
                access_expires_at=timezone.now() + timedelta(minutes=5),
            )
            return 400, {"error": "invalid_grant"}
        return None

    op.token_override = winner_then_fail
    fresh = refresh_tokens(row)
    assert decrypt(fresh.access_token) == "fresh-from-elsewhere"
    assert fresh.ended_at is None


def test_get_access_token_contract(client, op):
    sign_in(client, op)
    request = type("R", (), {})()
    request.session = client.session
    request.user = OIDCSession.objects.get().user
    token = get_access_token(request)
    assert token.count(".") == 2
    anonymous = type("R", (), {})()
    anonymous.session = Client().session
    anonymous.user = type("U", (), {"is_authenticated": False})()
    with pytest.raises(SessionExpired):
        get_access_token(anonymous)


@pytest.mark.django_db(transaction=True)
def test_concurrent_refresh_single_flight_threads(op, settings):
    """Threads on one process: with rotation, exactly one token call and every request succeeds."""
    client = Client()
    sign_in(client, op)
    expire()
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    results = []

    def hit():
        try:
            c = Client()
            c.cookies[settings.SESSION_COOKIE_NAME] = cookie
            results.append(c.get("/auth/user/").status_code)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=hit) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 20
    assert op.grants.count("refresh_token") == 1


def test_tokens_never_in_error_reports(client, op, rf):
    """A crash mid-refresh: Django's error report (the 500 page / admin e-mail) shows no token."""
    import sys

    from django.views.debug import ExceptionReporter

    sign_in(client, op)
    (refresh_token,) = op.refresh_tokens
    row = OIDCSession.objects.get()

    def crash(form):
        raise RuntimeError("boom")

    op.token_override = crash

    def report(pk):
        # Its own frame, so the test's local copy of the token is not part of the traceback.
        try:
            refresh_tokens(OIDCSession.objects.get(pk=pk), force=True)
        except Exception:
            reporter = ExceptionReporter(rf.get("/"), *sys.exc_info())
            return reporter.get_traceback_text() + reporter.get_traceback_html()
        pytest.fail("the refresh should have crashed")

    text = report(row.pk)
    assert "boom" in text
    assert refresh_token not in text
    assert decrypt(row.access_token) not in text
