"""Shared checks for hostile input: a bad request is refused politely, and refusing changes nothing."""

import re

import pytest
from hypothesis import HealthCheck, settings

# Bounded so CI stays fast; deadline off because some examples make a real HTTP call to the devidp.
settings.register_profile(
    "hostile",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
    database=None,
)
HOSTILE = settings.get_profile("hostile")
# For properties whose every example makes a real round trip to the live IdP (a push, a sign-in).
HOSTILE_LIVE = settings(HOSTILE, max_examples=25)

TOKEN_SHAPE = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.")


def assert_safe(response, *, allowed=None):
    """Never a traceback, debug page or token-shaped string; never a 5xx unless `allowed` names it
    (a 502/503 is the right answer when the IdP is down, never to bad input)."""
    status = response.status_code
    if allowed is not None:
        assert status in allowed, f"unexpected status {status}"
    assert status < 500 or status in (allowed or ()), f"server error {status}"
    body = response.content.decode("utf-8", errors="replace")
    assert "Traceback" not in body
    assert "Exception Value" not in body
    assert not TOKEN_SHAPE.search(body), "a token-shaped string reached the response"
    return body


@pytest.fixture
def hostile_settings():
    return HOSTILE
