"""Sync benchmark: pull and push 10,000 users against a FusionAuth-shaped server with 20 ms latency,
the push through real Celery worker processes (PostgreSQL, Redis as the broker).

Runs the BFF's own store and sync code (userdata.stores.fusionauth, userdata.pull, userdata.push,
userdata.tasks). Pull: the paged listing folded in by this process, as `syncuserdata pull --inline`.
Push: every row edited, then `push_chunk` tasks (`--chunk` users each) queued as `syncuserdata push`
does and run by `--processes` worker processes of `--concurrency` threads each; the wall time runs
from the first enqueue until no row waits. Printed per size: wall time, requests, the floor
(requests x latency / concurrency of one worker), floor / wall, and for the push the throughput with
one and with two worker processes and their ratio.

    .venv/bin/python bench/sync_bench.py [--latency 0.02] [--concurrency 16] [--sizes 1000,10000]
                                         [--chunk 50]

Targets: pull in <= 25 requests and under 5 s; push ratio >= 0.80 with 16-way concurrency; a second
worker process raises push throughput (ratio > 1).
"""

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._harness import REDIS, create_scratch_database, drop_scratch_database  # noqa: E402
from bench.sync_fakeidp import APP_ID  # noqa: E402
from tests.fixtures.stack import CeleryWorker, free_port  # noqa: E402

DATABASE = "bff_bench_sync"


def start_server(latency):
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "sync_fakeidp.py"), "--latency", str(latency)],
        stdout=subprocess.PIPE,
        text=True,
    )
    port = int(proc.stdout.readline())
    return proc, f"http://127.0.0.1:{port}"


def bench_env(url, database_url):
    """The environment of this process and of the workers: same database, broker and queue."""
    return {
        # The production profile, as in a deployment: with DEBUG on, Django would also keep a log
        # of every query in each worker.
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "OIDC_ISSUER": url,
        "OIDC_CLIENT_ID": "bench",
        "OIDC_CLIENT_SECRET": secrets.token_urlsafe(32),
        "FUSIONAUTH_API_KEY": secrets.token_urlsafe(32),
        "FUSIONAUTH_APPLICATION_ID": APP_ID,
        "FUSIONAUTH_WEBHOOK_SECRET": secrets.token_urlsafe(32),
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS,
        "CACHE_KEY_PREFIX": f"bench-sync-{os.getpid()}",
        "CELERY_BROKER_URL": REDIS,
        "CELERY_QUEUE": f"bench-sync-{os.getpid()}-{free_port()}",
        "USERDATA_STORE": "fusionauth",
        "FUSIONAUTH_API_URL": url,
        "USERDATA_PUSH_RATE": "",
        "USERDATA_PUSH_LEASE_SECONDS": "10",
        "CONN_MAX_AGE": "60",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "bffproject.settings",
        "ENV_FILE": os.devnull,
    }


def setup_django(env):
    os.environ.update(env)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    settings.DEBUG = False  # no query log


def server_call(url, path, body=None):
    if body is None:
        return requests.get(f"{url}{path}", timeout=30).json()
    return requests.post(f"{url}{path}", json=body, timeout=120).json()


def reset(url, users):
    from userdata.models import SyncEvent, UserData

    SyncEvent.objects.all().delete()
    UserData.objects.all().delete()
    server_call(url, "/_bench/reset", {"users": users})


def mark_all_edited(round_number):
    """Every row gets a new text (new each round, so no push finds the IdP already holding it)."""
    from django.db.models import F

    from userdata.models import UserData

    UserData.objects.update(
        data={"userData": f"edited by the benchmark, round {round_number}", "plan": "basic"},
        pending=True,
        edit_seq=F("edit_seq") + 1,
    )


def pull_phase(url):
    from userdata import pull

    before = server_call(url, "/_bench/stats")["requests"]
    started = time.perf_counter()
    summary = pull.pull_all()
    wall = time.perf_counter() - started
    return (
        summary.total,
        summary.errors,
        wall,
        server_call(url, "/_bench/stats")["requests"] - before,
    )


def push_phase(url, chunk, timeout=600):
    """Queue the chunks as `syncuserdata push` does; wait until no row waits."""
    from userdata import tasks
    from userdata.models import UserData

    ids = list(UserData.objects.pushable().order_by("pk").values_list("pk", flat=True))
    before = server_call(url, "/_bench/stats")["requests"]
    started = time.perf_counter()
    for part in tasks.chunks(ids, chunk):
        tasks.push_chunk.delay(part)
    deadline = time.monotonic() + timeout
    while UserData.objects.pending().exists():
        if time.monotonic() > deadline:
            raise TimeoutError("the push did not finish")
        time.sleep(0.05)
    wall = time.perf_counter() - started
    made = server_call(url, "/_bench/stats")["requests"] - before
    errors = UserData.objects.failed().count()
    return len(ids), errors, wall, made


def kill_phase(url, env, concurrency, chunk, log_dir, users):
    """kill -9 the only worker in the middle of a push, start another, let the sweeper (run here
    every 5 s, as beat would) finish; then compare every user's text at the IdP with the mirror."""
    import signal

    from userdata import stores, tasks
    from userdata.models import UserData

    mark_all_edited(3)
    ids = list(UserData.objects.pushable().order_by("pk").values_list("pk", flat=True))
    first = CeleryWorker(env, log_dir, concurrency=concurrency, name="victim").start(timeout=60)
    started = time.perf_counter()
    for part in tasks.chunks(ids, chunk):
        tasks.push_chunk.delay(part)
    while UserData.objects.pending().count() > len(ids) * 0.7:
        time.sleep(0.05)
    left_at_kill = UserData.objects.pending().count()
    os.killpg(first.service.process.pid, signal.SIGKILL)
    first.service.process.wait(timeout=10)
    second = CeleryWorker(env, log_dir, concurrency=concurrency, name="second").start(timeout=60)
    try:
        deadline = time.monotonic() + 600
        while UserData.objects.pending().exists() and time.monotonic() < deadline:
            tasks.sweep_pending.delay()
            time.sleep(5)
    finally:
        second.stop()
    wall = time.perf_counter() - started
    mirror = dict(UserData.objects.values_list("subject", "data"))
    wrong = 0
    for page in stores.get_store().iter_all():
        wrong += sum(1 for remote in page if mirror.get(remote.subject) != remote.data)
    pending = UserData.objects.pending().count()
    return {
        "users": users,
        "left_at_kill": left_at_kill,
        "pending": pending,
        "wrong": wrong,
        "wall_s": round(wall, 1),
    }


def with_workers(env, processes, concurrency, log_dir, run):
    workers = [
        CeleryWorker(env, log_dir, concurrency=concurrency, name=f"worker{n}")
        for n in range(processes)
    ]
    try:
        for worker in workers:
            worker.start(timeout=60)
        return run()
    finally:
        for worker in workers:
            worker.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--concurrency", type=int, default=16, help="threads per worker process")
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--chunk", type=int, default=50, help="users per push task")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--kill", action="store_true", help="also kill -9 a worker mid-push at the largest size"
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    proc, url = start_server(args.latency)
    database_url = create_scratch_database(DATABASE)
    env = bench_env(url, database_url)
    results = []
    killed = None
    try:
        with tempfile.TemporaryDirectory() as log_dir:
            worker_env = {**os.environ, **env}
            setup_django(env)
            for users in sizes:
                reset(url, users)
                total, errors, wall, made = pull_phase(url)
                results.append(
                    {
                        "action": "pull",
                        "users": users,
                        "done": total,
                        "errors": errors,
                        "wall_s": round(wall, 3),
                        "requests": made,
                        "concurrency": 1,
                    }
                )
                for processes in (1, 2):
                    mark_all_edited(processes)
                    done, errors, wall, made = with_workers(
                        worker_env,
                        processes,
                        args.concurrency,
                        log_dir,
                        lambda: push_phase(url, args.chunk),
                    )
                    floor = made * args.latency / args.concurrency
                    results.append(
                        {
                            "action": f"push x{processes}",
                            "users": users,
                            "done": done,
                            "errors": errors,
                            "wall_s": round(wall, 3),
                            "requests": made,
                            "concurrency": args.concurrency * processes,
                            "floor_s": round(floor, 3),
                            "ratio": round(floor / wall, 3) if wall else 0,
                            "per_s": round(done / wall, 1) if wall else 0,
                        }
                    )
                if args.kill and users == max(sizes):
                    killed = kill_phase(
                        url, worker_env, args.concurrency, args.chunk, log_dir, users
                    )
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        drop_scratch_database(DATABASE)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    print(
        f"latency {args.latency * 1000:.0f} ms, worker threads {args.concurrency}, chunk "
        f"{args.chunk}, {os.cpu_count()} CPUs, load average {load:.1f}; PostgreSQL, Redis broker"
    )
    print(
        f"{'action':<8} {'users':>6} {'done':>6} {'errors':>6} {'wall s':>8} {'requests':>8} "
        f"{'floor s':>8} {'ratio':>6} {'users/s':>8}"
    )
    for r in results:
        print(
            f"{r['action']:<8} {r['users']:>6} {r['done']:>6} {r['errors']:>6} {r['wall_s']:>8.2f} "
            f"{r['requests']:>8} {r.get('floor_s', 0):>8.2f} {r.get('ratio', 0):>6.2f} "
            f"{r.get('per_s', 0):>8.1f}"
        )
    big = [r for r in results if r["users"] == max(sizes)]
    pull = next(r for r in big if r["action"] == "pull")
    one = next(r for r in big if r["action"] == "push x1")
    two = next(r for r in big if r["action"] == "push x2")
    scale = two["per_s"] / one["per_s"] if one["per_s"] else 0
    print(f"second worker process: push throughput x{scale:.2f}")
    checks = [
        (f"pull {pull['users']} in <= 25 requests", pull["requests"] <= 25),
        (f"pull {pull['users']} under 5 s", pull["wall_s"] < 5),
        (f"push ratio >= 0.80 with one worker of {args.concurrency}", one["ratio"] >= 0.8),
        ("a second worker process raises push throughput", scale > 1),
        ("no push errors", not any(r["errors"] for r in results)),
    ]
    if killed:
        print(
            f"kill -9 of the worker with {killed['left_at_kill']} of {killed['users']} pushes "
            f"left: done in {killed['wall_s']} s after a second worker and the sweeper; "
            f"{killed['pending']} still waiting, {killed['wrong']} users whose IdP text differs "
            "from the mirror"
        )
        checks.append(
            (
                "kill -9 mid-push: every edit at the IdP",
                not killed["pending"] and not killed["wrong"],
            )
        )
    for label, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {label}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
