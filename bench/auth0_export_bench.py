"""Auth0 bulk pull: a tenant past the 1,000-user listing limit, read through a users-export job.

Starts the Auth0 stand-in (tests/fixtures/auth0.py: Auth0's documented limits, 1,000 users per
query, 100 per page, the export job and its gzipped NDJSON file) as a separate process, so its
memory is not counted, and pulls every user twice per size: through the store alone
(`Auth0Store.iter_all`) and through `syncuserdata pull --inline` (the chunks in this process, no
Celery worker) into a scratch SQLite mirror. Prints users received, calls served by the stand-in,
wall time, and the peak Python memory of a separate tracemalloc pass.

    .venv/bin/python bench/auth0_export_bench.py [--sizes 2500,25000] [--pad 1000]

Targets: every user arrives once; the peak grows < 1.25x from the smallest to the largest size.
"""

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def start_standin(users, pad):
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "fixtures" / "auth0.py"), "--users", str(users)]
        + ["--pad", str(pad)],
        stdout=subprocess.PIPE,
        text=True,
    )
    return proc, proc.stdout.readline().strip()


def setup_django(workdir):
    os.environ["DEBUG"] = "true"
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir}/bench.sqlite3"
    os.environ.pop("REDIS_URL", None)
    os.environ["USERDATA_STORE"] = "auth0"
    os.environ["AUTH0_MGMT_CLIENT_ID"] = "cid"
    os.environ["AUTH0_MGMT_CLIENT_SECRET"] = "secret"
    os.environ["AUTH0_DOMAIN"] = "http://127.0.0.1:1"  # replaced per size below
    os.environ["DJANGO_SETTINGS_MODULE"] = "bffproject.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    settings.DEBUG = False  # no query log: memory must reflect the sync code only


def point_at(url):
    from django.conf import settings

    from userdata.stores import reset_store

    settings.USERDATA = {
        **settings.USERDATA,
        "AUTH0": {**settings.USERDATA["AUTH0"], "DOMAIN": url, "EXPORT_POLL_SECONDS": 0.2},
    }
    reset_store()


def pull_store(users):
    """Every user through the store; returns the count of distinct users received."""
    from userdata.stores import get_store

    seen = bytearray(users)
    for page in get_store().iter_all():
        for remote in page:
            seen[remote.data["n"]] = 1
    return users - seen.count(0)


def empty_mirror():
    from django.db import connection

    with connection.cursor() as cursor:  # not .delete(): that loads every row to cascade
        cursor.execute("DELETE FROM userdata_syncevent")
        cursor.execute("DELETE FROM userdata_userdata")


def pull_mirror(users):
    from django.core.management import call_command

    from userdata.models import UserData

    out = io.StringIO()
    with contextlib.suppress(SystemExit):  # the command exits 1 on errors; they are checked below
        call_command("syncuserdata", "pull", "--inline", "--json", stdout=out)
    summary = json.loads(out.getvalue())
    assert summary["errors"] == 0, summary
    return UserData.objects.count()


def measure(url, users, path):
    stats = f"{url}/_standin/stats"
    before = requests.get(stats, timeout=10).json()
    run = pull_store if path == "store" else pull_mirror
    empty_mirror()
    started = time.perf_counter()
    received = run(users)
    wall = time.perf_counter() - started
    after = requests.get(stats, timeout=10).json()
    calls = sum(after.values()) - sum(before.values())
    empty_mirror()
    tracemalloc.start()
    run(users)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "path": path,
        "users": users,
        "received": received,
        "calls": calls,
        "wall_s": round(wall, 2),
        "peak_mb": round(peak / 2**20, 2),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="2500,25000")
    parser.add_argument("--pad", type=int, default=1000, help="bytes of metadata padding per user")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        setup_django(workdir)
        for users in sizes:
            proc, url = start_standin(users, args.pad)
            try:
                point_at(url)
                for path in ("store", "mirror"):
                    rows.append(measure(url, users, path))
            finally:
                proc.terminate()
                proc.wait(timeout=10)
    print(f"pad {args.pad} B per user; calls: token, listing, export job, polls, download")
    print(
        f"{'path':7}{'users':>7}{'received':>10}{'calls':>7}{'wall s':>8}{'peak MB':>9}  tenant MB"
    )
    for row in rows:
        tenant = row["users"] * (args.pad + 60) / 2**20
        print(
            f"{row['path']:7}{row['users']:>7}{row['received']:>10}{row['calls']:>7}"
            f"{row['wall_s']:>8.2f}{row['peak_mb']:>9.2f}  {tenant:.1f}"
        )
    failed = False
    for path in ("store", "mirror"):
        mine = [row for row in rows if row["path"] == path]
        complete = all(row["received"] == row["users"] for row in mine)
        growth = mine[-1]["peak_mb"] / mine[0]["peak_mb"] if mine[0]["peak_mb"] else 0
        for ok, text in (
            (complete, f"{path}: every user received once"),
            (
                growth < 1.25,
                f"{path}: peak {sizes[0]} -> {sizes[-1]} users grows < 1.25x (x{growth:.2f})",
            ),
        ):
            print(("PASS  " if ok else "FAIL  ") + text)
            failed |= not ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
