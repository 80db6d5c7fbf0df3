"""Shared test set-up. The fixtures live in tests/fixtures/ as plugins, one module per concern."""

import os

import pytest

pytest_plugins = [
    "tests.fixtures.devidp",
    "tests.fixtures.auth",
    "tests.fixtures.stack",
]

# tests/standalone/ runs under its own settings (the apps in a bare project): tests/test_standalone.py
# starts that run; under the demo's settings it is not collected.
collect_ignore = (
    []
    if os.environ.get("DJANGO_SETTINGS_MODULE") == "tests.standalone.settings"
    else ["standalone"]
)


@pytest.fixture(autouse=True)
def _broker_circuit_closed(monkeypatch):
    """A test that makes the broker fail leaves userdata's "skip the broker for a few seconds"
    marker behind; every test starts without it."""
    monkeypatch.setattr("userdata.tasks._broker_failed_at", None)
