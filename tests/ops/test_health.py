"""/healthz and /readyz (ops/health.py): each part's state, and 503 when a part is really down."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db


def closed_port():
    """A local port nothing listens on: connections to it are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_up():
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


def test_healthz_only_says_the_process_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_readyz_reports_each_part(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    # The project always has a broker: Redis, or kombu's filesystem transport by default.
    assert set(body["checks"]) == {"database", "cache", "broker"}
    assert all(part["status"] == "ok" for part in body["checks"].values())


@pytest.mark.smoke
def test_readyz_is_503_when_the_cache_is_down(client, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port()}/0",
            "OPTIONS": {"socket_timeout": 1, "socket_connect_timeout": 1},
        }
    }
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["cache"]["status"] == "down"
    assert body["checks"]["database"]["status"] == "ok"
    assert "127.0.0.1" not in response.content.decode(), "no connection details in the answer"


def test_readyz_checks_the_broker_only_when_one_is_configured(client, settings):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{closed_port()}/0"
    down = client.get("/readyz")
    assert down.status_code == 503
    assert down.json()["checks"]["broker"]["status"] == "down"
    if not redis_up():
        pytest.skip("no Redis on 127.0.0.1:6379 for the broker-up half")
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/6"
    up = client.get("/readyz")
    assert up.status_code == 200, up.content
    assert up.json()["checks"]["broker"]["status"] == "ok"


@pytest.mark.smoke
def test_readyz_is_503_when_the_database_is_down(tmp_path):
    """A real process whose PostgreSQL refuses connections: readiness says so instead of a 500."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(
        DEBUG="true",
        ENV_FILE=os.devnull,
        DATABASE_URL=f"postgres://postgres@127.0.0.1:{closed_port()}/nothing",
    )
    script = (
        "import json, django; django.setup();"
        "from django.test import Client;"
        "r = Client(HTTP_HOST='localhost').get('/readyz');"
        "print(json.dumps({'status': r.status_code, 'body': r.json()}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "bffproject.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["status"] == 503
    assert answer["body"]["checks"]["database"] == {
        "status": "down",
        "error": "OperationalError",
        "ms": answer["body"]["checks"]["database"]["ms"],
    }
    assert answer["body"]["checks"]["cache"]["status"] == "ok"
