"""ChangeBank's endpoints over HTTP: each status code, the money edge cases, the no-JS pages."""

import pytest
from django.contrib.auth.models import Group, User
from django.template.loader import render_to_string
from django.test import Client, RequestFactory

from tests.changebank.fakes import sign_in_locally, use_local_issuer

pytestmark = pytest.mark.django_db


@pytest.fixture
def issuer(settings):
    return use_local_issuer(settings)


@pytest.fixture
def customer_token(issuer):
    return issuer.mint(roles=["customer"])


def auth(token):
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def make_user(email, roles):
    user = User.objects.create_user(username=email, email=email)
    for role in roles:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


@pytest.mark.parametrize(
    ("total", "expected"),
    [
        ("0", {"total": 0.0, "nickels": 0, "pennies": 0}),
        ("0.05", {"total": 0.05, "nickels": 1, "pennies": 0}),
        ("1.02", {"total": 1.02, "nickels": 20, "pennies": 2}),
        ("3.24", {"total": 3.24, "nickels": 64, "pennies": 4}),
        ("0.3", {"total": 0.3, "nickels": 6, "pennies": 0}),
        ("4.35", {"total": 4.35, "nickels": 87, "pennies": 0}),
        ("1.15", {"total": 1.15, "nickels": 23, "pennies": 0}),
    ],
)
def test_make_change(client, customer_token, total, expected):
    response = client.get("/api/make-change", {"total": total}, **auth(customer_token))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == expected


def test_make_change_json_prints_the_total_as_a_plain_number(client, customer_token):
    response = client.get("/api/make-change?total=3.24", **auth(customer_token))
    assert response.content == b'{"total": 3.24, "nickels": 64, "pennies": 4}'


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("", "Enter an amount"),
        ("?total=", "Enter an amount"),
        ("?total=abc", "with the digits 0-9"),
        ("?total=-1", "negative"),
        ("?total=1e9", "with the digits 0-9"),
        ("?total=1000000000", "at most"),
        ("?total=NaN", "with the digits 0-9"),
        ("?total=1.234", "two digits after the point"),
        # Arabic-Indic digits: Decimal("٣.٢٤") is 3.24, but only ASCII digits are an amount here.
        ("?total=%D9%A3.%D9%A2%D9%A4", "with the digits 0-9"),
    ],
)
def test_bad_totals_are_400_with_a_message(client, customer_token, query, reason):
    response = client.get(f"/api/make-change{query}", **auth(customer_token))
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_total"
    assert body["parameter"] == "total"
    assert reason in body["message"]


def test_authentication_comes_before_validation(client, issuer):
    assert client.get("/api/make-change?total=abc").status_code == 401


def test_wrong_methods_are_405(client, customer_token, issuer):
    assert client.post("/api/make-change?total=1", **auth(customer_token)).status_code == 405
    teller = issuer.mint(roles=["teller"])
    assert client.get("/api/panic", **auth(teller)).status_code == 405


def test_status_codes_of_panic(client, issuer):
    assert client.post("/api/panic").status_code == 401
    assert client.post("/api/panic", **auth(issuer.mint(roles=["customer"]))).status_code == 403
    response = client.post("/api/panic", **auth(issuer.mint(roles=["teller"])))
    assert response.status_code == 200
    assert response.json() == {"message": "We've called the police!"}


# --- the no-JS pages ------------------------------------------------------------------------------
def test_change_page_shows_the_result(client):
    client.force_login(make_user("c@example.com", ["customer"]))
    response = client.get("/changebank/make-change/", {"total": "3.24"})
    assert response.status_code == 200
    text = response.content.decode()
    assert "64</strong> nickels" in text
    assert "4</strong> pennies" in text


def test_change_page_explains_bad_input(client):
    client.force_login(make_user("c@example.com", ["customer"]))
    response = client.get("/changebank/make-change/", {"total": "-1"})
    assert response.status_code == 400
    text = response.content.decode()
    assert "The amount can&#x27;t be negative." in text
    assert '<h1 id="result-title">Check the amount</h1>' in text
    assert 'value="-1"' in text, "the form comes back with what was typed"


def test_change_page_needs_a_role(client):
    client.force_login(make_user("a@example.com", ["admin"]))
    response = client.get("/changebank/make-change/", {"total": "1"})
    assert response.status_code == 403


def test_change_page_sends_anonymous_users_to_sign_in(client):
    response = client.get("/changebank/make-change/", {"total": "1"})
    assert response.status_code == 302
    assert "/auth/login/" in response["Location"]


def test_panic_page_is_csrf_protected_and_for_tellers(issuer):
    browser = Client(enforce_csrf_checks=True)
    teller = make_user("t@example.com", ["teller"])
    sign_in_locally(browser, teller, issuer.mint(roles=["teller"]), issuer=issuer)
    assert browser.post("/changebank/panic/").status_code == 403
    browser.cookies["bff_csrftoken"] = "c" * 32
    # The first press only asks: nobody is called until the teller confirms.
    response = browser.post("/changebank/panic/", {"csrfmiddlewaretoken": "c" * 32})
    assert response.status_code == 200
    text = response.content.decode()
    assert "Call the police?" in text and "called the police" not in text
    assert 'name="confirm" value="yes"' in text
    response = browser.post(
        "/changebank/panic/", {"csrfmiddlewaretoken": "c" * 32, "confirm": "yes"}
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert "called the police" in text
    assert "msg-alert" in text and "msg-success" not in text, "an alarm is not a success"

    customer_browser = Client()
    customer_browser.force_login(make_user("c@example.com", ["customer"]))
    refused = customer_browser.post("/changebank/panic/", {"confirm": "yes"})
    assert refused.status_code == 403
    text = refused.content.decode()
    assert "Alarm not sent" in text and "Only tellers can raise the alarm" in text
    assert "make change" not in text.lower()


# --- the home-page panel ----------------------------------------------------------------------------
def render_panel(user):
    request = RequestFactory().get("/")
    request.user = user
    return render_to_string("changebank/_panel.html", {"user": user}, request=request)


def test_panel_shows_roles_and_the_panic_button_to_tellers(settings):
    settings.OAUTHBFF = {**settings.OAUTHBFF, "UPSTREAMS": {"changebank": "http://x/api"}}
    html = render_panel(make_user("t@example.com", ["teller", "customer"]))
    assert '<span class="pill">Customer</span><span class="pill">Teller</span>' in html
    assert 'data-changebank="panic"' in html
    assert 'data-api-base="/bff/api/changebank"' in html
    assert 'aria-live="polite"' in html
    assert '<label for="changebank-total">' in html


def test_panel_hides_panic_from_customers_and_calls_the_api_directly_without_a_proxy(settings):
    settings.OAUTHBFF = {**settings.OAUTHBFF, "UPSTREAMS": {}}
    html = render_panel(make_user("c@example.com", ["customer"]))
    assert 'data-changebank="panic"' not in html
    assert "Panic" not in html
    assert 'data-api-base="/api"' in html
