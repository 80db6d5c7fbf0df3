"""Shared test set-up. The fixtures live in tests/fixtures/ as plugins, one module per concern."""

pytest_plugins = [
    "tests.fixtures.devidp",
    "tests.fixtures.auth",
    "tests.fixtures.stack",
]
