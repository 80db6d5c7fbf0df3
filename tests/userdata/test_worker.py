"""The sync work on a real Celery worker process: the BFF under gunicorn queues, the worker (Redis
when the run has it, else kombu's filesystem transport) pushes. No eager mode here."""

import math
import re
import time
import uuid

import pytest
import requests

from tests.fixtures.stack import http_sign_in, wait_until

EMAIL = "teller@example.com"
pytestmark = pytest.mark.slow


@pytest.fixture
def tab(stack):
    """A signed-in session on the live stack, saving as the page's script does."""
    stack.register_urls()
    session = requests.Session()
    http_sign_in(session, stack.url, EMAIL)
    original = stack.idp.registration(EMAIL).get("data", {})
    yield session
    stack.idp.set_registration_data(EMAIL, original)


def state(stack, session, **headers):
    return session.get(
        f"{stack.url}/userdata/", headers={"Accept": "application/json", **headers}, timeout=10
    )


def save(stack, session, text, version):
    return session.post(
        f"{stack.url}/userdata/",
        json={"userData": text, "version": version},
        headers={
            "Accept": "application/json",
            "X-CSRFToken": session.cookies.get("bff_csrftoken", ""),
        },
        timeout=10,
    )


def pushes(stack):
    """Writes of the teller's registration that the IdP answered, read from its request log: the
    writes the IdP received, whatever path of ours sent them."""
    path = f"/api/user/registration/{stack.idp.user_id(EMAIL)}/"
    write = re.compile(r'"(?:PATCH|PUT) ' + re.escape(path) + r'[^"]*" 200')
    return len(write.findall(stack.idp.log_path.read_text(errors="replace")))


def test_a_burst_of_saves_answers_at_once_and_the_worker_writes_the_last_text(stack, tab):
    version = state(stack, tab).json()["version"]
    before = pushes(stack)
    marker = uuid.uuid4().hex[:8]
    began = time.monotonic()
    for n in range(10):
        response = save(stack, tab, f"burst {n} {marker}", version)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["state"] == "pending" and "Waiting to sync" in body["message"]
        version = body["version"]
        time.sleep(0.1)
    elapsed = time.monotonic() - began
    last = f"burst 9 {marker}"
    wait_until(
        lambda: stack.idp.registration(EMAIL)["data"].get("userData") == last,
        20,
        interval=0.2,
        message="the worker's push of the last text",
    )
    wait_until(lambda: state(stack, tab).json()["state"] == "saved", 10, message="saved")
    # At most one queued push per second of saves (USERDATA_PUSH_DELAY), each sending the latest
    # text: fewer writes than saves however slow the machine made the saves.
    assert 1 <= pushes(stack) - before <= min(9, math.ceil(elapsed) + 1)


def test_a_change_at_the_idp_reaches_an_open_page_through_its_poll(stack, tab):
    first = state(stack, tab)
    tag = first.headers["ETag"]
    assert state(stack, tab, **{"If-None-Match": tag}).status_code == 304
    text = f"changed at the IdP {uuid.uuid4().hex[:8]}"
    stack.idp.set_registration_data(EMAIL, {"userData": text})  # the signed webhook follows

    def changed():
        response = state(stack, tab, **{"If-None-Match": tag})
        return response.status_code == 200 and response.json()["text"] == text

    wait_until(changed, 15, interval=0.3, message="the poll to see the IdP's change")
    stale = save(stack, tab, "typed on the old page", first.json()["version"])
    assert stale.status_code == 409
    assert stale.json()["conflict"]["current"] == text
