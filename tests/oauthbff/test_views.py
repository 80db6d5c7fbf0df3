import json
import logging
import time
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import requests
import responses
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from oauthbff.callback import pending_sign_in
from oauthbff.crypto import decrypt
from oauthbff.models import OIDCIdentity, OIDCSession
from oauthbff.sessions import SESSION_KEY
from oauthbff.signals import session_ended, user_signed_in
from tests.oauthbff.fakeop import CLIENT_ID, CLIENT_SECRET, ISSUER, authorize_params, sign_in

pytestmark = pytest.mark.django_db


def test_login_redirect_has_state_nonce_pkce(client, op):
    response = client.get("/auth/login/?next=/somewhere&prompt=login&login_hint=ada@example.com")
    assert response.status_code == 302
    assert response["Location"].startswith(f"{ISSUER}/oauth2/authorize?")
    params = authorize_params(response["Location"])
    assert params["response_type"] == "code"
    assert params["client_id"] == CLIENT_ID
    assert params["code_challenge_method"] == "S256"
    assert len(params["code_challenge"]) == 43
    assert len(params["state"]) >= 32 and len(params["nonce"]) >= 32
    assert params["redirect_uri"] == "http://testserver/auth/callback/"
    assert params["prompt"] == "login" and params["login_hint"] == "ada@example.com"
    assert "offline_access" in params["scope"].split()
    again = authorize_params(client.get("/auth/login/")["Location"])
    assert again["state"] != params["state"] and again["nonce"] != params["nonce"]


def test_bogus_prompt_is_dropped(client, op):
    params = authorize_params(client.get("/auth/login/?prompt=evil")["Location"])
    assert "prompt" not in params


def test_sign_in_creates_user_by_sub_and_cycles_session(client, op, caplog):
    caplog.set_level(logging.DEBUG)
    client.get("/")
    received = []
    user_signed_in.connect(lambda **kw: received.append(kw), weak=False, dispatch_uid="t1")
    try:
        start = client.get("/auth/login/?next=/after/")
        before_key = client.session.session_key
        params = authorize_params(start["Location"])
        op.codes["c1"] = params["nonce"]
        response = client.get("/auth/callback/", {"code": "c1", "state": params["state"]})
    finally:
        user_signed_in.disconnect(dispatch_uid="t1")
    assert response.status_code == 302 and response["Location"] == "/after/"
    assert client.session.session_key != before_key
    user = get_user_model().objects.get()
    assert user.username == op.sub and user.email == op.email
    assert OIDCIdentity.objects.get(user=user).subject == op.sub
    assert [g.name for g in user.groups.all()] == ["customer"]
    assert not user.is_staff
    row = OIDCSession.objects.get()
    assert OIDCSession.objects.for_session_key(client.session.session_key).get() == row
    assert row.sid == "sso-session-1"
    assert row.refresh_token_id == "refresh-id-1"
    assert client.session[SESSION_KEY] == row.pk
    # Tokens are not in the session dict and are encrypted at rest.
    tokens = op.token_requests[0]
    assert "code_verifier" in tokens["form"]
    assert tokens["headers"]["Authorization"].startswith("Basic ")
    assert "client_secret" not in tokens["form"]
    raw = json.dumps(dict(client.session.items()))
    assert "rt-" not in raw and "eyJ" not in raw
    assert "rt-" not in row.refresh_token and not row.access_token.startswith("eyJ")
    # Signal carries claims and expiry.
    assert received[0]["claims"]["sub"] == op.sub
    assert received[0]["access_claims"]["roles"] == ["customer"]
    assert received[0]["expires_at"] is not None
    # Tokens never reach the log.
    assert "eyJ" not in caplog.text and "rt-" not in caplog.text


def test_identity_is_sub_not_email(client, op):
    other = get_user_model().objects.create_user("someone", email=op.email)
    sign_in(client, op)
    user = get_user_model().objects.get(oidc_identity__subject=op.sub)
    assert user.pk != other.pk
    # Same sub, new e-mail: same user, e-mail updated.
    op.email = "new@example.com"
    sign_in(Client(), op)
    assert get_user_model().objects.get(pk=user.pk).email == "new@example.com"
    assert get_user_model().objects.count() == 2


def test_client_secret_post(client, op, settings):
    settings.OAUTHBFF = {**settings.OAUTHBFF, "TOKEN_AUTH_METHOD": "client_secret_post"}
    response, _ = sign_in(client, op)
    assert response.status_code == 302
    form = op.token_requests[0]["form"]
    assert form["client_secret"] == CLIENT_SECRET and form["client_id"] == CLIENT_ID
    assert "Authorization" not in op.token_requests[0]["headers"]


def test_admin_role_makes_staff_and_superuser(client, op):
    op.roles = ["admin"]
    sign_in(client, op)
    user = get_user_model().objects.get()
    assert user.is_staff and user.is_superuser
    assert client.get("/admin/").status_code == 200
    op.roles = ["customer"]
    sign_in(Client(), op)
    user.refresh_from_db()
    assert not user.is_staff and not user.is_superuser


def test_next_must_be_local(client, op):
    response, _ = sign_in(client, op, next_url="https://evil.example/")
    assert response["Location"] == "/"


@pytest.mark.parametrize(
    ("override", "title"),
    [
        ({"nonce": "wrong"}, "Sign-in failed"),
        ({"iss": "https://evil.example"}, "Sign-in failed"),
        ({"aud": "other"}, "Sign-in failed"),
        ({"exp": int(time.time()) - 3600}, "Sign-in failed"),
    ],
)
def test_bad_id_token_gives_a_page_not_500(client, op, override, title):
    op.id_claims_override = override
    response, _ = sign_in(client, op)
    assert response.status_code == 400
    assert title in response.content.decode()
    assert "Try again" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_anonymous_sign_in_starts_write_no_session_rows(op):
    from django.contrib.sessions.models import Session

    for _ in range(30):
        assert Client().get("/auth/login/").status_code == 302
    assert Session.objects.count() == 0


def test_the_pending_sign_in_cookie_is_host_only_and_http_only_over_https(op, settings):
    settings.SESSION_COOKIE_SECURE = True
    client = Client()
    client.get("/auth/login/", secure=True)
    cookie = client.cookies["__Host-oauthbff_signin"]
    assert cookie["secure"] and cookie["httponly"] and cookie["path"] == "/"
    assert not cookie["domain"] and cookie["samesite"] == "Lax"


def test_pending_sign_ins_are_bounded_per_browser_and_bound_to_it(client, op):
    """A browser keeps its last five sign-ins; a state is good in the browser that started it."""
    starts = [authorize_params(client.get("/auth/login/")["Location"]) for _ in range(7)]
    for params in starts[:2]:
        op.codes["c-" + params["state"]] = params["nonce"]
        answer = client.get("/auth/callback/", {"code": "c-" + params["state"], **params})
        assert answer.status_code == 400 and "already used" in answer.content.decode()
    stranger = Client()
    last = starts[-1]
    op.codes["c-last"] = last["nonce"]
    assert (
        stranger.get("/auth/callback/", {"code": "c-last", "state": last["state"]}).status_code
        == 400
    )
    assert OIDCSession.objects.count() == 0
    op.codes["c-mine"] = starts[2]["nonce"]
    mine = client.get("/auth/callback/", {"code": "c-mine", "state": starts[2]["state"]})
    assert mine.status_code == 302 and OIDCSession.objects.count() == 1


@pytest.mark.parametrize(
    "claims",
    [
        {"azp": "another-client"},
        {"aud": [CLIENT_ID, "another-client"]},
        {"aud": [CLIENT_ID, "another-client"], "azp": "another-client"},
    ],
)
def test_an_id_token_for_another_authorized_party_does_not_sign_in(client, op, claims):
    """OIDC Core §3.1.3.7: azp, when present or when aud names several clients, must be us."""
    op.id_claims_override = claims
    response, _ = sign_in(client, op)
    assert response.status_code == 400
    assert "could not verify" in response.content.decode()
    assert not OIDCSession.objects.exists() and "_auth_user_id" not in client.session


def test_an_id_token_for_several_audiences_with_our_azp_signs_in(client, op):
    op.id_claims_override = {"aud": [CLIENT_ID, "another-client"], "azp": CLIENT_ID}
    response, _ = sign_in(client, op)
    assert response.status_code == 302 and OIDCSession.objects.count() == 1


def test_replayed_state(client, op):
    response, params = sign_in(client, op)
    assert response.status_code == 302
    replay = client.get("/auth/callback/", {"code": "x", "state": params["state"]})
    assert replay.status_code == 400
    assert "already used" in replay.content.decode()


def test_unknown_state_and_missing_code(client, op):
    assert client.get("/auth/callback/", {"code": "x", "state": "nope"}).status_code == 400
    assert client.get("/auth/callback/").status_code == 400


def test_expired_state(client, op, settings):
    settings.OAUTHBFF = {**settings.OAUTHBFF, "STATE_MAX_AGE": -1}
    response, _ = sign_in(client, op)
    assert response.status_code == 400 and "took too long" in response.content.decode()


def test_error_reply_access_denied(client, op):
    params = authorize_params(client.get("/auth/login/")["Location"])
    response = client.get("/auth/callback/", {"error": "access_denied", "state": params["state"]})
    assert response.status_code == 403
    body = response.content.decode()
    assert "Sign-in cancelled" in body and "/auth/login/" in body
    assert pending_sign_in(params["state"]) is None


def test_iss_parameter_mismatch(client, op):
    response, _ = sign_in(client, op, extra_callback={"iss": "https://evil.example"})
    assert response.status_code == 400
    assert "unexpected identity provider" in response.content.decode()
    response, _ = sign_in(client, op, extra_callback={"iss": ISSUER})
    assert response.status_code == 302


def test_iss_required_when_advertised(client, op):
    op.metadata["authorization_response_iss_parameter_supported"] = True
    response, _ = sign_in(client, op)
    assert response.status_code == 400


def test_token_endpoint_5xx_and_timeout(client, op):
    op.token_override = lambda form: (503, {"oops": "body-secret"})
    response, _ = sign_in(client, op)
    assert response.status_code == 502
    assert "body-secret" not in response.content.decode()

    def timeout(form):
        raise requests.exceptions.ReadTimeout()

    op.token_override = timeout
    response, _ = sign_in(client, op)
    assert response.status_code == 502 and "could not reach" in response.content.decode()


def test_token_endpoint_refuses_code(client, op):
    op.token_override = lambda form: (400, {"error": "invalid_grant"})
    response, _ = sign_in(client, op)
    assert response.status_code == 400 and "refused" in response.content.decode()


def test_provider_unreachable_at_login(client, settings):
    settings.OAUTHBFF = {**settings.OAUTHBFF, "ISSUER": "http://127.0.0.1:9", "HTTP_TIMEOUT": 1}
    from oauthbff.provider import reset_providers

    reset_providers()
    response = client.get("/auth/login/")
    assert response.status_code == 503
    assert "Try again" in response.content.decode()


def test_opaque_access_token_uses_userinfo(client, op):
    original = op.token_response

    def opaque(nonce=None, refresh=True):
        data = original(nonce=nonce, refresh=refresh)
        data["access_token"] = "opaque-token"
        return data

    op.token_response = opaque
    op.roles = ["teller"]
    response, _ = sign_in(client, op)
    assert response.status_code == 302
    assert op.calls["userinfo"] == 1
    assert [g.name for g in get_user_model().objects.get().groups.all()] == ["teller"]


def test_access_token_for_another_audience_falls_back_to_userinfo(client, op):
    original = op.token_response

    def foreign(nonce=None, refresh=True):
        data = original(nonce=nonce, refresh=refresh)
        data["access_token"] = op.access_token(aud="https://api.example", roles=["forged"])
        return data

    op.token_response = foreign
    op.roles = ["teller"]
    response, _ = sign_in(client, op)
    assert response.status_code == 302
    assert op.calls["userinfo"] == 1
    assert [g.name for g in get_user_model().objects.get().groups.all()] == ["teller"]


def test_userinfo_for_another_subject_rejects_sign_in(client, op):
    original = op.token_response

    def opaque(nonce=None, refresh=True):
        data = original(nonce=nonce, refresh=refresh)
        data["access_token"] = "opaque"
        return data

    op.token_response = opaque
    op.id_claims_override = {"sub": "someone-else"}
    response, _ = sign_in(client, op)
    assert response.status_code == 403 and "Sign-in failed" in response.content.decode()
    assert get_user_model().objects.count() == 0


def test_roles_claim_dotted_path(client, op, settings):
    settings.OAUTHBFF = {**settings.OAUTHBFF, "ROLES_CLAIM": "realm_access.roles"}
    original = op.access_token
    op.access_token = lambda **extra: original(realm_access={"roles": ["admin"]}, **extra)
    sign_in(client, op)
    assert get_user_model().objects.get().is_staff
    assert OIDCSession.objects.get().claims["roles"] == ["admin"]
    assert client.get("/auth/user/").json()["user"]["roles"] == ["admin"]


def test_session_roles_come_from_the_session_row_without_a_query(client, op):
    sign_in(client, op)
    client.get("/auth/user/")
    with CaptureQueriesContext(connection) as queries:
        data = client.get("/auth/user/").json()
    assert data["user"]["roles"] == ["customer"]
    assert not [q for q in queries.captured_queries if "auth_group" in q["sql"]]


def test_user_endpoint(client, op):
    anonymous = client.get("/auth/user/")
    assert anonymous.status_code == 401 and anonymous.json()["authenticated"] is False
    sign_in(client, op)
    data = client.get("/auth/user/").json()
    assert data["authenticated"] and data["claims"]["email"] == op.email
    assert data["user"]["roles"] == ["customer"]
    assert data["logout_url"] == "/auth/logout/"
    assert data["access_token_expires_at"] and data["session_expires_at"]
    assert "eyJ" not in json.dumps(data) and "rt-" not in json.dumps(data)


def test_refresh_endpoint_post_csrf(op):
    client = Client(enforce_csrf_checks=True)
    sign_in(client, op)
    assert client.get("/auth/refresh/").status_code == 405
    assert client.post("/auth/refresh/").status_code == 403  # no CSRF token
    client.get("/auth/user/")
    token = client.cookies["bff_csrftoken"].value if "bff_csrftoken" in client.cookies else None
    if token is None:
        client.get("/auth/logout/")
        token = client.cookies["bff_csrftoken"].value
    response = client.post("/auth/refresh/", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200
    body = response.json()
    assert body["access_token_expires_at"] and body["version"] == 1
    assert "eyJ" not in response.content.decode()
    assert op.grants == ["authorization_code", "refresh_token"]


def test_refresh_endpoint_anonymous(client, op):
    assert client.post("/auth/refresh/").status_code == 401


def test_the_id_token_hint_is_sent_only_when_asked_for(client, op, settings):
    """LOGOUT_ID_TOKEN_HINT: for a provider that asks for confirmation without it (Keycloak)."""
    settings.OAUTHBFF = {**settings.OAUTHBFF, "LOGOUT_ID_TOKEN_HINT": True}
    sign_in(client, op)
    id_token = decrypt(OIDCSession.objects.get().id_token)
    params = authorize_params(client.post("/auth/logout/")["Location"])
    assert params["id_token_hint"] == id_token and params["client_id"] == CLIENT_ID


def test_logout_get_confirms_post_signs_out(op):
    client = Client(enforce_csrf_checks=True)
    sign_in(client, op)
    page = client.get("/auth/logout/")
    assert page.status_code == 200 and "Sign out?" in page.content.decode()
    assert client.post("/auth/logout/").status_code == 403  # CSRF
    ended = []
    session_ended.connect(lambda **kw: ended.append(kw), weak=False, dispatch_uid="t2")
    try:
        token = client.cookies["bff_csrftoken"].value
        response = client.post("/auth/logout/", HTTP_X_CSRFTOKEN=token)
    finally:
        session_ended.disconnect(dispatch_uid="t2")
    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{ISSUER}/oauth2/logout"
    params = authorize_params(response["Location"])
    assert params["post_logout_redirect_uri"] == "http://testserver/"
    assert params["state"] and params["client_id"] == CLIENT_ID
    # The ID token (personal data) stays on the server; the provider's sid names the session.
    assert "id_token_hint" not in params and "eyJ" not in response["Location"]
    assert params["logout_hint"] == "sso-session-1"
    assert op.calls["revoke"] == 1 and not op.refresh_tokens
    assert client.get("/auth/user/").status_code == 401
    assert ended[0]["reason"] == "logout"
    assert OIDCSession.objects.get().ended_at is not None


def test_logout_without_end_session_endpoint(client, op):
    del op.metadata["end_session_endpoint"]
    del op.metadata["revocation_endpoint"]
    sign_in(client, op)
    response = client.post("/auth/logout/")
    assert response.status_code == 302 and response["Location"] == "/"
    assert op.calls["revoke"] == 0


def test_logout_anonymous(client, op):
    assert client.post("/auth/logout/")["Location"] == "/"
    assert client.get("/auth/logout/")["Location"] == "/"


def test_admin_login_goes_to_provider(client, op):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"] == "/auth/login/?next=%2Fadmin%2F"
    sign_in(client, op)
    denied = client.get("/admin/login/")
    assert denied.status_code == 403 and "No admin access" in denied.content.decode()
    assert client.get("/admin/")["Location"].startswith("/admin/login/")


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/admin/", "https:evil.example", "/\\evil.example"],
)
def test_admin_login_keeps_staff_on_the_site(client, op, target):
    response = client.get("/admin/login/", {"next": target})
    assert response.status_code == 302
    assert response["Location"] == "/auth/login/?next=%2Fadmin%2F"
    op.roles = ["admin"]
    sign_in(client, op)
    again = client.get("/admin/login/", {"next": target})
    assert again.status_code == 302 and again["Location"] == "/admin/"


def test_admin_sign_out_revokes_and_ends_the_provider_session(op):
    op.roles = ["admin"]
    client = Client(enforce_csrf_checks=True)
    sign_in(client, op)
    page = client.get("/admin/")
    assert page.status_code == 200
    token = page.context["csrf_token"]
    assert client.post("/admin/logout/").status_code == 403  # CSRF, as the admin's own
    response = client.post("/admin/logout/", {"csrfmiddlewaretoken": str(token)})
    assert response.status_code == 302
    assert response["Location"].startswith(f"{ISSUER}/oauth2/logout?")
    assert op.calls["revoke"] == 1 and not op.refresh_tokens
    assert OIDCSession.objects.get().end_reason == "logout"
    assert client.get("/admin/")["Location"].startswith("/admin/login/")
    assert client.get("/admin/logout/")["Location"] == "/auth/logout/"


def test_sessions_page_ends_other_sessions(op):
    first, second = Client(), Client()
    sign_in(first, op)
    sign_in(second, op)
    page = first.get("/auth/sessions/")
    assert page.status_code == 200 and "This session" in page.content.decode()
    first.post("/auth/sessions/", {"action": "end_others"})
    assert first.get("/auth/user/").status_code == 200
    assert second.get("/auth/user/").status_code == 401
    assert OIDCSession.objects.active().count() == 1


def test_deactivating_a_user_ends_and_revokes_their_sessions(
    op, django_capture_on_commit_callbacks
):
    browsers = [Client(), Client()]
    for browser in browsers:
        sign_in(browser, op)
    user = get_user_model().objects.get()
    user.is_active = False
    with django_capture_on_commit_callbacks(execute=True):
        user.save()
    assert op.calls["revoke"] == 2 and not op.refresh_tokens
    assert set(OIDCSession.objects.values_list("end_reason", flat=True)) == {"deactivated"}
    for browser in browsers:
        assert browser.get("/auth/user/").status_code == 401
    user.first_name = "Ada"
    with django_capture_on_commit_callbacks(execute=True):
        user.save()
    assert op.calls["revoke"] == 2


@pytest.mark.parametrize(
    "method, path",
    [("get", "/auth/user/"), ("post", "/auth/refresh/"), ("get", "/api/make-change?total=1.00")],
)
def test_an_inactive_user_is_refused_on_every_request(client, op, method, path):
    """Deactivated without signals (a bulk update): the next request is anonymous anyway."""
    sign_in(client, op)
    get_user_model().objects.update(is_active=False)
    response = getattr(client, method)(path, HTTP_ACCEPT="application/json")
    assert response.status_code == 401
    assert "_auth_user_id" not in client.session
    assert OIDCSession.objects.get().end_reason == "user_inactive"
    assert op.calls["revoke"] == 1


# --- a provider known to be down: the product's page, never a dead host ------------------------------
def provider_goes_down(op):
    refused = requests.exceptions.ConnectionError("refused")
    op.rsps.replace(responses.GET, f"{ISSUER}/.well-known/openid-configuration", body=refused)
    op.rsps.replace(responses.POST, op.metadata["revocation_endpoint"], body=refused)

    def token_refused(form):
        raise refused

    op.token_override = token_refused


def provider_comes_back(op):
    op.rsps.replace(
        responses.CallbackResponse(
            responses.GET, f"{ISSUER}/.well-known/openid-configuration", callback=op._discovery
        )
    )
    op.token_override = None


def test_sign_in_with_the_provider_down_shows_the_unavailable_page_until_it_is_back(client, op):
    from django.core.cache import cache

    from oauthbff.provider import _cache_key

    sign_in(Client(), op)  # discovery cached here, in memory and in the shared cache
    provider_goes_down(op)
    cache.clear()  # long after the last answer: nothing says the provider is up
    page = client.get("/auth/login/")
    assert page.status_code == 503 and not page.has_header("Location")
    assert "Sign-in unavailable" in page.content.decode()
    # Marked down: the next starts get the page without waiting on the dead host each time.
    calls = op.calls["discovery"]
    assert client.get("/auth/login/").status_code == 503
    assert op.calls["discovery"] == calls
    admin = client.get("/admin/", follow=True)
    assert admin.status_code == 503
    assert not any(url.startswith(ISSUER) for url, _ in admin.redirect_chain)
    provider_comes_back(op)
    cache.delete(_cache_key("probe", ISSUER))  # as five seconds later: the next start probes
    again = client.get("/auth/login/")
    assert again.status_code == 302 and again["Location"].startswith(f"{ISSUER}/oauth2/authorize")


def test_a_failed_call_marks_the_provider_down_for_sign_in(client, op):
    """A refresh that cannot reach the provider: sign-in shows the page at once (no restart)."""
    sign_in(client, op)
    provider_goes_down(op)
    OIDCSession.objects.update(access_expires_at=timezone.now() - timedelta(seconds=5))
    client.get("/auth/user/")  # the refresh fails: the provider is marked down
    page = Client().get("/auth/login/")
    assert page.status_code == 503 and "Sign-in unavailable" in page.content.decode()


def test_sign_out_with_the_provider_down_signs_out_here_and_says_so(client, op):
    sign_in(client, op)
    provider_goes_down(op)
    client.post("/auth/refresh/")  # a failed call marks it down
    response = client.post("/auth/logout/")
    assert response.status_code == 200 and not response.has_header("Location")
    assert "Signed out here" in response.content.decode()
    assert OIDCSession.objects.get().end_reason == "logout"
    assert client.get("/auth/user/").status_code == 401


def test_signing_in_again_while_signed_in_replaces_the_session(client, op):
    """E.g. when an API asks for a new sign-in: a new session key, the old session ended."""
    sign_in(client, op)
    first_key = client.session.session_key
    response, _ = sign_in(client, op)
    assert response.status_code == 302 and client.session.session_key != first_key
    rows = OIDCSession.objects.order_by("pk")
    assert [row.end_reason for row in rows] == ["replaced", ""]
    assert client.get("/auth/user/").status_code == 200


def test_resource_goes_in_the_authorization_request_the_code_exchange_and_refresh(
    client, op, settings
):
    """RFC 8707 §2.1, §2.2: each RESOURCE is a resource parameter of its own."""
    from urllib.parse import parse_qs

    resources = ["https://api.example/", "urn:example:ledger"]
    settings.OAUTHBFF = {**settings.OAUTHBFF, "RESOURCE": resources}
    start = client.get("/auth/login/")
    assert parse_qs(urlsplit(start["Location"]).query)["resource"] == resources
    response, _ = sign_in(client, op)
    assert response.status_code == 302
    (exchange,) = op.token_requests
    assert exchange["lists"]["resource"] == resources
    assert client.post("/auth/refresh/").status_code == 200
    assert op.token_requests[-1]["lists"]["resource"] == resources


def test_userinfo_refusing_a_token_for_the_resource_still_signs_in(client, op, settings):
    """node-oidc-provider refuses a token with an audience at userinfo: the ID token serves."""
    settings.OAUTHBFF = {**settings.OAUTHBFF, "RESOURCE": ["https://api.example/"]}
    original = op.access_token
    op.access_token = lambda **extra: original(aud="https://api.example/", **extra)
    op.rsps.replace(responses.GET, op.metadata["userinfo_endpoint"], status=401)
    response, _ = sign_in(client, op)
    assert response.status_code == 302
    assert client.get("/auth/user/").json()["user"]["email"] == "ada@example.com"


def test_without_resource_or_audience_a_failing_userinfo_still_fails_the_sign_in(client, op):
    original = op.access_token
    op.access_token = lambda **extra: original(aud="another-api", **extra)
    op.rsps.replace(responses.GET, op.metadata["userinfo_endpoint"], status=500)
    response, _ = sign_in(client, op)
    assert response.status_code == 502
