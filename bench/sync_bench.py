"""Sync benchmark: pull and push 10,000 users against a FusionAuth-shaped server with 20 ms latency.

Runs the BFF's own store and sync code (userdata.stores.fusionauth, userdata.sync) and prints, at
1,000 and 10,000 users, wall time, requests made, the floor (requests x latency / concurrency), the
ratio floor / wall, and the peak Python memory of a separate tracemalloc pass. The push runs as
`syncuserdata push --one-cpu` does, `--repeat` times, and the run with the median push time is
reported (all push ratios are printed: on shared cores one run moves by several hundredths); one more
push with the workers on any CPU is shown for comparison.

    .venv/bin/python bench/sync_bench.py [--latency 0.02] [--workers 16] [--sizes 1000,10000] [--repeat 3]

Targets: pull in <= 25 requests and under 5 s; push ratio >= 0.80 with 16 workers; peak memory flat.
"""

import argparse
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


def start_server(latency):
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "sync_fakeidp.py"), "--latency", str(latency)],
        stdout=subprocess.PIPE,
        text=True,
    )
    port = int(proc.stdout.readline())
    return proc, f"http://127.0.0.1:{port}"


def setup_django(url, workdir):
    os.environ.setdefault("DEBUG", "true")
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir}/bench.sqlite3"
    os.environ.pop("REDIS_URL", None)
    os.environ["USERDATA_STORE"] = "fusionauth"
    os.environ["FUSIONAUTH_API_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "bffproject.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    settings.DEBUG = False  # no query log: memory must reflect the sync code only


def server_call(url, path, body=None):
    if body is None:
        return requests.get(f"{url}{path}", timeout=30).json()
    return requests.post(f"{url}{path}", json=body, timeout=120).json()


def reset(url, users):
    from userdata.models import SyncEvent, UserData

    SyncEvent.objects.all().delete()
    UserData.objects.all().delete()
    server_call(url, "/_bench/reset", {"users": users})


def mark_all_edited():
    from django.db.models import F

    from userdata.models import UserData

    UserData.objects.update(
        data={"userData": "edited by the benchmark", "plan": "basic"},
        pending=True,
        edit_seq=F("edit_seq") + 1,
    )


def run_phase(url, action, workers, trace, one_cpu=True):
    from userdata import sync

    before = server_call(url, "/_bench/stats")["requests"]
    if trace:
        tracemalloc.start()
    cpu = time.process_time()
    started = time.perf_counter()
    if action == "pull":
        summary = sync.pull_all()
    else:
        summary = sync.push_all(workers=workers, one_cpu=one_cpu)
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu
    peak = 0
    if trace:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    made = server_call(url, "/_bench/stats")["requests"] - before
    return summary, wall, made, peak, cpu


def measure(url, users, args):
    """The rows for one size: pull and push from the run with the median push time of `--repeat`
    runs (pushing as `syncuserdata push --one-cpu` does), one push with the threads on any CPU for
    comparison, and the peak memory of a separate traced run."""

    def cycle(trace=False, one_cpu=True):
        reset(url, users)
        pull = run_phase(url, "pull", 1, trace)
        mark_all_edited()
        return pull, run_phase(url, "push", args.workers, trace, one_cpu=one_cpu)

    def row(action, concurrency, phase, peak, runs=()):
        summary, wall, made, _, cpu = phase
        floor = made * args.latency / concurrency
        return {
            "action": action,
            "users": users,
            "done": summary.total,
            "changed": summary.changed,
            "errors": summary.errors,
            "wall_s": round(wall, 3),
            "cpu_s": round(cpu, 3),
            "requests": made,
            "concurrency": concurrency,
            "floor_s": round(floor, 3),
            "ratio": round(floor / wall, 3) if wall else 0,
            "peak_mem_mb": round(peak / 2**20, 2),
            "runs": list(runs),
        }

    runs = sorted((cycle() for _ in range(max(1, args.repeat))), key=lambda run: run[1][1])
    pull, push = runs[len(runs) // 2]
    _, spread = cycle(one_cpu=False)
    traced_pull, traced_push = cycle(trace=True)
    ratios = [row("push", args.workers, run[1], 0)["ratio"] for run in runs]
    return [
        row("pull", 1, pull, traced_pull[3]),
        row("push", args.workers, push, traced_push[3], ratios),
        row("push*", args.workers, spread, traced_push[3]),
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    proc, url = start_server(args.latency)
    results = []
    try:
        with tempfile.TemporaryDirectory() as workdir:
            setup_django(url, workdir)
            for users in sizes:
                results.extend(measure(url, users, args))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    print(
        f"latency {args.latency * 1000:.0f} ms, push workers {args.workers}, "
        f"{os.cpu_count()} CPUs, load average {load:.1f} (cpu s: this process's CPU time)"
    )
    header = (
        f"{'action':<6} {'users':>6} {'done':>6} {'errors':>6} {'wall s':>8} {'cpu s':>7} {'requests':>8} "
        f"{'floor s':>8} {'ratio':>6} {'peak MB':>8}"
    )
    print(header)
    for r in results:
        print(
            f"{r['action']:<6} {r['users']:>6} {r['done']:>6} {r['errors']:>6} {r['wall_s']:>8.2f} "
            f"{r['cpu_s']:>7.2f} "
            f"{r['requests']:>8} {r['floor_s']:>8.2f} {r['ratio']:>6.2f} {r['peak_mem_mb']:>8.2f}"
            + (
                f"   (runs: {' '.join(f'{x:.2f}' for x in r['runs'])})"
                if len(r["runs"]) > 1
                else ""
            )
        )
    print(
        "push: as `syncuserdata push --one-cpu`, median of the runs listed; "
        "push*: one run with the workers on any CPU, for comparison"
    )
    big = [r for r in results if r["users"] == max(sizes)]
    small = [r for r in results if r["users"] == min(sizes)]
    pull = next(r for r in big if r["action"] == "pull")
    push = next(r for r in big if r["action"] == "push")
    growth = max(
        b["peak_mem_mb"] / max(s["peak_mem_mb"], 0.01) for b, s in zip(big, small, strict=True)
    )
    checks = [
        (f"pull {pull['users']} in <= 25 requests", pull["requests"] <= 25),
        (f"pull {pull['users']} under 5 s", pull["wall_s"] < 5),
        (f"push ratio >= 0.80 with {args.workers} workers", push["ratio"] >= 0.8),
        (f"peak memory {min(sizes)} -> {max(sizes)} users grows < 2x (x{growth:.2f})", growth < 2),
    ]
    for label, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {label}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
