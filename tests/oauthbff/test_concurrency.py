"""Single-flight refresh across processes: gunicorn workers on PostgreSQL + Redis, the live devidp.

50 concurrent requests on an expired access token with rotating refresh tokens (OneTimeUse) must make
exactly one token call, all succeed, and leave the user signed in.
"""

import os
import shutil
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.fixtures.stack import BffServer, bff_env, http_sign_in

pytestmark = [pytest.mark.slow]

PG_ADMIN = os.environ.get("BFF_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("BFF_TEST_REDIS", "redis://127.0.0.1:6379/0")
CONCURRENCY = 50


def _pg_reachable():
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN, connect_timeout=2):
            return True
    except Exception:
        return False


def _redis_reachable():
    try:
        import redis

        return redis.Redis.from_url(REDIS, socket_connect_timeout=2).ping()
    except Exception:
        return False


@pytest.fixture
def scratch_database():
    if not _pg_reachable():
        pytest.skip(f"PostgreSQL is unreachable at {PG_ADMIN}")
    if not _redis_reachable():
        pytest.skip(f"Redis is unreachable at {REDIS}")
    import psycopg

    name = f"bff_mp_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _expire_access_tokens(database_url):
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        return conn.execute(
            "UPDATE oauthbff_oidcsession SET access_expires_at = now() - interval '1 minute' "
            "WHERE ended_at IS NULL"
        ).rowcount


def _session_state(database_url):
    import psycopg

    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT version, ended_at IS NULL, access_expires_at > now() FROM oauthbff_oidcsession"
        ).fetchall()


def test_fifty_concurrent_requests_one_refresh_across_processes(devidp, scratch_database):
    devidp.set_refresh_policy("OneTimeUse")
    log_dir = Path(tempfile.mkdtemp(prefix="bff-mp-"))
    env = bff_env(
        devidp.url,
        scratch_database,
        REDIS,
        CACHE_KEY_PREFIX=f"mp-{uuid.uuid4().hex[:8]}",
        OIDC_REFRESH_LEEWAY=5,
    )
    bff = BffServer(env, log_dir, workers=4, threads=16)
    try:
        bff.migrate()
        bff.start()
        devidp.allow_redirect_uri(f"{bff.url}/auth/callback/")
        browser = requests.Session()
        http_sign_in(browser, bff.url, "customer@example.com")
        assert browser.get(f"{bff.url}/auth/user/", timeout=10).status_code == 200
        cookies = browser.cookies.get_dict()

        assert _expire_access_tokens(scratch_database) == 1
        before = devidp.stats()["token_calls"]["refresh_token"]

        def hit(i):
            # Half page-like GETs, half JSON POSTs: refresh happens on every method.
            if i % 2:
                response = requests.get(
                    f"{bff.url}/auth/user/",
                    cookies=cookies,
                    timeout=30,
                    headers={"Accept": "application/json"},
                )
                return response.status_code == 200 and response.json()["authenticated"]
            response = requests.get(f"{bff.url}/auth/user/", cookies=cookies, timeout=30)
            return response.status_code == 200

        with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
            results = list(pool.map(hit, range(CONCURRENCY)))

        calls = devidp.stats()["token_calls"]["refresh_token"] - before
        assert calls == 1, f"{calls} refresh calls for {CONCURRENCY} concurrent requests"
        assert results.count(True) == CONCURRENCY, f"{results.count(True)}/{CONCURRENCY} succeeded"
        # Still signed in, with the rotated token stored: a later refresh works too.
        assert _session_state(scratch_database) == [(1, True, True)]
        assert browser.get(f"{bff.url}/auth/user/", timeout=10).status_code == 200
        _expire_access_tokens(scratch_database)
        assert browser.get(f"{bff.url}/auth/user/", timeout=10).status_code == 200
        assert devidp.stats()["token_calls"]["refresh_token"] - before == 2
        assert _session_state(scratch_database) == [(2, True, True)]
    finally:
        bff.stop()
        devidp.set_refresh_policy("Reusable")
        shutil.rmtree(log_dir, ignore_errors=True)
