"""/auth/sessions/: each session named by device and browser, sign out one or all the others."""

import re

import pytest
from django.test import Client

from oauthbff.models import OIDCSession
from tests.oauthbff.fakeop import sign_in

pytestmark = pytest.mark.django_db

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)
ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36"
)


def browser(user_agent, address="203.0.113.7"):
    return Client(HTTP_USER_AGENT=user_agent, REMOTE_ADDR=address)


@pytest.fixture
def three_devices(op):
    """Ada signed in on a computer, a phone and another phone."""
    clients = [browser(FIREFOX), browser(IPHONE, "198.51.100.4"), browser(ANDROID, "2001:db8::1")]
    for client in clients:
        sign_in(client, op)
    return clients


def _token(html):
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def test_sessions_are_named_with_address_and_times_with_their_zone(three_devices):
    laptop, _, _ = three_devices
    html = laptop.get("/auth/sessions/").content.decode()
    assert "Firefox 133 on Windows 10" in html
    assert "Mobile Safari 17 on iPhone (iOS 17.4)" in html
    assert "Chrome Mobile 131 on Pixel 8 (Android 14)" in html
    assert "198.51.100.4" in html and "2001:db8::1" in html
    assert "Mozilla/5.0" not in html  # no raw User-Agent strings
    assert re.search(
        r"Signed in <time datetime=\"[^\"]+\+00:00\"[^>]*>\d+ \w+ \d{4}, \d\d:\d\d UTC", html
    )
    # This session first, marked, without its own sign-out button; two others with one each.
    assert html.index("This session") < html.index("Mobile Safari")
    assert html.count('name="session"') == 2


def test_sign_out_one_other_session(three_devices):
    laptop, phone, tablet = three_devices
    target = OIDCSession.objects.for_session_key(phone.session.session_key).get()
    html = laptop.get("/auth/sessions/").content.decode()
    page = laptop.post(
        "/auth/sessions/",
        {"session": target.pk, "csrfmiddlewaretoken": _token(html)},
        follow=True,
    ).content.decode()
    assert "Signed out that session." in page
    assert phone.get("/auth/user/").status_code == 401
    assert laptop.get("/auth/user/").status_code == 200
    assert tablet.get("/auth/user/").status_code == 200
    assert OIDCSession.objects.get(pk=target.pk).end_reason == "ended_by_user"
    assert "Mobile Safari" not in page


def test_another_users_session_is_refused(op, three_devices):
    laptop, _, _ = three_devices
    op.sub, op.email = "someone-else", "bob@example.com"
    bob = browser(FIREFOX)
    sign_in(bob, op)
    bobs = OIDCSession.objects.for_session_key(bob.session.session_key).get()
    current = OIDCSession.objects.for_session_key(laptop.session.session_key).get()
    for value in (bobs.pk, current.pk, "not-a-number", "", 10**9):
        page = laptop.post("/auth/sessions/", {"session": value}, follow=True)
        assert page.status_code == 200
        assert "already signed out, or is not yours" in page.content.decode()
    assert bob.get("/auth/user/").status_code == 200
    assert laptop.get("/auth/user/").status_code == 200
    assert OIDCSession.objects.active().count() == 4


@pytest.mark.parametrize(
    ("devices", "message"),
    [(3, "Signed out 2 other sessions."), (2, "Signed out 1 other session.")],
)
def test_sign_out_all_the_others_is_worded_for_the_count(op, devices, message):
    clients = [browser(FIREFOX) for _ in range(devices)]
    for client in clients:
        sign_in(client, op)
    page = clients[0].post("/auth/sessions/", {"action": "end_others"}, follow=True)
    assert message in page.content.decode()
    assert "session(s)" not in page.content.decode()
    assert [c.get("/auth/user/").status_code for c in clients] == [200] + [401] * (devices - 1)
    again = clients[0].post("/auth/sessions/", {"action": "end_others"}, follow=True)
    assert "You had no other session to sign out." in again.content.decode()


def test_sign_out_needs_the_csrf_token(three_devices):
    laptop, phone, _ = three_devices
    strict = Client(enforce_csrf_checks=True)
    strict.cookies = laptop.cookies
    target = OIDCSession.objects.for_session_key(phone.session.session_key).get()
    assert strict.post("/auth/sessions/", {"session": target.pk}).status_code == 403
    assert strict.post("/auth/sessions/", {"action": "end_others"}).status_code == 403
    assert phone.get("/auth/user/").status_code == 200


def test_signed_out_people_are_sent_to_sign_in(client):
    response = client.get("/auth/sessions/")
    assert response.status_code == 302 and "/login" in response["Location"]
