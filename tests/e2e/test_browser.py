"""End to end in a real browser: chromium against the BFF (gunicorn) and the development IdP.

Each scenario is what a person does: sign in on the IdP's own page, type, reload, sign out, press
Back. Key steps leave screenshots in artifacts/screenshots/ for review.
"""

import re
import time
import uuid
from pathlib import Path

import pytest

from tests.e2e.conftest import CHROMIUM, PHONE, SKIP_REASON, shot
from tests.fixtures.stack import wait_until

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=SKIP_REASON),
]

CUSTOMER = "customer@example.com"
TELLER = "teller@example.com"
ADMIN = "admin@example.com"
NOT_LOGGED_IN = "You're not logged in."


def greeting(email):
    return f"Hi, {email}!"


def heading(page):
    return page.locator("h1").first.inner_text().strip()


def idp_sign_in(page, email, password="password", scenario=None):
    """On the IdP's sign-in page: type the e-mail and password and submit, like a person."""
    page.wait_for_selector("input[type=password]")
    if scenario:
        shot(page, scenario, "idp-sign-in")
    page.locator("input[name=loginId], input[type=email]").first.fill(email)
    page.locator("input[type=password]").first.fill(password)
    page.locator("form button[type=submit], form input[type=submit]").first.click()


def sign_in(page, stack, email, scenario=None):
    page.goto(f"{stack.url}/")
    page.get_by_role("link", name="Sign in").first.click()
    idp_sign_in(page, email, scenario=scenario)
    page.wait_for_url(f"{stack.url}/**")
    assert heading(page) == greeting(email)


def sign_out(page, stack):
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_function(
        "() => document.querySelector('h1') && "
        f"document.querySelector('h1').innerText.includes({NOT_LOGGED_IN!r})"
    )
    assert page.url.startswith(stack.url)


def type_and_wait_saved(page, text):
    field = page.locator("#userdata-text")
    field.fill("")
    field.press_sequentially(text, delay=5)
    page.wait_for_selector("#userdata-status[data-state=saved]", timeout=15_000)
    return field


def idp_user_text(devidp, email):
    user_id = devidp.user_id(email)
    path = f"/api/user/registration/{user_id}/{devidp.application_id}"
    return devidp.api("GET", path).json()["registration"].get("data", {}).get("userData")


@pytest.fixture
def restore_idp_data(devidp):
    """Put the users' IdP data back, so other tests sharing the IdP see the demo state."""
    saved = {}

    def remember(email):
        user_id = devidp.user_id(email)
        path = f"/api/user/registration/{user_id}/{devidp.application_id}"
        saved[email] = devidp.api("GET", path).json()["registration"].get("data", {})

    yield remember
    for email, data in saved.items():
        devidp.set_registration_data(email, data)


def test_customer_signs_in_types_reloads_signs_out_and_back(stack, new_page, restore_idp_data):
    restore_idp_data(CUSTOMER)
    page = new_page()
    page.goto(f"{stack.url}/")
    assert heading(page) == NOT_LOGGED_IN
    shot(page, "customer", "01-signed-out")

    page.get_by_role("link", name="Sign in").first.click()
    idp_sign_in(page, CUSTOMER, scenario="customer")
    page.wait_for_url(f"{stack.url}/**")
    assert heading(page) == greeting(CUSTOMER)
    shot(page, "customer", "02-home")

    text = f"Groceries: milk, bread.\nNote {uuid.uuid4().hex[:8]} ✓"
    type_and_wait_saved(page, text)
    shot(page, "customer", "03-saved")
    wait_until(
        lambda: idp_user_text(stack.idp, CUSTOMER) == text, 10, message="the text at the IdP"
    )

    page.reload()
    assert page.locator("#userdata-text").input_value() == text

    sign_out(page, stack)
    shot(page, "customer", "04-after-sign-out")
    assert page.locator("#userdata-text").input_value() == ""

    page.go_back()
    page.wait_for_load_state()
    assert greeting(CUSTOMER) not in page.content(), "Back revived the signed-in page"
    shot(page, "customer", "05-back-button")
    page.goto(f"{stack.url}/")
    assert heading(page) == NOT_LOGGED_IN
    status = page.evaluate(
        """async () => (await fetch('/userdata/', {method: 'POST',
             headers: {'Content-Type': 'application/json', 'Accept': 'application/json'},
             body: JSON.stringify({userData: 'after sign-out'})})).status"""
    )
    assert status in (401, 403)

    sign_in(page, stack, CUSTOMER)
    assert page.locator("#userdata-text").input_value() == text
    shot(page, "customer", "06-signed-in-again")
    assert idp_user_text(stack.idp, CUSTOMER) == text


def test_data_changed_at_the_idp_appears_after_the_webhook(stack, new_page, restore_idp_data):
    restore_idp_data(CUSTOMER)
    page = new_page()
    sign_in(page, stack, CUSTOMER)
    text = f"Changed by support at the IdP {uuid.uuid4().hex[:8]}"
    stack.idp.set_registration_data(CUSTOMER, {"userData": text})

    def shown():
        page.reload()
        return page.locator("#userdata-text").input_value() == text

    wait_until(shown, 10, interval=0.3, message="the IdP's change on the page")
    shot(page, "webhook", "01-changed-at-idp")


def test_teller_makes_change_and_panics(stack, new_page):
    page = new_page()
    sign_in(page, stack, TELLER)
    page.fill("#changebank-total", "3.24")
    page.get_by_role("button", name="Make change").click()
    result = page.locator("#changebank-result")
    result.filter(has_text="64").wait_for()
    assert re.search(r"64 nickels", result.inner_text())
    assert re.search(r"4 pennies", result.inner_text())
    shot(page, "teller", "01-make-change")
    page.get_by_role("button", name="Panic").click()
    # One press only asks; nothing is sent until the teller confirms.
    confirm = page.get_by_role("button", name="Yes, call the police")
    confirm.wait_for()
    assert "police" not in result.inner_text()
    shot(page, "teller", "02-panic-confirm")
    confirm.click()
    result.filter(has_text="police").wait_for()
    assert "We've called the police!" in result.inner_text()
    assert result.locator(".msg-alert").count() == 1, "an alarm is not reported as a success"
    shot(page, "teller", "03-panic-sent")


def test_customer_is_refused_panic(stack, new_page):
    page = new_page()
    sign_in(page, stack, CUSTOMER)
    assert page.get_by_role("button", name="Panic").count() == 0
    page.fill("#changebank-total", "0.30")
    page.get_by_role("button", name="Make change").click()
    page.locator("#changebank-result").filter(has_text="nickel").wait_for()
    assert "6 nickels" in page.locator("#changebank-result").inner_text()
    answer = page.evaluate(
        """async () => {
             const token = document.querySelector('input[name=csrfmiddlewaretoken]').value;
             const r = await fetch('/api/panic', {method: 'POST', headers: {
               'Accept': 'application/json', 'X-CSRFToken': token}});
             return {status: r.status, body: await r.json()};
           }"""
    )
    assert answer["status"] == 403
    assert "police" not in str(answer["body"]).lower()
    shot(page, "customer", "07-changebank")


def test_staff_sign_in_to_the_admin_and_find_synced_data(stack, new_page, restore_idp_data):
    restore_idp_data(CUSTOMER)
    customer = new_page()
    sign_in(customer, stack, CUSTOMER)
    text = f"Synced note {uuid.uuid4().hex[:8]}"
    type_and_wait_saved(customer, text)

    page = new_page()
    page.goto(f"{stack.url}/admin/")
    idp_sign_in(page, ADMIN, scenario="admin")
    page.wait_for_url(f"{stack.url}/admin/**")
    shot(page, "admin", "01-index")
    page.goto(f"{stack.url}/admin/userdata/userdata/")
    shot(page, "admin", "02-user-data-list")
    page.get_by_role("link", name=CUSTOMER).first.click()
    page.wait_for_url(re.compile(r".*/admin/userdata/userdata/\d+/change/"))
    assert text in page.content()
    shot(page, "admin", "03-user-data")


def test_a_user_keeps_working_across_short_token_lifetimes(stack, new_page, restore_idp_data):
    """5-second access tokens, rotating refresh tokens: several expiries pass unnoticed."""
    restore_idp_data(TELLER)
    devidp = stack.idp
    devidp.set_refresh_policy("OneTimeUse")
    devidp.set_access_token_ttl(5)
    try:
        page = new_page()
        sign_in(page, stack, TELLER)
        refreshes_before = devidp.stats()["token_calls"]["refresh_token"]
        for round_number in range(3):
            time.sleep(5)  # the 5-second access token expires: that passing time is the point
            text = f"round {round_number} {uuid.uuid4().hex[:6]}"
            type_and_wait_saved(page, text)
            page.fill("#changebank-total", "1.07")
            page.get_by_role("button", name="Make change").click()
            page.locator("#changebank-result").filter(has_text="21 nickels").wait_for()
            page.reload()
            assert heading(page) == greeting(TELLER)
            assert page.locator("#userdata-text").input_value() == text
            assert "/auth/login" not in page.url
        refreshes = devidp.stats()["token_calls"]["refresh_token"] - refreshes_before
        assert refreshes >= 3, f"only {refreshes} refreshes across 3 expiries"
        assert idp_user_text(devidp, TELLER) == text
        shot(page, "tokens", "01-after-three-expiries")
    finally:
        devidp.reset_defaults()


def test_home_page_on_a_phone(stack, new_page):
    page = new_page(viewport=PHONE)
    sign_in(page, stack, CUSTOMER)
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways on a phone ({width}px)"
    shot(page, "phone", "01-home")
    page.goto(f"{stack.url}/auth/logout/")
    shot(page, "phone", "02-sign-out-confirm")


def test_a_stale_sign_in_link_shows_a_friendly_page(stack, new_page):
    page = new_page()
    response = page.goto(f"{stack.url}/auth/callback/?code=stale&state=from-yesterday")
    assert response.status == 400
    assert "Traceback" not in page.content()
    assert heading(page) == "Sign-in link expired"
    assert page.locator("main a[href^='/auth/login/']").count() >= 1, "a way to sign in again"
    shot(page, "errors", "01-stale-sign-in-link")
