"""Shared test set-up. The fixtures live in tests/fixtures/ as plugins, one module per concern."""

import os

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
