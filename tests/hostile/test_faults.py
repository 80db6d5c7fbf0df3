"""Faults: the IdP down, too slow or talking nonsense, and the database failing during a save.

Each fault must give the person a clear message and lose nothing they typed. The IdP faults replace
the live development IdP on its own port (it is stopped, a stand-in listens there, then it comes
back), so the BFF meets them on the same URLs it really uses.
"""

import contextlib
import json
import socket
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.cache import cache
from django.db import OperationalError, connection
from django.test import Client
from django.utils import timezone

from oauthbff.models import OIDCSession
from tests.fixtures.stack import free_port, wait_until
from tests.hostile.conftest import assert_safe
from userdata import tasks
from userdata.models import UserData

EMAIL = "customer@example.com"
FAST = 0.5  # seconds: the IdP timeout for these tests, so "slow" is quick to show

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def _port(url):
    return urlsplit(url).port


class BlackHole:
    """Accepts connections on the port and never answers: an IdP that hangs."""

    def __init__(self, port):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(64)
        self.accepted = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        self.sock.settimeout(0.1)
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
                self.accepted.append(conn)
            except OSError:
                continue

    def close(self):
        self.stopped.set()
        self.thread.join(timeout=2)
        for conn in self.accepted:
            conn.close()
        self.sock.close()


GARBAGE = [
    (200, "text/html", b"<html><body>Gateway says hello</body></html>"),
    (200, "application/json", b'{"unexpected": ["shape"], "access_token": 42}'),
    (200, "application/json", b"[1, 2, 3]"),
    (502, "text/plain", b"bad gateway"),
    (200, "application/json", b'{"truncated": '),
]


class GarbageServer:
    """Answers every request with a rotating piece of nonsense: an IdP behind a broken proxy."""

    def __init__(self, port):
        answers = GARBAGE
        counter = {"n": 0}

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                status, kind, body = answers[counter["n"] % len(answers)]
                counter["n"] += 1
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

            def log_message(self, *args):
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@contextlib.contextmanager
def idp_replaced_by(devidp, stand_in):
    """Stop the live IdP, put `stand_in` (None: nothing) on its port, and bring the IdP back after."""
    devidp.stop()
    server = stand_in(_port(devidp.url)) if stand_in else None
    try:
        yield server
    finally:
        if server:
            server.close()
        devidp.start()


def use_fast_timeouts(settings, **userdata):
    """Short IdP timeouts from here on; set after signing in, as a fresh IdP may answer slowly."""
    settings.OAUTHBFF = {**settings.OAUTHBFF, "HTTP_TIMEOUT": FAST}
    fusionauth = {**settings.USERDATA["FUSIONAUTH"], **userdata}
    settings.USERDATA = {**settings.USERDATA, "HTTP_TIMEOUT": FAST, "FUSIONAUTH": fusionauth}


@pytest.fixture
def customer(signed_in_client, devidp, settings):
    """A signed-in customer with short IdP timeouts; the IdP's copy of their data is put back."""
    user_id = devidp.user_id(EMAIL)
    path = f"/api/user/registration/{user_id}/{devidp.application_id}"
    original = devidp.api("GET", path).json()["registration"].get("data", {})
    client = signed_in_client(EMAIL)
    use_fast_timeouts(settings)
    yield client
    devidp.set_registration_data(EMAIL, original)


def remote_text(devidp):
    user_id = devidp.user_id(EMAIL)
    path = f"/api/user/registration/{user_id}/{devidp.application_id}"
    return devidp.api("GET", path).json()["registration"].get("data", {}).get("userData")


def mirror(client):
    return UserData.objects.get(user_id=client.session["_auth_user_id"])


def expire_access_token(client):
    OIDCSession.objects.for_session_key(client.session.session_key).update(
        access_expires_at=timezone.now() - timedelta(seconds=5)
    )


def forget_provider_metadata():
    """Cold caches: the next sign-in must fetch discovery and keys from the (broken) IdP."""
    from oauthbff import provider

    cache.clear()
    for name in ("reset_providers", "clear_cache"):
        reset = getattr(provider, name, None)
        if reset:
            reset()


STAND_INS = {"down": None, "slow": BlackHole, "garbage": GarbageServer}


@contextlib.contextmanager
def broken_idp_elsewhere(fault):
    """A broken IdP on a port of its own (for cold starts, which need no live IdP behind them)."""
    stand_in = STAND_INS[fault]
    server = stand_in(0) if stand_in else None
    if server is None:
        port = free_port()  # nothing listens there: connection refused
    elif fault == "slow":
        port = server.sock.getsockname()[1]
    else:
        port = server.server.server_port
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        if server:
            server.close()


@pytest.mark.parametrize("fault", STAND_INS)
def test_sign_in_start_with_a_broken_idp_shows_a_clear_page(client, bff_on_devidp, settings, fault):
    use_fast_timeouts(settings)
    with broken_idp_elsewhere(fault) as issuer:
        settings.OAUTHBFF = {**settings.OAUTHBFF, "ISSUER": issuer}
        forget_provider_metadata()
        began = time.monotonic()
        response = client.get("/auth/login/")
        elapsed = time.monotonic() - began
    forget_provider_metadata()
    body = assert_safe(response, allowed={502, 503})
    assert "identity provider" in body.lower()
    assert elapsed < 10 * FAST + 2, f"the sign-in page took {elapsed:.1f} s"


@pytest.mark.parametrize("fault", STAND_INS)
def test_sign_in_callback_with_a_broken_idp_shows_a_clear_page(
    client, bff_on_devidp, settings, devidp, fault
):
    start = client.get("/auth/login/")
    callback = urlsplit(devidp.sign_in(start["Location"], EMAIL))
    params = {k: v[0] for k, v in parse_qs(callback.query).items()}
    use_fast_timeouts(settings)
    with idp_replaced_by(devidp, STAND_INS[fault]):
        response = client.get(callback.path, params)
    body = assert_safe(response, allowed={400, 502, 503})
    assert "identity provider" in body.lower() or "sign-in" in body.lower()
    assert "_auth_user_id" not in client.session
    again = client.get("/auth/login/")
    assert again.status_code == 302, "sign-in works again once the IdP is back"


@pytest.mark.parametrize("fault", STAND_INS)
def test_refresh_with_a_broken_idp_keeps_the_session(customer, devidp, fault, settings):
    """An expired access token while the IdP is unreachable: pages keep working, APIs say 503."""
    expire_access_token(customer)
    with idp_replaced_by(devidp, STAND_INS[fault]):
        page = customer.get("/")
        api = customer.get("/api/make-change", {"total": "1.00"}, HTTP_ACCEPT="application/json")
    # The IdP process has just restarted: give its first token call the usual timeout, not FAST,
    # so a busy machine cannot pass for a broken IdP.
    settings.OAUTHBFF = {**settings.OAUTHBFF, "HTTP_TIMEOUT": 10}
    body = assert_safe(page, allowed={200})
    assert f"Hi, {EMAIL}!" in body, "a passing IdP outage must not sign the person out"
    api_body = assert_safe(api, allowed={200, 401, 503})
    assert "error" in api.json() or api.status_code == 200, api_body
    back = customer.get("/")
    assert f"Hi, {EMAIL}!" in assert_safe(back, allowed={200})
    row = OIDCSession.objects.for_session_key(customer.session.session_key).get()
    assert row.ended_at is None
    assert row.access_expires_at > timezone.now(), "refreshed once the IdP was back"


@pytest.mark.parametrize("fault", STAND_INS)
def test_a_save_while_the_idp_is_broken_is_kept_and_pushed_later(customer, devidp, fault):
    text = f"typed while the IdP was {fault} at {time.time()}"
    with idp_replaced_by(devidp, STAND_INS[fault]):
        began = time.monotonic()
        version = mirror(customer).version
        response = customer.post(
            "/userdata/",
            data=json.dumps({"userData": text, "version": version}),
            content_type="application/json",
        )
        elapsed = time.monotonic() - began
        body = assert_safe(response, allowed={200})
        assert response.json()["state"] == "pending", body
        assert "waiting to sync" in response.json()["message"].lower()
        page = assert_safe(customer.get("/"), allowed={200})
        assert text in page, "the page shows what the person typed"
    assert elapsed < 10 * FAST + 3, f"the save took {elapsed:.1f} s"
    assert mirror(customer).user_text == text
    assert mirror(customer).pending
    # Back up: the beat sweeper pushes the waiting edit (once its back-off has passed).
    UserData.objects.filter(pk=mirror(customer).pk).update(next_push_at=None, edited_at=None)
    assert tasks.sweep_pending() == 1
    wait_until(lambda: remote_text(devidp) == text, 10, message="the edit reaching the IdP")
    assert not mirror(customer).pending


@pytest.mark.parametrize("fault", STAND_INS)
def test_sign_in_with_a_broken_user_data_api_still_signs_in(signed_in_client, settings, fault):
    """The token endpoint works but the registration API (the pull at sign-in) does not."""
    with broken_idp_elsewhere(fault) as api_url:
        use_fast_timeouts(settings, API_URL=api_url)
        settings.OAUTHBFF = {**settings.OAUTHBFF, "HTTP_TIMEOUT": 5.0}
        client = signed_in_client(EMAIL)
        page = client.get("/")
    body = assert_safe(page, allowed={200})
    assert f"Hi, {EMAIL}!" in body


def test_database_unavailable_during_a_save_gives_a_clear_error_and_a_retry_works(customer):
    before = mirror(customer)
    events_before = before.events.count()
    failed = {"done": False}

    def fail_first_userdata_write(execute, sql, params, many, context):
        if (
            not failed["done"]
            and "userdata_userdata" in sql
            and sql.lstrip().upper().startswith(("UPDATE", "INSERT"))
        ):
            failed["done"] = True
            raise OperationalError("the database is briefly unavailable")
        return execute(sql, params, many, context)

    client = Client(raise_request_exception=False)
    client.cookies = customer.cookies
    text = f"saved during a database blip {time.time()}"
    version = before.version
    with connection.execute_wrapper(fail_first_userdata_write):
        response = client.post(
            "/userdata/",
            data=json.dumps({"userData": text, "version": version}),
            content_type="application/json",
        )
    assert failed["done"], "the fault was injected"
    assert response.status_code == 503
    assert "try again" in response.json()["error"].lower()
    after = mirror(customer)
    assert after.events.count() == events_before, "nothing half-written"
    assert (after.data, after.edit_seq, after.pending) == (
        before.data,
        before.edit_seq,
        before.pending,
    )
    retry = client.post(
        "/userdata/",
        data=json.dumps({"userData": text, "version": version}),
        content_type="application/json",
    )
    assert retry.status_code == 200
    assert mirror(customer).user_text == text


def test_database_unavailable_during_a_form_save_gives_the_text_back(customer):
    """Without JavaScript the person sees a clear page with their text still in the box."""

    def fail_userdata_writes(execute, sql, params, many, context):
        if "userdata_userdata" in sql and sql.lstrip().upper().startswith(("UPDATE", "INSERT")):
            raise OperationalError("the database is briefly unavailable")
        return execute(sql, params, many, context)

    client = Client(raise_request_exception=False)
    client.cookies = customer.cookies
    text = f"typed during a database blip {time.time()}"
    before = mirror(customer).data
    version = str(mirror(customer).version)
    with connection.execute_wrapper(fail_userdata_writes):
        response = client.post("/userdata/", {"userData": text, "version": version})
    body = assert_safe(response, allowed={503})
    assert text in body, "the refused text is given back, not lost"
    assert "try again" in body.lower()
    assert mirror(customer).data == before
