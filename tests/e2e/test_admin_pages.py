"""The admin as staff use it, and /auth/sessions/ as a customer does, in a real browser.

Every page is checked with axe-core (no serious or critical violation) and photographed at desktop
1280 and phone 390 widths into artifacts/screenshots/.
"""

import re
from pathlib import Path

import pytest

from tests.e2e import test_browser
from tests.e2e.conftest import CHROMIUM, DESKTOP, PHONE, SKIP_REASON, shot
from tests.e2e.test_browser import ADMIN, CUSTOMER, TELLER, idp_sign_in, idp_user_text, sign_in
from tests.fixtures.stack import wait_until

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=SKIP_REASON),
]

BLOCKING = {"serious", "critical"}
restore_idp_data = test_browser.restore_idp_data  # the fixture, shared with the other scenarios


def blocking_violations(page):
    """axe-core's serious and critical violations on the page, as readable lines."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v.get("impact") in BLOCKING
    ]


def check(page, scenario, step):
    """Screenshot the page, then require no serious/critical axe violation and no sideways scroll."""
    shot(page, scenario, step)
    assert blocking_violations(page) == [], f"{scenario}-{step}"
    width = page.viewport_size["width"]
    scroll = page.evaluate("() => document.documentElement.scrollWidth")
    assert scroll <= width, f"{scenario}-{step} scrolls sideways ({scroll}px > {width}px)"


def assert_columns_fit(page):
    """Every column of the change list is visible: its scroll box does not scroll."""
    box = page.evaluate(
        "() => { const r = document.querySelector('#changelist .results');"
        " return [r.scrollWidth, r.clientWidth]; }"
    )
    assert box[0] <= box[1], f"the list's last columns are hidden behind a scroll ({box})"


def make_conflict(stack, page, local_text, remote_text):
    """The provider's copy changes while its webhook cannot reach us; the next edit conflicts."""
    stack.idp.set_webhook_url("http://127.0.0.1:9/unreachable/")
    try:
        stack.idp.set_registration_data(CUSTOMER, {"userData": remote_text})
        field = page.locator("#userdata-text")
        field.fill("")
        field.press_sequentially(local_text, delay=5)
        page.wait_for_selector("#userdata-status[data-state=conflict]", timeout=15_000)
    finally:
        stack.register_urls()


def test_staff_find_people_sessions_and_resolve_a_conflict(stack, new_page, restore_idp_data):
    restore_idp_data(CUSTOMER)
    customer = new_page()
    sign_in(customer, stack, CUSTOMER)
    make_conflict(stack, customer, "Typed on this site today", "Changed at the provider today")

    page = new_page()
    page.goto(f"{stack.url}/admin/")
    idp_sign_in(page, ADMIN)
    page.wait_for_url(f"{stack.url}/admin/**")
    for scenario, viewport in (("staff-desktop", DESKTOP), ("staff-phone", PHONE)):
        page.set_viewport_size(viewport)
        page.goto(f"{stack.url}/admin/")
        check(page, scenario, "01-index")

        page.goto(f"{stack.url}/admin/auth/user/")
        assert "People are added at the identity provider" in page.content()
        if viewport is DESKTOP:
            assert_columns_fit(page)
        check(page, scenario, "02-people")
        page.locator("#result_list a", has_text=CUSTOMER).first.click()
        page.wait_for_url(re.compile(r".*/admin/auth/user/\d+/change/"))
        body = page.content()
        assert "owns their e-mail address" in body and "Set password" not in body
        assert page.locator("a.deletelink").count() == 0
        check(page, scenario, "03-person")

        page.goto(f"{stack.url}/admin/auth/group/")
        page.locator("#result_list a", has_text="customer").first.click()
        page.wait_for_url(re.compile(r".*/admin/auth/group/\d+/change/"))
        assert "Each group is a role at the identity provider" in page.content()
        check(page, scenario, "03-role-group")

        page.goto(f"{stack.url}/admin/oauthbff/oidcsession/")
        assert page.locator("#result_list", has_text=CUSTOMER).count() == 1
        assert page.locator("#changelist-filter", has_text="Signed out by staff").count() == 1
        if viewport is DESKTOP:
            assert_columns_fit(page)
        check(page, scenario, "04-sessions")
        page.locator("#result_list a", has_text=CUSTOMER).first.click()
        page.wait_for_url(re.compile(r".*/admin/oauthbff/oidcsession/\d+/change/"))
        assert page.get_by_role("button", name="Sign out this session").count() == 1
        assert page.locator("a.deletelink").count() == 0
        check(page, scenario, "04-session")

        page.goto(f"{stack.url}/admin/userdata/userdata/")
        if viewport is DESKTOP:
            assert_columns_fit(page)
        check(page, scenario, "05-user-data")

    page.set_viewport_size(DESKTOP)
    page.goto(f"{stack.url}/admin/userdata/userdata/?state=conflict")
    page.locator("#result_list a", has_text=CUSTOMER).first.click()
    page.wait_for_url(re.compile(r".*/admin/userdata/userdata/\d+/change/"))
    diff = page.locator("table.bff-diff")
    assert diff.locator("mark", has_text="Typed").count() >= 1
    assert diff.locator("mark", has_text="Changed").count() >= 1
    assert page.locator("input[name=_save]").count() == 0
    assert page.locator("a.deletelink").count() == 0  # an unsent edit cannot be deleted
    check(page, "staff-desktop", "06-conflict")
    page.set_viewport_size(PHONE)
    check(page, "staff-phone", "06-conflict")
    page.set_viewport_size(DESKTOP)

    page.get_by_role("button", name="Keep the local edit").click()
    page.locator(".messagelist", has_text="Kept the local edit").wait_for()
    assert page.locator("table.bff-diff").count() == 0
    assert page.locator(".bff-history", has_text="Conflict resolved").count() >= 1
    check(page, "staff-desktop", "07-resolved")
    wait_until(
        lambda: idp_user_text(stack.idp, CUSTOMER) == "Typed on this site today",
        timeout=10,
        message="the kept edit reached the provider",
    )


def test_a_customer_signs_out_another_session_from_the_sessions_page(stack, new_page):
    phone = new_page(viewport=PHONE)
    sign_in(phone, stack, TELLER)
    laptop = new_page()
    sign_in(laptop, stack, TELLER)
    desk = new_page()
    sign_in(desk, stack, TELLER)
    for page, scenario in ((desk, "sessions-desktop"), (phone, "sessions-phone")):
        page.goto(f"{stack.url}/auth/sessions/")
        page.locator(".oauthbff-session.is-current").wait_for()
        zone = page.locator("[data-local-zone]").inner_text()
        assert "your time zone" in zone  # the script rewrote the times into the browser's zone
        check(page, scenario, "01-sessions")
    entries = phone.locator(".oauthbff-session")
    assert entries.count() >= 2
    for index in range(entries.count()):
        height = entries.nth(index).bounding_box()["height"]
        assert height < 120, f"a session takes {height:.0f}px (over four short lines) on a phone"

    others = desk.locator(".oauthbff-session:not(.is-current)")
    before = others.count()
    others.first.get_by_role("button").click()
    desk.locator(".messages", has_text="Signed out that session.").wait_for()
    assert desk.locator(".oauthbff-session:not(.is-current)").count() == before - 1
    check(desk, "sessions-desktop", "02-signed-out-one")
    desk.get_by_role("button", name="Sign out all other sessions").click()
    desk.locator(".messages", has_text="other session").wait_for()
    assert phone.request.get(f"{stack.url}/auth/user/").status == 401
    assert laptop.request.get(f"{stack.url}/auth/user/").status == 401
    assert desk.request.get(f"{stack.url}/auth/user/").status == 200
    check(desk, "sessions-desktop", "03-signed-out-others")
