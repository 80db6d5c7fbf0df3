"""oauthbff against the live development IdP over HTTP (the real code flow, refresh, logout)."""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from oauthbff.crypto import decrypt
from oauthbff.models import OIDCIdentity, OIDCSession
from oauthbff.provider import reset_providers
from tests.fixtures.auth import sign_in_client

pytestmark = [pytest.mark.django_db, pytest.mark.slow, pytest.mark.smoke]


def expire_tokens():
    OIDCSession.objects.active().update(access_expires_at=timezone.now() - timedelta(seconds=1))


def refresh_calls(devidp):
    return devidp.stats()["token_calls"]["refresh_token"]


def test_customer_signs_in_by_sub(signed_in_client, devidp):
    client = signed_in_client("customer@example.com")
    data = client.get("/auth/user/").json()
    assert data["authenticated"] and data["user"]["email"] == "customer@example.com"
    assert data["user"]["roles"] == ["customer"]
    identity = OIDCIdentity.objects.get(user__email="customer@example.com")
    assert identity.subject == devidp.user_id("customer@example.com")
    assert identity.issuer == devidp.url
    row = OIDCSession.objects.get()
    assert row.sid and row.refresh_token and row.access_expires_at > timezone.now()


def test_admin_is_staff_and_reaches_admin(signed_in_client):
    client = signed_in_client("admin@example.com")
    assert client.get("/admin/").status_code == 200
    teller = signed_in_client("teller@example.com")
    assert sorted(teller.get("/auth/user/").json()["user"]["roles"]) == ["customer", "teller"]
    assert teller.get("/admin/login/").status_code == 403


def test_admin_login_round_trip(bff_on_devidp, devidp):
    client = Client()
    start = client.get("/admin/login/?next=/admin/")
    assert start["Location"] == "/auth/login/?next=%2Fadmin%2F"
    response = sign_in_client(client, devidp, "admin@example.com", next_url="/admin/")
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


@pytest.mark.parametrize("policy", ["Reusable", "OneTimeUse"])
def test_refresh_with_both_policies(signed_in_client, devidp, policy):
    devidp.set_refresh_policy(policy)
    client = signed_in_client("customer@example.com")
    before = refresh_calls(devidp)
    for round_ in range(1, 3):
        expire_tokens()
        assert client.post("/auth/user/").status_code == 405  # POST refreshes too
        assert refresh_calls(devidp) == before + round_
        assert client.get("/auth/user/").status_code == 200
    assert refresh_calls(devidp) == before + 2
    assert OIDCSession.objects.get().version == 2


def test_refresh_endpoint_live(signed_in_client, devidp):
    client = signed_in_client()
    before = refresh_calls(devidp)
    response = client.post("/auth/refresh/")
    assert response.status_code == 200 and refresh_calls(devidp) == before + 1
    assert "access_token" not in response.json()


def set_roles(devidp, email, roles):
    path = f"/api/user/registration/{devidp.user_id(email)}/{devidp.application_id}"
    response = devidp.api(
        "PATCH",
        path,
        json={"registration": {"roles": roles}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert response.status_code == 200, response.text


def test_role_granted_at_the_idp_applies_at_the_next_refresh(signed_in_client, devidp):
    client = signed_in_client("customer@example.com")
    refused = client.post("/changebank/panic/")
    assert refused.status_code == 403
    set_roles(devidp, "customer@example.com", ["customer", "teller"])
    try:
        assert client.get("/auth/user/").json()["user"]["roles"] == ["customer"]
        expire_tokens()
        assert client.get("/auth/user/").json()["user"]["roles"] == ["customer", "teller"]
        assert client.post("/changebank/panic/").status_code == 200
    finally:
        set_roles(devidp, "customer@example.com", ["customer"])
    expire_tokens()
    assert client.get("/auth/user/").json()["user"]["roles"] == ["customer"]
    assert client.post("/changebank/panic/").status_code == 403


def test_logout_revokes_and_ends_idp_session(signed_in_client, devidp):
    devidp.allow_redirect_uri("http://testserver/")
    client = signed_in_client()
    row = OIDCSession.objects.get()
    refresh_token = decrypt(row.refresh_token)
    response = client.post("/auth/logout/")
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith(f"{devidp.url}/oauth2/logout?")
    params = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert params["post_logout_redirect_uri"] == "http://testserver/" and params["state"]
    assert "id_token_hint" not in params and params["client_id"] == devidp.client_id
    landing = requests.get(location, allow_redirects=False, timeout=10)
    assert landing.status_code == 302
    assert landing.headers["Location"].startswith("http://testserver/")
    assert client.get("/auth/user/").status_code == 401
    # The refresh token was revoked at the provider, not only forgotten here.
    if refresh_token:
        token = requests.post(
            f"{devidp.url}/oauth2/token",
            data={"grant_type": "refresh_token", "refresh_token": refresh_token},
            auth=(devidp.client_id, devidp.client_secret),
            timeout=10,
        )
        assert token.status_code == 400 and token.json()["error"] == "invalid_grant"


def test_backchannel_logout_with_devidp_token(signed_in_client, devidp):
    client = signed_in_client()
    row = OIDCSession.objects.get()
    minted = requests.get(
        f"{devidp.url}/_dev/logout-token",
        params={"aud": devidp.client_id, "sub": row.subject, "sid": row.sid},
        timeout=10,
    )
    assert minted.status_code == 200
    logout_token = minted.json()["logout_token"]
    response = Client().post("/auth/backchannel-logout/", {"logout_token": logout_token})
    assert response.status_code == 200
    assert client.get("/auth/user/").status_code == 401
    replay = Client().post("/auth/backchannel-logout/", {"logout_token": logout_token})
    assert replay.status_code == 400


def test_revoked_refresh_token_ends_session(signed_in_client, devidp):
    client = signed_in_client()
    user_id = devidp.user_id("customer@example.com")
    assert devidp.api("DELETE", f"/api/jwt/refresh?userId={user_id}").status_code in (200, 204)
    expire_tokens()
    api = client.get("/auth/user/", HTTP_ACCEPT="application/json")
    assert api.status_code == 401 and api.json()["error"] == "session_expired"
    client = signed_in_client()
    devidp.api("DELETE", f"/api/jwt/refresh?userId={user_id}")
    expire_tokens()
    page = client.get("/account/")
    assert page.status_code == 302 and page["Location"] == "/auth/login/?next=%2Faccount%2F"


def test_provider_down(signed_in_client, devidp):
    client = signed_in_client()
    devidp.stop()
    try:
        expire_tokens()
        assert client.get("/auth/user/").status_code == 200  # session kept while the IdP is down
        assert client.post("/auth/refresh/").status_code == 503
        cache.clear()
        reset_providers()
        page = Client().get("/auth/login/")
        assert page.status_code == 503 and "Try again" in page.content.decode()
    finally:
        devidp.start()
    assert client.post("/auth/refresh/").status_code == 200
