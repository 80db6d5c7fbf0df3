"""The README's first command: `python3 dev.py start` brings up the dev IdP and the BFF together."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.smoke
@pytest.mark.slow
def test_dev_start_serves_the_home_page_and_the_dev_idp(tmp_path):
    bff_port, idp_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DEBUG")}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path}/bff.sqlite3",
        DEVIDP_DB=str(tmp_path / "devidp.sqlite3"),
        CELERY_DATA_DIR=str(tmp_path / "celery"),
        ENV_FILE="/nonexistent",
    )
    log = (tmp_path / "start.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "dev.py", "start", "--port", str(bff_port), "--idp-port", str(idp_port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while "Press Ctrl-C" not in (tmp_path / "start.log").read_text():
            assert process.poll() is None, (tmp_path / "start.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "dev.py start did not come up in 120 s"
            time.sleep(0.5)
        banner = (tmp_path / "start.log").read_text()
        assert f"http://127.0.0.1:{bff_port}/" in banner and "customer@example.com" in banner
        assert "Celery worker and beat:      broker filesystem" in banner
        home = requests.get(f"http://127.0.0.1:{bff_port}/", timeout=10)
        assert home.status_code == 200 and "You're not logged in." in home.text
        login = requests.get(
            f"http://127.0.0.1:{bff_port}/auth/login/", timeout=10, allow_redirects=False
        )
        assert login.headers["Location"].startswith(f"http://127.0.0.1:{idp_port}/oauth2/authorize")
        discovery = requests.get(
            f"http://127.0.0.1:{idp_port}/.well-known/openid-configuration", timeout=10
        ).json()
        assert discovery["issuer"] == f"http://127.0.0.1:{idp_port}"
        # The embedded worker does the sync work: a bulk pull's pages are applied by it.
        pulled = subprocess.run(
            [str(ROOT / ".venv/bin/python"), "manage.py", "syncuserdata", "pull", "--json"]
            + ["--wait", "60"],
            cwd=ROOT,
            env={
                **env,
                "DEBUG": "true",
                "OIDC_ISSUER": f"http://127.0.0.1:{idp_port}",
                "FUSIONAUTH_API_URL": f"http://127.0.0.1:{idp_port}",
            },
            capture_output=True,
            text=True,
            timeout=120,
        )
        summary = json.loads(pulled.stdout)
        assert pulled.returncode == 0, pulled.stderr
        assert summary["total"] >= 3 and summary["tasks"] >= 1 and summary["errors"] == 0
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()
