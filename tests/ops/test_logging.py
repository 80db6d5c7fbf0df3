"""Request ids and log lines (ops/requestid.py, ops/logging.py, the LOGGING setting)."""

import json
import logging

import pytest
from django.conf import settings

from ops import requestid
from ops.logging import RedactQueryFilter, RequestIdFilter


class Capture(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def server_log():
    """What the development server's logger lets through to its handlers."""
    logger = logging.getLogger("django.server")
    capture = Capture()
    logger.addHandler(capture)
    yield capture
    logger.removeHandler(capture)


def test_the_development_server_does_not_log_codes_of_failed_callbacks(server_log):
    # How django.core.servers.basehttp.WSGIRequestHandler.log_message logs a 400.
    line = "GET /auth/callback/?code=SplxlOBeZQQYbYS6WxSbIA&state=af0ifjsldkj&x=1 HTTP/1.1"
    logging.getLogger("django.server").warning('"%s" %s %s', line, "400", "123")
    message = server_log.records[-1].getMessage()
    assert "SplxlOBeZQQYbYS6WxSbIA" not in message and "af0ifjsldkj" not in message
    assert "code=[redacted]" in message and "state=[redacted]" in message and "x=1" in message


def test_the_redaction_leaves_other_lines_alone():
    record = logging.makeLogRecord({"msg": "GET /?codex=1&mystate=2 %s", "args": ("ok",)})
    RedactQueryFilter(["code", "state"]).filter(record)
    assert record.getMessage() == "GET /?codex=1&mystate=2 ok"


def test_every_answer_carries_a_request_id(client):
    first = client.get("/healthz")["X-Request-ID"]
    second = client.get("/healthz")["X-Request-ID"]
    assert len(first) == 32 and first != second
    kept = client.get("/healthz", HTTP_X_REQUEST_ID="proxy-id-1234")
    assert kept["X-Request-ID"] == "proxy-id-1234", "one id across the proxy's logs and ours"
    forged = client.get("/healthz", HTTP_X_REQUEST_ID="bad id\nINFO forged line")
    assert forged["X-Request-ID"] != "bad id\nINFO forged line"
    assert requestid.current() == "-", "reset once the request is answered"


def test_production_log_lines_are_one_json_object_with_the_request_id():
    config = dict(settings.LOGGING["formatters"]["json"])
    factory = config.pop("()")
    module, _, name = factory.rpartition(".")
    formatter = getattr(__import__(module, fromlist=[name]), name)(**config)
    token = requestid.request_id.set("req-abcdef12")
    try:
        record = logging.makeLogRecord(
            {
                "name": "oauthbff",
                "levelname": "WARNING",
                "msg": "refresh failed\nfor %s",
                "args": ("x",),
            }
        )
        RequestIdFilter().filter(record)
    finally:
        requestid.request_id.reset(token)
    line = formatter.format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["request_id"] == "req-abcdef12"
    assert entry["level"] == "WARNING" and entry["logger"] == "oauthbff"
    assert entry["message"] == "refresh failed\nfor x"


def test_a_logged_request_appears_as_its_method_and_path_never_its_query():
    from django.test import RequestFactory

    config = dict(settings.LOGGING["formatters"]["json"])
    factory = config.pop("()")
    module, _, name = factory.rpartition(".")
    formatter = getattr(__import__(module, fromlist=[name]), name)(**config)
    request = RequestFactory().get("/auth/callback/", {"code": "SplxlOBeZQQ", "state": "af0ifj"})
    request.request_id = "req-from-the-request"
    record = logging.makeLogRecord(
        {
            "name": "django.request",
            "levelname": "WARNING",
            "msg": "Bad Request: %s",
            "args": ("/auth/callback/",),
            "request": request,
            "status_code": 400,
        }
    )
    RequestIdFilter().filter(record)
    line = formatter.format(record)
    assert "SplxlOBeZQQ" not in line and "af0ifj" not in line
    entry = json.loads(line)
    assert entry["path"] == "/auth/callback/" and entry["method"] == "GET"
    assert entry["request_id"] == "req-from-the-request", "the record's request, not the context"
    assert entry["status_code"] == 400
