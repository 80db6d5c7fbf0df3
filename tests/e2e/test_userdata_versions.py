"""In a real browser, against the BFF, a real Celery worker and the development IdP: no typed text is
lost and no change is silently overwritten. Screenshots of the choice between versions, desktop
(1280) and phone (390), land in artifacts/screenshots/."""

import uuid
from pathlib import Path

import pytest

from tests.e2e.conftest import CHROMIUM, DESKTOP, PHONE, SKIP_REASON, STEP_TIMEOUT_MS, shot
from tests.e2e.test_browser import CUSTOMER, idp_sign_in, idp_user_text, restore_idp_data, sign_in
from tests.fixtures.stack import wait_until

__all__ = ["restore_idp_data"]  # the fixture, used below by name

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=SKIP_REASON),
]


def saved(page):
    page.wait_for_selector("#userdata-status[data-state=saved]", timeout=20_000)


def type_into(page, text):
    field = page.locator("#userdata-text")
    field.fill("")
    field.press_sequentially(text, delay=2)


@pytest.mark.parametrize("viewport, name", [(DESKTOP, "desktop"), (PHONE, "phone")])
def test_a_stale_tab_gets_the_choice_and_keeps_mine(
    stack, new_page, restore_idp_data, viewport, name
):
    restore_idp_data(CUSTOMER)
    old_tab = new_page(viewport=viewport)
    sign_in(old_tab, stack, CUSTOMER)
    new_tab = old_tab.context.new_page()
    new_tab.goto(f"{stack.url}/")
    newer = f"Written in the other tab {uuid.uuid4().hex[:6]}"
    type_into(new_tab, newer)
    saved(new_tab)
    wait_until(lambda: idp_user_text(stack.idp, CUSTOMER) == newer, 15, message="newer at the IdP")

    mine = f"Typed in the old tab {uuid.uuid4().hex[:6]}"
    type_into(old_tab, mine)
    old_tab.wait_for_selector("#userdata-conflict:not([hidden])")
    assert old_tab.locator("#userdata-yours").input_value() == mine
    assert old_tab.locator("#userdata-current").input_value() == newer
    assert old_tab.locator("#userdata-status").get_attribute("data-state") == "conflict"
    shot(old_tab, "versions", f"01-choice-{name}")
    width = old_tab.evaluate("document.documentElement.scrollWidth")
    assert width <= viewport["width"], f"the choice scrolls sideways ({width}px)"
    assert idp_user_text(stack.idp, CUSTOMER) == newer  # nothing overwritten while choosing

    old_tab.locator("#userdata-yours").fill(mine + " (edited)")
    old_tab.get_by_role("button", name="Keep mine").click()
    saved(old_tab)
    assert old_tab.locator("#userdata-conflict").is_hidden()
    wait_until(
        lambda: idp_user_text(stack.idp, CUSTOMER) == mine + " (edited)", 15, message="mine at IdP"
    )
    shot(old_tab, "versions", f"02-kept-mine-{name}")


def test_without_javascript_a_stale_form_post_shows_both_and_takes_the_current(
    stack, browser, restore_idp_data
):
    restore_idp_data(CUSTOMER)
    context = browser.new_context(viewport=DESKTOP, java_script_enabled=False, locale="en-US")
    context.set_default_timeout(STEP_TIMEOUT_MS)
    try:
        page = context.new_page()
        sign_in(page, stack, CUSTOMER)
        current = f"Changed at the IdP {uuid.uuid4().hex[:6]}"
        stack.idp.set_registration_data(CUSTOMER, {"userData": current})
        wait_until(  # the signed webhook reaches the mirror
            lambda: current in page.context.request.get(f"{stack.url}/userdata/").text(),
            15,
            message="the webhook",
        )
        page.locator("#userdata-text").fill("typed on a page that showed the old text")
        page.get_by_role("button", name="Save", exact=True).click()
        page.wait_for_selector("#userdata-conflict")
        assert page.locator("#userdata-current").input_value() == current
        assert "typed on a page" in page.locator("#userdata-yours").input_value()
        shot(page, "versions", "03-choice-no-js")
        page.get_by_role("button", name="Take the current one").click()
        page.wait_for_url(f"{stack.url}/")
        assert page.locator("#userdata-text").input_value() == current
        assert idp_user_text(stack.idp, CUSTOMER) == current
    finally:
        context.close()


def test_text_typed_after_the_session_ended_comes_back_after_signing_in(
    stack, new_page, restore_idp_data
):
    restore_idp_data(CUSTOMER)
    page = new_page()
    sign_in(page, stack, CUSTOMER)
    page.context.clear_cookies()  # the session ends (expired, or signed out elsewhere)
    text = f"Typed after the session ended {uuid.uuid4().hex[:6]}"
    type_into(page, text)
    link = page.locator("#userdata-sign-in")
    link.wait_for()
    shot(page, "versions", "04-session-ended")
    link.click()
    idp_sign_in(page, CUSTOMER)
    page.wait_for_url(f"{stack.url}/**")
    assert page.locator("#userdata-text").input_value() == text
    saved(page)
    wait_until(lambda: idp_user_text(stack.idp, CUSTOMER) == text, 15, message="text at the IdP")
    shot(page, "versions", "05-restored")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_load_state()
    assert page.evaluate("Object.keys(sessionStorage).length") == 0
