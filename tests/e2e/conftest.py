"""Browser fixtures: Debian's chromium driven by Playwright, screenshots of key steps and of failures.

The browser is package-scoped on purpose: Playwright's sync API keeps an event loop running while it
is started, and Django refuses ORM calls under a running loop, so it must be gone before other
packages' database tests run.
"""

import contextlib
import re
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
STEP_TIMEOUT_MS = 15_000


def chromium_missing():
    return not Path(CHROMIUM).exists()


SKIP_REASON = (
    f"{CHROMIUM} is not installed (apt-get install chromium; `python3 dev.py test` does it as root)"
)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Remember each phase's outcome on the item, so fixtures can tell a failed test at teardown."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture(scope="package")
def browser():
    if chromium_missing():
        pytest.skip(SKIP_REASON)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


def shot(page, scenario, step):
    """Save artifacts/screenshots/<scenario>-<step>.png, the evidence a reviewer looks at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{scenario}-{step}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def new_page(browser, request):
    """Factory of pages, each in a fresh browser context (own cookies); failures leave a screenshot."""
    contexts = []

    def make(viewport=None):
        context = browser.new_context(viewport=viewport or DESKTOP, locale="en-US")
        context.set_default_timeout(STEP_TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
        for index, context in enumerate(contexts):
            for number, page in enumerate(context.pages):
                suffix = "" if index == number == 0 else f"-{index}-{number}"
                # A dead page must not hide the real failure.
                with contextlib.suppress(Exception):
                    page.screenshot(
                        path=str(SCREENSHOTS / f"FAILED-{name}{suffix}.png"), full_page=True
                    )
    for context in contexts:
        context.close()


@pytest.fixture(autouse=True)
def _idp_knows_the_stack(request):
    """Other tests reset the IdP's webhook URL; point it (and the redirect URIs) at our BFF again."""
    if "stack" in request.fixturenames:
        request.getfixturevalue("stack").register_urls()


@pytest.fixture
def page(new_page):
    return new_page()
