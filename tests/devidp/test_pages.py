"""The development IdP's pages as a person sees them: Debian's chromium at 1280 and 390 px, axe-core
(from axe-playwright-python) with no serious or critical violation, the sign-in card clear of the
phone's edges, and a screenshot of each page in artifacts/screenshots/."""

import re
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.devidp.conftest import CALLBACK

CHROMIUM = "/usr/bin/chromium"
REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "artifacts" / "screenshots"
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
SERIOUS = {"serious", "critical"}
MARGIN_PX = 12


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `python3 dev.py test` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield chromium
        finally:
            chromium.close()


def product_font():
    """The BFF's type (static/css/app.css), which the development IdP's pages share."""
    css = (REPO / "static" / "css" / "app.css").read_text()
    return normalised(re.search(r"font-family:\s*([^;]+);", css).group(1))


def normalised(font_family):
    return re.sub(r"\s+", "", font_family.replace("'", '"'))


def sign_in_url(devidp, client_id=None):
    params = {
        "client_id": client_id or devidp.client_id,
        "redirect_uri": CALLBACK,
        "response_type": "code",
        "scope": "openid",
        "state": "s",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
    }
    return f"{devidp.url}/oauth2/authorize?{urlencode(params)}"


def wrong_password(page):
    page.fill("#loginId", "customer@example.com")
    page.fill("#password", "not-the-password")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("[role=alert]")


PAGES = {
    "sign-in": (lambda idp: sign_in_url(idp), None, 200),
    "sign-in-failed": (lambda idp: sign_in_url(idp), wrong_password, 200),
    "invalid-request": (
        lambda idp: sign_in_url(idp, "00000000-0000-0000-0000-00000000dead"),
        None,
        400,
    ),
    "signed-out": (lambda idp: f"{idp.url}/oauth2/logout", None, 200),
    "not-found": (lambda idp: f"{idp.url}/no-such-page", None, 404),
}


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("name", list(PAGES))
def test_page_is_accessible_and_fits(browser, devidp, name, viewport):
    from axe_playwright_python.sync_playwright import Axe

    url, action, status = PAGES[name]
    size = VIEWPORTS[viewport]
    context = browser.new_context(viewport=size)
    page = context.new_page()
    try:
        response = page.goto(url(devidp))
        assert response.status == status
        if action:
            action(page)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(
            path=str(SCREENSHOTS / f"devidp-{name}-{size['width']}.png"), full_page=True
        )
        violations = Axe().run(page).response["violations"]
        card = page.locator(".card").bounding_box()
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        font = page.evaluate("getComputedStyle(document.body).fontFamily")
    finally:
        context.close()

    serious = [(v["id"], v["impact"], v["help"]) for v in violations if v["impact"] in SERIOUS]
    assert serious == []
    assert scroll_width <= size["width"]
    assert card["x"] >= MARGIN_PX and card["x"] + card["width"] <= size["width"] - MARGIN_PX
    assert normalised(font) == product_font()


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_admin_pages_have_no_serious_violations(browser, devidp, viewport):
    from axe_playwright_python.sync_playwright import Axe

    size = VIEWPORTS[viewport]
    context = browser.new_context(viewport=size)
    page = context.new_page()
    found = {}
    try:
        for path in ("/admin/login/", "/admin/", "/admin/devidp/registration/"):
            if path == "/admin/":
                page.fill("#id_username", "admin@example.com")
                page.fill("#id_password", devidp.password)
                page.locator("input[type=submit]").click()
                page.wait_for_url(f"{devidp.url}/admin/")
            else:
                page.goto(f"{devidp.url}{path}")
            name = path.strip("/").replace("/", "-")
            page.screenshot(path=str(SCREENSHOTS / f"devidp-{name}-{size['width']}.png"))
            violations = Axe().run(page).response["violations"]
            found[path] = [v["id"] for v in violations if v["impact"] in SERIOUS]
        heading = page.locator("#site-name").inner_text()
    finally:
        context.close()

    assert found == dict.fromkeys(found, [])
    assert len(found) == 3
    assert heading == "Development IdP"
