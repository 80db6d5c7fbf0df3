"""What the production defaults cost per request: the request-id, CSP, Permissions-Policy and 405-page
middleware, measured in-process with Django's test client (no network, SQLite in a scratch file).

    .venv/bin/python bench/ops_overhead.py

Prints the median time per request, of three runs of N requests, with and without those four.
"""

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
N = 2000
ADDED = {
    "ops.middleware.RequestIdMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "bffproject.middleware.MethodNotAllowedPageMiddleware",
}


def per_request_us(client, path):
    for _ in range(200):
        client.get(path)
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(N):
            client.get(path)
        runs.append((time.perf_counter() - started) / N * 1e6)
    return statistics.median(runs)


def main():
    scratch = Path(tempfile.mkdtemp(prefix="ops-bench-"))
    os.environ.update(
        DEBUG="true",
        ENV_FILE=os.devnull,
        DATABASE_URL=f"sqlite:///{scratch / 'bench.sqlite3'}",
        DJANGO_SETTINGS_MODULE="bffproject.settings",
        LOG_LEVEL="ERROR",
    )
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client, override_settings

    call_command("migrate", verbosity=0, skip_checks=True)
    full = list(settings.MIDDLEWARE)
    without = [name for name in full if name not in ADDED]
    for path in ("/healthz", "/"):
        with override_settings(MIDDLEWARE=without):
            base = per_request_us(Client(HTTP_HOST="localhost"), path)
        with override_settings(MIDDLEWARE=full):
            added = per_request_us(Client(HTTP_HOST="localhost"), path)
        print(
            f"{path:9} {added:6.0f} us with the production-default middleware, {base:6.0f} us "
            f"without: {added - base:+.0f} us per request"
        )


if __name__ == "__main__":
    main()
