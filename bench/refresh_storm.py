"""Refresh storm: 50 concurrent requests of one session whose access token has just expired.

    .venv/bin/python bench/refresh_storm.py [--requests 50] [--storms 3]

Starts the development IdP (rotating, one-time-use refresh tokens) and the BFF (gunicorn, 4 workers,
PostgreSQL, Redis). For each storm a fresh session signs in with a 2-second access token, waits for it
to expire, then fires the requests at once (released together by a barrier). Prints the token-endpoint
calls per storm (target exactly 1) and failed requests (target 0); exits 1 when a target is missed.
"""

import argparse
import sys
import threading
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._harness import monotonic, production_stack, say, signed_in_session, summary_ms  # noqa: E402

EMAILS = ("customer@example.com", "teller@example.com", "admin@example.com")
SHORT_TTL = 2
LONG_TTL = 3600


def token_calls(idp):
    calls = idp.stats().get("token_calls", {})
    return calls.get("refresh_token", 0), sum(calls.values())


def storm(bff_url, cookies, email, count):
    """Release `count` requests with the same session cookie at once; return (failures, latencies)."""
    barrier = threading.Barrier(count)
    failures, latencies = [], []
    lock = threading.Lock()
    greeting = f"Hi, {email}!"

    def one():
        session = requests.Session()
        session.cookies.update(cookies)
        barrier.wait(timeout=30)
        began = monotonic()
        try:
            response = session.get(f"{bff_url}/", timeout=30, allow_redirects=False)
            failure = None
            if response.status_code != 200 or greeting not in response.text:
                failure = f"{response.status_code} {response.headers.get('Location', '')}".strip()
        except requests.RequestException as exc:
            failure = type(exc).__name__
        with lock:
            latencies.append(monotonic() - began)
            if failure:
                failures.append(failure)

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failures, latencies


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50, help="concurrent requests per storm")
    parser.add_argument("--storms", type=int, default=3, help="storms, each on a fresh session")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    args = parser.parse_args(argv)

    results = []
    with production_stack(workers=args.workers, OIDC_REFRESH_LEEWAY=1) as (idp, bff):
        idp.set_refresh_policy("OneTimeUse")
        for number in range(args.storms):
            email = EMAILS[number % len(EMAILS)]
            idp.set_access_token_ttl(SHORT_TTL)
            session = signed_in_session(bff.url, email)
            signed_in_at = time.monotonic()
            idp.set_access_token_ttl(LONG_TTL)  # the refreshed token outlives the storm
            time.sleep(max(0.0, SHORT_TTL + 1.5 - (time.monotonic() - signed_in_at)))
            refresh_before, all_before = token_calls(idp)
            failures, latencies = storm(bff.url, session.cookies, email, args.requests)
            refresh_after, all_after = token_calls(idp)
            check = session.get(f"{bff.url}/", timeout=15, allow_redirects=False)
            if check.status_code != 200 or f"Hi, {email}!" not in check.text:
                failures.append(f"after the storm: {check.status_code}")
            refreshes = refresh_after - refresh_before
            results.append((email, refreshes, all_after - all_before, failures, latencies))
            say(
                f"storm {number + 1} ({email}): {refreshes} refresh calls, {len(failures)} failures"
            )

    print(
        f"refresh storm: {args.workers} gunicorn workers + Redis, OneTimeUse refresh tokens, "
        f"{args.requests} concurrent requests on an expired access token"
    )
    missed = False
    for number, (email, refreshes, all_calls, failures, latencies) in enumerate(results, 1):
        lat = summary_ms(latencies)
        print(
            f"  storm {number} {email:<22} token-endpoint calls {all_calls} "
            f"(refresh {refreshes}; target exactly 1)   failed requests {len(failures)} "
            f"(target 0)   p50 {lat['p50']:.0f} ms  max {max(latencies) * 1000:.0f} ms"
        )
        if failures:
            print(f"    failures: {sorted(set(failures))}")
        missed = missed or all_calls != 1 or bool(failures)
    print("RESULT: " + ("target missed" if missed else "all targets met"))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
