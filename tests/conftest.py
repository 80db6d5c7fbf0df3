"""Shared test set-up. The fixtures live in tests/fixtures/ as plugins, one module per concern."""

import os

# The suite runs the development profile unless the caller says otherwise (CI sets DATABASE_URL and
# REDIS_URL to run it on PostgreSQL and Redis).
os.environ.setdefault("DEBUG", "true")

pytest_plugins = [
    "tests.fixtures.devidp",
    "tests.fixtures.auth",
]
