"""Load: 100 signed-in users load the home page and save the textarea for 60 seconds.

    .venv/bin/python bench/load.py [--users 100] [--duration 60] [--rate 150]

Starts the development IdP, the BFF (gunicorn, 4 workers, PostgreSQL, Redis) and Celery workers
(Redis broker), creates the users at the IdP, signs each one in through the IdP's form, then every
user loops: GET / and POST /userdata/ with a new text and the version its last answer gave.

`--rate` is the load offered by all users together (requests per second): each user starts a
request every `users / rate` seconds, as people who pause between actions do, and a request's time
counts from when it was due. `--rate 0` removes the pauses: each user sends its next request when
the last is answered, which measures the saturation throughput. (With no pauses, 100 users and
throughput X, the mean latency is 100 / X by Little's law, so a latency target only means something
at a given offered rate.)

Prints throughput, p50/p95/p99 per request kind and errors (target 0), the lag from a save's commit
to the IdP (from the first commit a row was seen waiting with until it no longer waits, sampled in
the mirror), then checks that every user's last saved edit is in the mirror (PostgreSQL) and at the
IdP within 30 s. Exits 1 on a miss.
"""

import argparse
import contextlib
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import requests
from urllib3.util.retry import Retry

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._harness import (  # noqa: E402
    monotonic,
    production_stack,
    say,
    signed_in_session,
    summary_ms,
    wait_until,
)

DATABASE = "bff_bench_load"
PASSWORD = "load-test-password"


def user_email(number):
    return f"load{number:03d}@example.com"


def create_users(idp, count):
    """Users with a customer registration at the IdP, created through its FusionAuth API."""
    for number in range(count):
        email = user_email(number)
        if idp.api("GET", f"/api/user?email={email}").status_code != 200:
            idp.create_user(email, PASSWORD)


class User:
    """One simulated person: a signed-in session that reads the page and saves new text."""

    def __init__(self, number, bff_url):
        self.number = number
        self.email = user_email(number)
        self.bff_url = bff_url
        self.session = None
        self.last_saved = None
        self.edits = 0
        self.version = None

    def sign_in(self):
        self.session = signed_in_session(self.bff_url, self.email, PASSWORD)
        # As a browser does, a GET that finds its kept-alive connection closed is sent once more.
        retry = Retry(total=1, allowed_methods=frozenset({"GET"}), status_forcelist=(), redirect=0)
        adapter = requests.adapters.HTTPAdapter(
            pool_connections=1, pool_maxsize=1, max_retries=retry
        )
        self.session.mount("http://", adapter)

    def load_page(self):
        response = self.session.get(f"{self.bff_url}/", timeout=30, allow_redirects=False)
        if response.status_code != 200 or f"Hi, {self.email}!" not in response.text:
            return f"GET / {response.status_code}"
        return None

    def save(self):
        if self.version is None:
            state = self.session.get(
                f"{self.bff_url}/userdata/", headers={"Accept": "application/json"}, timeout=30
            )
            self.version = state.json()["version"]
        self.edits += 1
        text = f"{self.email} edit {self.edits} at {time.time():.3f}"
        response = self.session.post(
            f"{self.bff_url}/userdata/",
            json={"userData": text, "version": self.version},
            headers={
                "X-CSRFToken": self.session.cookies.get("bff_csrftoken", ""),
                "Accept": "application/json",
            },
            timeout=30,
            allow_redirects=False,
        )
        if response.status_code != 200:
            self.version = None
            return f"POST /userdata/ {response.status_code}"
        self.version = response.json()["version"]
        self.last_saved = text
        return None


def run_load(users, duration, rate=0.0):
    """Every user loops page, save, page, save... With `rate` (requests per second, all users
    together) each user starts its requests on a fixed schedule, `len(users) / rate` seconds apart,
    as people who pause between actions do; a request's time is counted from when it was due, so a
    server that falls behind is charged for the wait too (no coordinated omission). Without a rate
    each user sends its next request as soon as the last is answered (the saturation throughput)."""
    stats = {"page": [], "save": []}
    errors = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(users))
    stop_at = []
    interval = len(users) / rate if rate else 0.0

    def loop(user):
        barrier.wait(timeout=60)
        mine = {"page": [], "save": []}
        bad = []
        # Users start spread over one interval, not all at once.
        due = monotonic() + interval * user.number / len(users)
        while monotonic() < stop_at[0]:
            for kind, call in (("page", user.load_page), ("save", user.save)):
                if interval:
                    time.sleep(max(0.0, due - monotonic()))
                    began = due
                    due += interval
                else:
                    began = monotonic()
                try:
                    error = call()
                except requests.RequestException as exc:
                    error = f"{kind}: {type(exc).__name__}"
                if error:
                    bad.append(error)
                else:
                    mine[kind].append(monotonic() - began)
        with lock:
            for kind in stats:
                stats[kind].extend(mine[kind])
            errors.extend(bad)

    stop_at.append(monotonic() + duration + 0.5)
    threads = [threading.Thread(target=loop, args=(user,)) for user in users]
    began = monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return stats, errors, monotonic() - began


def mirror_texts(database_url):
    with psycopg.connect(database_url, connect_timeout=10) as connection:
        rows = connection.execute("SELECT email, subject, data FROM userdata_userdata").fetchall()
    return {email: (subject, (data or {}).get("userData")) for email, subject, data in rows}


class LagSampler(threading.Thread):
    """Samples the mirror every 0.2 s: each row whose pushed_at moved gives one lag, the time
    from the commit of the edit it delivered (edited_at, read while it waited) to its push."""

    def __init__(self, database_url):
        super().__init__(daemon=True)
        self.database_url = database_url
        self.lags = []
        self.stop = threading.Event()

    def run(self):
        waiting = {}
        with psycopg.connect(self.database_url, connect_timeout=10, autocommit=True) as db:
            while not self.stop.is_set():
                rows = db.execute(
                    "SELECT id, pending, edited_at, pushed_at FROM userdata_userdata"
                ).fetchall()
                for pk, pending, edited, pushed in rows:
                    if pending and edited and pk not in waiting:
                        waiting[pk] = edited
                    elif not pending and pk in waiting and pushed:
                        self.lags.append(max(0.0, (pushed - waiting.pop(pk)).total_seconds()))
                time.sleep(0.2)


def verify(users, idp, database_url):
    """Every user's last successful save must be in the mirror and in the IdP's registration data."""
    expected = {user.email: user.last_saved for user in users if user.last_saved is not None}
    missing = [user.email for user in users if user.last_saved is None]

    def mirror_matches():
        mirror = mirror_texts(database_url)
        wrong = [
            email for email, text in expected.items() if mirror.get(email, (None, None))[1] != text
        ]
        return mirror if not wrong else None

    try:
        mirror = wait_until(mirror_matches, 30, interval=0.5, message="the mirror")
    except TimeoutError:
        mirror = mirror_texts(database_url)
    mirror_bad = [e for e, text in expected.items() if mirror.get(e, (None, None))[1] != text]

    def idp_misses():
        wrong = []
        for email, text in expected.items():
            subject = mirror.get(email, (None, None))[0]
            remote = idp.registration_data(subject).get("userData") if subject else None
            if remote != text:
                wrong.append(email)
        return wrong

    # The workers deliver the last edits after the load stops: each within 30 s.
    with contextlib.suppress(TimeoutError):
        wait_until(lambda: not idp_misses(), 30, interval=1.0, message="the IdP")
    idp_bad = idp_misses()
    return missing, mirror_bad, idp_bad


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100, help="concurrent signed-in users")
    parser.add_argument("--duration", type=float, default=60, help="seconds of load")
    parser.add_argument(
        "--rate",
        type=float,
        default=150,
        help="requests per second offered by all users together (0: each user sends its next "
        "request as soon as the last is answered, which measures the saturation throughput)",
    )
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=8, help="threads per gunicorn worker")
    parser.add_argument("--celery", type=int, default=1, help="Celery worker processes")
    parser.add_argument("--celery-threads", type=int, default=16, help="threads per Celery worker")
    args = parser.parse_args(argv)

    with production_stack(
        workers=args.workers,
        threads=args.threads,
        database=DATABASE,
        celery_workers=args.celery,
        celery_concurrency=args.celery_threads,
    ) as (
        idp,
        bff,
    ):
        say(f"creating {args.users} users at the IdP")
        create_users(idp, args.users)
        users = [User(number, bff.url) for number in range(args.users)]
        say(f"signing {args.users} users in through the IdP")
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda user: user.sign_in(), users))
        say(f"load: {args.users} users for {args.duration:g} s")
        sampler = LagSampler(bff.env["DATABASE_URL"])
        sampler.start()
        stats, errors, elapsed = run_load(users, args.duration, args.rate)
        sampler.stop.set()
        sampler.join(timeout=10)
        say("checking every user's last edit in the mirror and at the IdP")
        missing, mirror_bad, idp_bad = verify(users, idp, bff.env["DATABASE_URL"])

    total = sum(len(values) for values in stats.values())
    offered = f"{args.rate:g} req/s offered" if args.rate else "no pause between requests"
    print(
        f"load: {args.users} concurrent users, {offered}, {args.duration:g} s, gunicorn {args.workers} "
        f"workers x {args.threads} threads, {args.celery} Celery worker(s) x "
        f"{args.celery_threads}, PostgreSQL + Redis, development IdP"
    )
    print(
        f"  throughput           {total / elapsed:8.1f} req/s  ({total} requests in {elapsed:.1f} s)"
    )
    for kind, label in (("page", "GET / (home page)"), ("save", "POST /userdata/ (save)")):
        lat = summary_ms(stats[kind])
        print(
            f"  {label:<24} {len(stats[kind]):6d} ok   p50 {lat['p50']:7.1f} ms   "
            f"p95 {lat['p95']:7.1f} ms   p99 {lat['p99']:7.1f} ms"
        )
    everything = stats["page"] + stats["save"]
    lat = summary_ms(everything)
    print(
        f"  {'all requests':<24} {total:6d} ok   p50 {lat['p50']:7.1f} ms   "
        f"p95 {lat['p95']:7.1f} ms   p99 {lat['p99']:7.1f} ms"
    )
    lag = summary_ms(sampler.lags)
    print(
        f"  lag commit -> IdP    {len(sampler.lags):6d} pushes  p50 {lag['p50']:7.1f} ms   "
        f"p95 {lag['p95']:7.1f} ms   (target p95 <= 2000 ms)"
    )
    print(f"  errors               {len(errors):8d}        (target 0)")
    if errors:
        print(f"    kinds: {sorted(set(errors))[:10]}")
    print(f"  users without a save {len(missing):8d}        (target 0)")
    print(f"  last edit not in mirror {len(mirror_bad):5d}        (target 0)")
    print(f"  last edit not at IdP    {len(idp_bad):5d}        (target 0)")
    save_p95 = summary_ms(stats["save"])["p95"]
    rate = total / elapsed
    print(
        f"  save p95 <= 300 ms: {'yes' if save_p95 <= 300 else 'no'}; "
        f"throughput >= 150 req/s: {'yes' if rate >= 150 else 'no'}"
    )
    lost = bool(errors or missing or mirror_bad or idp_bad)
    slow = save_p95 > 300 or rate < 150 or lag["p95"] > 2000
    if lost:
        print("RESULT: target missed (errors or lost edits)")
    elif slow:
        print("RESULT: no edit lost, 0 errors; speed targets missed (save p95, throughput or lag)")
    else:
        print("RESULT: all targets met")
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
