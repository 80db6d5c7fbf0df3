"""Warm page: the signed-in home page against a bare view that only reads the session, same server.

    .venv/bin/python bench/warm_page.py [--seconds 5] [--rounds 3] [--concurrency 8]

Starts the development IdP and the BFF (gunicorn, 4 workers, PostgreSQL, Redis), signs clients in,
then alternates timed rounds of GET / and GET /bench/session/. Prints requests per second for both,
their ratio (target >= 0.75) and IdP calls per page (target 0); exits 1 when a target is missed.
"""

import argparse
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._harness import (  # noqa: E402
    monotonic,
    production_stack,
    say,
    signed_in_session,
    summary_ms,
)

EMAIL = "customer@example.com"
TARGET_RATIO = 0.75


def timed_round(sessions, url, expected, seconds):
    """Every client loops on one URL for `seconds`; returns (ok count, errors, latencies, elapsed)."""
    latencies, errors = [], []
    lock = threading.Lock()
    start = monotonic()
    stop_at = start + seconds

    def client(session):
        mine, bad = [], []
        while monotonic() < stop_at:
            began = monotonic()
            try:
                response = session.get(url, timeout=15, allow_redirects=False)
                ok = response.status_code == 200 and expected in response.text
            except Exception as exc:  # noqa: BLE001 - every failure is counted, none ends the run
                ok, response = False, exc
            if ok:
                mine.append(monotonic() - began)
            else:
                bad.append(getattr(response, "status_code", repr(response)))
        with lock:
            latencies.extend(mine)
            errors.extend(bad)

    threads = [threading.Thread(target=client, args=(session,)) for session in sessions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(latencies), errors, latencies, monotonic() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of one timed round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per URL, interleaved")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent clients")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    args = parser.parse_args(argv)

    with production_stack(workers=args.workers) as (idp, bff):
        say(f"signing in {args.concurrency} sessions of {EMAIL}")
        sessions = [signed_in_session(bff.url, EMAIL) for _ in range(args.concurrency)]
        greeting = f"Hi, {EMAIL}!"
        targets = {
            "home": (f"{bff.url}/", greeting),
            "bare": (f"{bff.url}/bench/session/", "signed in"),
        }
        for url, expected in targets.values():
            timed_round(sessions, url, expected, 1.0)  # warm-up: connections and caches
        totals = {
            name: {"ok": 0, "errors": [], "latencies": [], "elapsed": 0.0} for name in targets
        }
        idp_during_home = 0
        for number in range(args.rounds):
            for name, (url, expected) in targets.items():
                before = idp.requests_served()
                ok, errors, latencies, elapsed = timed_round(sessions, url, expected, args.seconds)
                if name == "home":
                    idp_during_home += idp.requests_served() - before
                total = totals[name]
                total["ok"] += ok
                total["errors"] += errors
                total["latencies"] += latencies
                total["elapsed"] += elapsed
                say(f"round {number + 1} {name}: {ok / elapsed:.0f} req/s, {len(errors)} errors")

    rps = {name: total["ok"] / total["elapsed"] for name, total in totals.items()}
    ratio = rps["home"] / rps["bare"] if rps["bare"] else 0.0
    per_page = idp_during_home / totals["home"]["ok"] if totals["home"]["ok"] else float("inf")
    errors = sum(len(total["errors"]) for total in totals.values())
    print(
        f"warm page: {args.workers} gunicorn workers, {args.concurrency} clients, "
        f"{args.rounds} x {args.seconds:g} s per URL"
    )
    for name, label in (("bare", "bare session view"), ("home", "signed-in home page")):
        lat = summary_ms(totals[name]["latencies"])
        print(
            f"  {label:<20} {rps[name]:8.1f} req/s   p50 {lat['p50']:.1f} ms   p95 {lat['p95']:.1f} ms"
        )
    print(f"  ratio home/bare      {ratio:8.2f}        (target >= {TARGET_RATIO})")
    print(f"  IdP calls per page   {per_page:8.3f}        (target 0)")
    print(f"  failed requests      {errors:8d}        (target 0)")
    missed = ratio < TARGET_RATIO or per_page != 0 or errors
    print("RESULT: " + ("target missed" if missed else "all targets met"))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
