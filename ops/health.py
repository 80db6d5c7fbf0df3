"""Liveness and readiness probes for a load balancer or an orchestrator.

``/healthz`` only says the process answers (restart it when it does not). ``/readyz`` checks what a
request needs — the database, the cache (Redis in production: the refresh locks live there) and the
Celery broker when one is configured — and answers 503 when one is down, so traffic goes elsewhere
until it is back. The identity provider is left out on purpose: when it is down every instance is
equally affected, and the pages already say so.
"""

import logging
import time
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger("ops.health")

BROKER_TIMEOUT = 2.0


def check_database():
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_cache():
    """A write and a read back: a cache that accepts connections but not writes is not ready."""
    key = f"ops:readyz:{uuid.uuid4().hex}"
    cache.set(key, "1", 10)
    try:
        if cache.get(key) != "1":
            raise RuntimeError("the cache did not return the value just written")
    finally:
        cache.delete(key)


def broker_url():
    return getattr(settings, "CELERY_BROKER_URL", "") or ""


def check_broker():
    """Connect to the Celery broker with kombu (Celery's own transport layer), or redis-py."""
    url = broker_url()
    try:
        import kombu
    except ImportError:
        kombu = None
    if kombu is not None:
        with kombu.Connection(url, connect_timeout=BROKER_TIMEOUT) as connection:
            connection.ensure_connection(
                max_retries=1, interval_start=0, interval_step=0, timeout=BROKER_TIMEOUT
            )
        return
    if url.startswith(("redis://", "rediss://", "unix://")):
        import redis

        client = redis.Redis.from_url(
            url, socket_timeout=BROKER_TIMEOUT, socket_connect_timeout=BROKER_TIMEOUT
        )
        try:
            client.ping()
        finally:
            client.close()
        return
    raise RuntimeError("no client for this broker URL's transport is installed")


def readiness_checks():
    """The parts to check, by name; the broker only when Celery is configured."""
    checks = {"database": check_database, "cache": check_cache}
    if broker_url():
        checks["broker"] = check_broker
    return checks


def run_checks():
    """Run every check; returns (all_ok, {name: {"status": "ok"|"down", "ms": ..., "error": ...}})."""
    results = {}
    for name, check in readiness_checks().items():
        started = time.perf_counter()
        try:
            check()
        except Exception as exc:  # any failure means "not ready", never a 500
            # The exception's type only: messages can hold connection URLs with passwords.
            logger.warning("ops: readiness check %s failed: %s", name, type(exc).__name__)
            results[name] = {"status": "down", "error": type(exc).__name__}
        else:
            results[name] = {"status": "ok"}
        results[name]["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return all(part["status"] == "ok" for part in results.values()), results


@require_safe
@never_cache
def healthz(request):
    """The process is up and answers requests (nothing else is checked)."""
    return JsonResponse({"status": "ok"})


@require_safe
@never_cache
def readyz(request):
    """Every part a request needs answers: 200 with each part's state, or 503 naming what is down."""
    ready, parts = run_checks()
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": parts}, status=200 if ready else 503
    )
