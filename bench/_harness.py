"""What every benchmark needs: the development IdP, PostgreSQL and Redis, the BFF under gunicorn.

Everything listens on 127.0.0.1 and is torn down on exit; a scratch PostgreSQL database is created
per run. The process helpers are the ones the end-to-end tests use (tests/fixtures/stack.py).
"""

import contextlib
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import redis  # noqa: E402
import requests  # noqa: E402

from tests.fixtures.devidp import DevIdP  # noqa: E402
from tests.fixtures.stack import (  # noqa: E402
    PYTHON,
    BffServer,
    CeleryWorker,
    bff_env,
    free_port,
    http_sign_in,
    run_checked,
    wait_until,
)

PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/2")
TIMEOUT = 15
REQUEST_LINE = re.compile(
    r'"(?:GET|POST|PUT|PATCH|DELETE|HEAD) /(?!_dev/)[^"]* HTTP/1\.[01]" \d{3}'
)

__all__ = ["BffServer", "free_port", "http_sign_in", "wait_until"]


def say(message):
    print(f"==> {message}", file=sys.stderr, flush=True)


class DevIdp(DevIdP):
    """The tests' development IdP process, plus what the benchmarks count and check."""

    def requests_served(self):
        """Every HTTP request the IdP answered so far, counted from its request log (not /_dev/)."""
        return len(REQUEST_LINE.findall(self.log_path.read_text(errors="replace")))

    def registration_data(self, user_id):
        path = f"/api/user/registration/{user_id}/{self.application_id}"
        response = self.api("GET", path)
        if response.status_code != 200:
            raise RuntimeError(f"devidp GET {path}: {response.status_code}")
        return response.json()["registration"].get("data", {})

    def create_user(self, email, password, roles=("customer",)):
        """A user registered to the demo application (FusionAuth's combined create)."""
        body = {
            "user": {"email": email, "password": password},
            "registration": {"applicationId": self.application_id, "roles": list(roles)},
            "skipVerification": True,
        }
        response = self.api("POST", "/api/user/registration", json=body)
        if response.status_code >= 300:
            raise RuntimeError(f"creating {email}: {response.status_code} {response.text[:300]}")


def create_scratch_database(name):
    """A fresh PostgreSQL database for this run (dropped first if a previous run left one)."""
    env = {**os.environ, "PGCONNECT_TIMEOUT": "5", "PGOPTIONS": "-c client_min_messages=warning"}
    for sql in (f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'):
        subprocess.run(
            ["psql", f"{PG}/postgres", "-v", "ON_ERROR_STOP=1", "-q", "-c", sql],
            check=True,
            env=env,
            timeout=60,
            stdout=subprocess.DEVNULL,
        )
    return f"{PG}/{name}"


def drop_scratch_database(name):
    subprocess.run(
        ["psql", f"{PG}/postgres", "-q", "-c", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'],
        check=False,
        timeout=60,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def production_env(idp, workdir):
    """The production profile (DEBUG off) on plain HTTP at 127.0.0.1, as a benchmark needs it."""
    return {
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "SECURE_HSTS_SECONDS": "0",
        "OIDC_CLIENT_ID": idp.client_id,
        "OIDC_CLIENT_SECRET": idp.client_secret,
        "FUSIONAUTH_API_KEY": idp.api_key,
        "FUSIONAUTH_APPLICATION_ID": idp.application_id,
        "FUSIONAUTH_TENANT_ID": idp.tenant_id,
        "FUSIONAUTH_WEBHOOK_SECRET": idp.webhook_secret,
        "BENCH_STATIC_ROOT": str(Path(workdir) / "static"),
    }


@contextlib.contextmanager
def production_stack(
    workers=4,
    threads=4,
    database="bff_bench",
    celery_workers=1,
    celery_concurrency=16,
    redis_url=REDIS,
    beat=False,
    **bff_extra,
):
    """The development IdP, the BFF (gunicorn, DEBUG off, PostgreSQL, Redis) and its Celery
    workers (Redis as the broker, a queue of the run's own) for a benchmark. `redis_url` names
    another Redis (one the benchmark may stop); with `beat` the first worker runs the periodic
    tasks too."""
    workdir = Path(tempfile.mkdtemp(prefix="bff-bench-"))
    idp = DevIdp(workdir, extra_env={"DEBUG": "true", "DEVIDP_ALLOWED_HOSTS": "127.0.0.1"})
    bff = None
    celery = []
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    say(f"scratch database {database}, Redis {redis_url}, logs in {workdir}")
    database_url = create_scratch_database(database)
    try:
        idp.kickstart()
        idp.start()
        env = bff_env(
            idp.url,
            database_url,
            redis_url=redis_url,
            CACHE_KEY_PREFIX=prefix,
            CELERY_BROKER_URL=redis_url,
            CELERY_QUEUE=prefix,
            CONN_MAX_AGE=60,
            LOG_LEVEL="WARNING",
            **production_env(idp, workdir),
            **bff_extra,
        )
        bff = BffServer(env, workdir, workers=workers, threads=threads, settings="bench.settings")
        bff.migrate()
        run_checked(
            [PYTHON, "manage.py", "collectstatic", "--noinput", "-v", "0"],
            bff.env,
            workdir / "bff-collectstatic.log",
        )
        bff.start()
        celery = [
            CeleryWorker(
                bff.env,
                workdir,
                concurrency=celery_concurrency,
                name=f"celery{n}",
                beat=beat and n == 0,
            )
            for n in range(celery_workers)
        ]
        for worker in celery:
            worker.start(timeout=60)
        idp.allow_redirect_uri(f"{bff.url}/auth/callback/")
        idp.allow_redirect_uri(f"{bff.url}/")
        idp.set_webhook_url(f"{bff.url}/webhooks/fusionauth/")
        say(
            f"devidp at {idp.url}, BFF at {bff.url} ({workers} workers x {threads} threads), "
            f"{celery_workers} Celery worker(s) x {celery_concurrency}"
        )
        bff.workers = celery  # for a benchmark that supervises them
        yield idp, bff
    finally:
        for worker in celery:
            worker.stop()
        if bff:
            bff.stop()
        idp.stop()
        drop_scratch_database(database)
        forget_cache_keys(prefix, redis_url)


class PrivateRedis:
    """A Redis server of the benchmark's own on a free port (no persistence), which it may stop and
    start again without touching the shared one."""

    def __init__(self, workdir):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log = Path(workdir) / "redis.log"
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", ""]
            + ["--appendonly", "no"],
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        client = redis.Redis.from_url(self.url, socket_timeout=1)
        wait_until(lambda: _pings(client), 10, interval=0.1, message="the private Redis")
        return self

    def stop(self):
        """Shut it down; what it held (queued tasks, cached sessions, locks) is gone, as after a
        restart without persistence."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


def _pings(client):
    try:
        return client.ping()
    except redis.RedisError:
        return False


def forget_cache_keys(prefix, redis_url=REDIS):
    """Remove this run's keys from the shared Redis (sessions, locks, discovery cache)."""
    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    try:
        for key in client.scan_iter(match=f"{prefix}:*", count=500):
            client.delete(key)
    except redis.RedisError as exc:
        say(f"could not clean Redis keys {prefix}:*: {exc}")
    finally:
        client.close()


def signed_in_session(bff_url, email, password="password"):
    session = requests.Session()
    http_sign_in(session, bff_url, email, password)
    return session


def percentile(values, fraction):
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def summary_ms(latencies):
    return {
        "p50": percentile(latencies, 0.50) * 1000,
        "p95": percentile(latencies, 0.95) * 1000,
        "p99": percentile(latencies, 0.99) * 1000,
        "mean": (statistics.fmean(latencies) * 1000) if latencies else float("nan"),
    }


def monotonic():
    return time.perf_counter()
