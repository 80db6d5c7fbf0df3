"""ChangeBank end to end on the live development IdP: real sign-in, real tokens, real JWKS, real HTTP."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from oauthbff.http import upstream_session
from oauthbff.models import OIDCSession
from oauthbff.refresh import get_access_token
from tests.changebank.fakes import EchoUpstream, request_for

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

XCSRF = {"HTTP_X_CSRF": "1"}


def access_token_of(client, email):
    """The access token the BFF holds for a signed-in client (read server-side, as the BFF does)."""
    user = User.objects.get(email=email)
    return get_access_token(request_for(client, user))


def test_session_roles_decide(signed_in_client):
    teller = signed_in_client("teller@example.com")
    assert teller.get("/api/make-change?total=3.24").json() == {
        "total": 3.24,
        "nickels": 64,
        "pennies": 4,
    }
    assert teller.post("/api/panic").json() == {"message": "We've called the police!"}
    customer = signed_in_client("customer@example.com")
    assert customer.get("/api/make-change?total=1.02").json()["pennies"] == 2
    assert customer.post("/api/panic").status_code == 403
    admin = signed_in_client("admin@example.com")
    assert admin.get("/api/make-change?total=1").status_code == 403


def test_the_idps_access_tokens_work_as_bearer_and_cookie(signed_in_client):
    browser = signed_in_client("teller@example.com")
    token = access_token_of(browser, "teller@example.com")
    api = Client(enforce_csrf_checks=True)
    response = api.post("/api/panic", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    cookie_client = Client()
    cookie_client.cookies["app.at"] = token
    assert cookie_client.get("/api/make-change?total=0.3").json()["nickels"] == 6

    customer = signed_in_client("customer@example.com")
    customer_token = access_token_of(customer, "customer@example.com")
    response = api.post("/api/panic", HTTP_AUTHORIZATION=f"Bearer {customer_token}")
    assert response.status_code == 403


def test_a_logout_token_signed_by_the_idp_is_not_an_access_token(devidp, bff_on_devidp, client):
    token = devidp.logout_token(sub=devidp.user_id("teller@example.com"))
    response = client.get("/api/make-change?total=1", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 401


def test_the_home_page_shows_the_panel(signed_in_client):
    teller = signed_in_client("teller@example.com")
    html = teller.get("/").content.decode()
    assert 'id="changebank"' in html
    assert '<span class="pill">Teller</span>' in html
    assert 'data-changebank="panic"' in html
    customer_html = signed_in_client("customer@example.com").get("/").content.decode()
    assert 'data-changebank="panic"' not in customer_html


@pytest.fixture
def own_api(live_server):
    """The BFF's own API served over HTTP; pooled keep-alive connections to it close before it stops."""
    yield f"{live_server.url}/api"
    upstream_session.close()


@pytest.mark.django_db(transaction=True)
def test_proxy_to_our_own_api_end_to_end(settings, signed_in_client, own_api):
    """Browser -> /bff/api/changebank/... -> (HTTP, bearer) -> /api/... verified against the JWKS."""
    settings.OAUTHBFF = {**settings.OAUTHBFF, "UPSTREAMS": {"changebank": own_api}}
    teller = signed_in_client("teller@example.com")
    response = teller.get("/bff/api/changebank/make-change?total=4.35", **XCSRF)
    assert response.status_code == 200
    assert response.json() == {"total": 4.35, "nickels": 87, "pennies": 0}
    assert teller.post("/bff/api/changebank/panic", **XCSRF).status_code == 200
    response = teller.get("/bff/api/changebank/make-change?total=abc", **XCSRF)
    assert response.status_code == 400
    customer = signed_in_client("customer@example.com")
    response = customer.post("/bff/api/changebank/panic", **XCSRF)
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"


@pytest.fixture
def echo():
    server = EchoUpstream()
    yield server
    server.stop()


def test_proxy_refreshes_an_expiring_token_before_calling(settings, signed_in_client, devidp, echo):
    settings.OAUTHBFF = {**settings.OAUTHBFF, "UPSTREAMS": {"echo": echo.url}}
    browser = signed_in_client("customer@example.com")
    browser.get("/bff/api/echo/first", **XCSRF)
    first = echo.last["headers"]["authorization"]
    refreshes = devidp.stats()["token_calls"]["refresh_token"]
    OIDCSession.objects.update(access_expires_at=timezone.now() + timedelta(seconds=1))
    response = browser.get("/bff/api/echo/second", **XCSRF)
    assert response.status_code == 200
    assert devidp.stats()["token_calls"]["refresh_token"] == refreshes + 1
    second = echo.last["headers"]["authorization"]
    assert second.startswith("Bearer ") and second != first


def test_proxy_answers_401_when_the_idp_ended_the_session(settings, signed_in_client, devidp, echo):
    settings.OAUTHBFF = {**settings.OAUTHBFF, "UPSTREAMS": {"echo": echo.url}}
    browser = signed_in_client("customer@example.com")
    user_id = devidp.user_id("customer@example.com")
    assert devidp.api("DELETE", f"/api/jwt/refresh?userId={user_id}").status_code < 300
    OIDCSession.objects.update(access_expires_at=timezone.now() - timedelta(seconds=1))
    response = browser.get("/bff/api/echo/items", **XCSRF)
    assert response.status_code == 401
    assert not response.has_header("Location")
    assert echo.received == []
