"""Every page of the BFF as a person meets it, in the production profile, on a desktop and a phone.

The BFF runs here with DEBUG off (its own error pages, the Content-Security-Policy, WhiteNoise's
collected files) against the development IdP. Each page is checked with axe-core (no serious or
critical violation), for Content-Security-Policy reports in the console and for sideways scrolling
on a phone, and leaves a screenshot per viewport in artifacts/screenshots/pages-*.png.
"""

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from django.template.loader import render_to_string

from tests.e2e.conftest import CHROMIUM, DESKTOP, PHONE, SKIP_REASON, shot
from tests.e2e.test_browser import TELLER, heading, idp_sign_in
from tests.fixtures.stack import PYTHON, ROOT, BffServer, bff_env, run_checked

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=SKIP_REASON),
]

BLOCKING_IMPACTS = ("serious", "critical")
KICKSTART = json.loads((ROOT / "kickstart" / "kickstart.json").read_text())["variables"]


@pytest.fixture(scope="module")
def production_bff(devidp):
    """The BFF with DEBUG off: plain HTTP on loopback, so the cookies cannot be Secure here."""
    work = Path(tempfile.mkdtemp(prefix="bff-production-"))
    env = bff_env(
        devidp.url,
        f"sqlite:///{work / 'bff.sqlite3'}",
        DEBUG="false",
        SECRET_KEY="e2e-production-profile-" + "k" * 40,
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="false",
        SESSION_COOKIE_SECURE="false",
        CSRF_COOKIE_SECURE="false",
        SECURE_HSTS_SECONDS="0",
        STATIC_ROOT=str(work / "static"),
        LOG_FORMAT="json",
        OIDC_CLIENT_ID=KICKSTART["applicationId"],
        OIDC_CLIENT_SECRET=KICKSTART["clientSecret"],
        FUSIONAUTH_API_KEY=KICKSTART["apiKey"],
        FUSIONAUTH_APPLICATION_ID=KICKSTART["applicationId"],
        FUSIONAUTH_WEBHOOK_SECRET=KICKSTART["webhookSecret"],
    )
    bff = BffServer(env, work)
    try:
        run_checked(
            [PYTHON, "manage.py", "collectstatic", "--noinput", "-v", "0"],
            bff.env,
            work / "collectstatic.log",
        )
        bff.migrate()
        bff.start()
        devidp.allow_redirect_uri(f"{bff.url}/auth/callback/")
        devidp.allow_redirect_uri(f"{bff.url}/")
        yield bff
    finally:
        bff.stop()
        shutil.rmtree(work, ignore_errors=True)


class Tour:
    """Visits pages in one browser context, checking and photographing each at both sizes."""

    def __init__(self, page, base_url):
        from axe_playwright_python.sync_playwright import Axe

        self.page = page
        self.base_url = base_url
        self.axe = Axe()
        self.csp_reports = []
        self.problems = []
        page.on("console", self._console)

    def _console(self, message):
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.csp_reports.append(f"{self.page.url}: {message.text}")

    def check(self, name):
        """axe at desktop and phone size, no sideways scroll on the phone, one screenshot each."""
        for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            self.page.set_viewport_size(viewport)
            results = self.axe.run(self.page)
            for violation in results.response["violations"]:
                if violation["impact"] in BLOCKING_IMPACTS:
                    targets = [node["target"] for node in violation["nodes"]][:3]
                    self.problems.append(
                        f"{name} ({label}): {violation['impact']} {violation['id']} at {targets}"
                    )
            if label == "phone":
                width = self.page.evaluate("() => document.documentElement.scrollWidth")
                if width > PHONE["width"]:
                    self.problems.append(f"{name}: scrolls sideways on a phone ({width}px)")
                header = self.page.evaluate(
                    "() => document.querySelector('.site-header').getBoundingClientRect().height"
                )
                if header > 72:
                    self.problems.append(f"{name}: the header takes {header}px on a phone")
            shot(self.page, "pages", f"{name}-{label}")
        self.page.set_viewport_size(DESKTOP)

    def visit(self, name, path, status=200):
        response = self.page.goto(f"{self.base_url}{path}")
        assert response.status == status, f"{path}: {response.status}"
        self.check(name)


def post_form(page, action, fields):
    """Submit a real form (a person's no-JS submission), not a script's request."""
    with page.expect_navigation():
        page.evaluate(
            """([action, fields]) => {
                 const form = document.createElement('form');
                 form.method = 'post';
                 form.action = action;
                 for (const [name, value] of Object.entries(fields)) {
                   const input = document.createElement('input');
                   input.type = 'hidden'; input.name = name; input.value = value;
                   form.appendChild(input);
                 }
                 document.body.appendChild(form);
                 form.submit();
               }""",
            [action, fields],
        )


def test_every_page_is_accessible_and_fits_a_phone(production_bff, new_page):
    page = new_page()
    tour = Tour(page, production_bff.url)

    # Signed out.
    tour.visit("01-home-signed-out", "/")
    assert heading(page) == "You're not logged in."
    assert "Tokens stay on the server" not in page.content()
    tour.visit("02-not-found", "/no-such-page/", status=404)
    assert page.get_by_role("link", name="Go to the home page").count() == 1
    tour.visit("03-method-not-allowed", "/auth/refresh/", status=405)
    tour.visit("04-stale-sign-in-link", "/auth/callback/?code=stale&state=old", status=400)
    post_form(page, "/auth/logout/", {"csrfmiddlewaretoken": "stale" * 8})
    assert heading(page) == "You are already signed out"
    tour.check("05-csrf-signed-out")
    page.set_content(render_to_string("errors/500.html"))
    tour.check("06-server-error")
    page.set_content(render_to_string("errors/503.html"))
    assert heading(page) == "Back in a moment"
    tour.check("06b-back-in-a-moment")

    # Signed in as a teller (the role that sees every part of the home page).
    page.goto(f"{production_bff.url}/")
    page.get_by_role("link", name="Sign in").first.click()
    idp_sign_in(page, TELLER)
    page.wait_for_url(f"{production_bff.url}/**")
    assert heading(page) == f"Hi, {TELLER}!"
    tour.check("07-home-teller")
    page.fill("#changebank-total", "3.24")
    page.get_by_role("button", name="Make change").click()
    page.locator("#changebank-result").filter(has_text="64 nickels").wait_for()
    page.get_by_role("button", name="Panic").click()
    page.get_by_role("button", name="Yes, call the police").wait_for()
    tour.check("08-home-panic-confirm")
    page.get_by_role("button", name="Cancel").click()
    page.fill("#changebank-total", "3.245")
    page.get_by_role("button", name="Make change").click()
    page.locator("#changebank-result").filter(has_text="two digits").wait_for()
    # A long status message wraps beside its dot instead of squashing it.
    page.evaluate(
        """() => { const s = document.getElementById('userdata-status');
                   s.className = 'status status-conflict';
                   s.textContent = 'Saved here, but the identity provider\\'s copy changed too. '
                     + 'Nothing is lost: staff will resolve the conflict.'; }"""
    )
    tour.check("09-home-error-and-long-status")
    page.fill("#userdata-text", "Saved without JavaScript")
    with page.expect_navigation():
        # form.submit() skips the page script's submit handler: the plain, no-JS form post.
        page.locator("#userdata-form").evaluate("form => form.submit()")
    assert page.locator(".messages li").count() == 1, "the no-JS save shows a flash message"
    tour.check("10-home-flash-message")
    tour.visit("11-make-change-page", "/changebank/make-change/?total=3.24")
    tour.visit("12-make-change-invalid", "/changebank/make-change/?total=%D9%A3.%D9%A2", 400)
    page.goto(f"{production_bff.url}/")
    post_form(
        page,
        "/changebank/panic/",
        {
            "csrfmiddlewaretoken": page.locator(
                "input[name=csrfmiddlewaretoken]"
            ).first.input_value()
        },
    )
    assert heading(page) == "Call the police?"
    tour.check("13-panic-confirm-page")
    page.get_by_role("button", name="Yes, call the police").click()
    page.wait_for_load_state()
    assert heading(page) == "Alarm sent"
    tour.check("14-panic-sent-page")
    tour.visit("15-sessions", "/auth/sessions/")
    tour.visit("16-sign-out-confirm", "/auth/logout/")
    tour.visit("17-admin-denied", "/admin/", status=403)
    tour.visit("18-not-found-signed-in", "/no-such-page/", status=404)
    post_form(page, "/auth/logout/", {"csrfmiddlewaretoken": "stale" * 8})
    assert heading(page) == "This page was out of date"
    tour.check("19-csrf-signed-in")
    page.get_by_role("button", name="Sign out now").click()
    page.wait_for_url(f"{production_bff.url}/**")
    assert heading(page) == "You're not logged in."

    assert not tour.csp_reports, "\n".join(tour.csp_reports)
    assert not tour.problems, "\n".join(tour.problems)

    # The production profile logs one JSON object per line, each with its request's id.
    lines = production_bff.service.log_path.read_text().splitlines()
    entries = [json.loads(line) for line in lines if line.startswith("{")]
    not_found = [
        e for e in entries if e["logger"] == "django.request" and "no-such-page" in e["message"]
    ]
    assert not_found and all(len(e["request_id"]) == 32 for e in not_found), lines[-20:]
