"""The harness the browser tests and benchmarks stand on: processes, sign-in forms, bench-only URLs."""

import types

import pytest
import requests
from django.urls import Resolver404, resolve

from tests.fixtures.stack import Service, free_port, submit_login_form, wait_until

pytestmark = pytest.mark.smoke

LOGIN_PAGE = """
<form method="post" action="/oauth2/authorize?client_id=abc&amp;state=s1">
  <input type="hidden" name="csrfmiddlewaretoken" value="tok">
  <input id="loginId" name="loginId" type="email" value="">
  <input id="password" name="password" type="password">
  <button type="submit">Sign in</button>
</form>
"""


def test_a_service_is_started_waited_for_and_stopped_with_its_children(tmp_path):
    port = free_port()
    argv = [
        "python3",
        "-c",
        "import subprocess, sys; subprocess.Popen([sys.executable, '-m', 'http.server', "
        f"'{port}', '--bind', '127.0.0.1']).wait()",
    ]
    service = Service("echo", argv, None, tmp_path, ready_url=f"http://127.0.0.1:{port}/")
    service.start(timeout=20)
    assert requests.get(f"http://127.0.0.1:{port}/", timeout=5).status_code == 200
    service.stop()
    assert not service.alive

    def port_closed():
        try:
            requests.get(f"http://127.0.0.1:{port}/", timeout=1)
        except requests.ConnectionError:
            return True
        return False

    wait_until(port_closed, 10, message="the grandchild server to stop with its group")


def test_a_service_that_dies_at_start_reports_its_log(tmp_path):
    service = Service(
        "broken",
        ["python3", "-c", "import sys; print('boom: bad config'); sys.exit(3)"],
        None,
        tmp_path,
        ready_url=f"http://127.0.0.1:{free_port()}/",
    )
    with pytest.raises(RuntimeError, match="boom: bad config"):
        service.start(timeout=10)


def test_the_sign_in_form_is_filled_like_a_person_would():
    sent = {}

    class FakeSession:
        def post(self, url, data, **kwargs):
            sent.update(url=url, data=data)
            return "posted"

    page = types.SimpleNamespace(
        text=LOGIN_PAGE, url="http://idp.test/oauth2/authorize?x=1", status_code=200
    )
    assert submit_login_form(FakeSession(), page, "ada@example.com", "secret") == "posted"
    assert sent["url"] == "http://idp.test/oauth2/authorize?client_id=abc&state=s1"
    assert sent["data"] == {
        "csrfmiddlewaretoken": "tok",
        "loginId": "ada@example.com",
        "password": "secret",
    }


def test_a_page_without_a_sign_in_form_is_an_error():
    page = types.SimpleNamespace(text="<p>Oops</p>", url="http://idp.test/", status_code=500)
    with pytest.raises(AssertionError, match="no sign-in form"):
        submit_login_form(None, page, "ada@example.com", "secret")


def test_the_bare_benchmark_view_is_only_in_the_benchmark_urls():
    with pytest.raises(Resolver404):
        resolve("/bench/session/")
    match = resolve("/bench/session/", urlconf="bench.urls")
    assert match.url_name == "bench-session"
    assert resolve("/", urlconf="bench.urls").url_name == resolve("/").url_name


def test_the_idp_request_counter_skips_dev_endpoints():
    from bench._harness import REQUEST_LINE, percentile

    log = "\n".join(
        [
            '[27/Nov/2026 05:22:09] "GET /.well-known/jwks.json HTTP/1.1" 200 512',
            '[27/Nov/2026 05:22:09] "POST /oauth2/token HTTP/1.1" 200 1200',
            '[27/Nov/2026 05:22:10] "GET /_dev/stats HTTP/1.1" 200 80',
            '[27/Nov/2026 05:22:10] "PATCH /api/user/registration/u/a HTTP/1.1" 200 90',
        ]
    )
    assert len(REQUEST_LINE.findall(log)) == 3
    assert percentile([5, 1, 3, 2, 4], 0.5) == 3
    assert percentile([1, 2, 3, 4, 100], 0.99) == 100
