"""The id of the request being served, for log lines and for calls made on its behalf.

A contextvar rather than a thread-local: it follows the request into async code and is reset
when the request ends, so a worker thread never carries the previous request's id.
"""

import contextvars
import re
import uuid

HEADER = "X-Request-ID"
# An id sent by the proxy in front is kept when it looks like one (so one id spans the proxy's and
# our logs); anything else is replaced, so a client cannot inject text into the logs.
_VALID = re.compile(r"[A-Za-z0-9._:-]{8,64}")

request_id = contextvars.ContextVar("request_id", default="-")


def current():
    """The current request's id, or "-" outside a request (management commands, workers)."""
    return request_id.get()


def from_header(value):
    """The proxy's id when it is a plausible one, else a new random id."""
    if value and _VALID.fullmatch(value):
        return value
    return uuid.uuid4().hex


def outbound_headers():
    """``OAUTHBFF["OUTBOUND_HEADERS"]``: the request's id on the calls made while serving it."""
    value = request_id.get()
    return {} if value == "-" else {HEADER: value}
