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
        assert banner.count("The BFF is running") == 1
        assert banner.count("Development IdP (FusionAuth dialect)") == 1, "the IdP's banner once"
        assert "warning: the identity provider does not answer" not in banner
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
        assert requests.get(f"http://127.0.0.1:{bff_port}/favicon.ico", timeout=10).ok

        # The IdP dies: dev.py says so and the BFF stays up (its pages say sign-in is unavailable).
        idp_pid = subprocess.run(
            ["pgrep", "-f", f"devidp runserver 127.0.0.1:{idp_port}"],
            capture_output=True,
            text=True,
        ).stdout.split()[0]
        os.kill(int(idp_pid), signal.SIGTERM)
        deadline = time.monotonic() + 20
        while "the development IdP exited" not in (tmp_path / "start.log").read_text():
            assert time.monotonic() < deadline, (tmp_path / "start.log").read_text()[-2000:]
            time.sleep(0.3)
        assert process.poll() is None, "dev.py stopped the BFF with the IdP"
        assert requests.get(f"http://127.0.0.1:{bff_port}/", timeout=10).status_code == 200
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def dev(*args, tmp_path, timeout=120, **overrides):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DEBUG")}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path}/bff.sqlite3",
        DEVIDP_DB=str(tmp_path / "devidp.sqlite3"),
        CELERY_DATA_DIR=str(tmp_path / "celery"),
        ENV_FILE="/nonexistent",
    )
    env.update(overrides)
    return subprocess.run(
        [sys.executable, "dev.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.smoke
def test_a_production_start_without_its_variables_is_one_line_without_a_traceback(tmp_path):
    result = dev("start", "--port", str(free_port()), "--no-idp", tmp_path=tmp_path, DEBUG="false")
    assert result.returncode != 0
    assert "Traceback" not in result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "SECRET_KEY" in errors[0] and "OIDC_CLIENT_ID" in errors[0]


@pytest.mark.smoke
def test_the_readmes_operator_commands_run_through_dev_py(tmp_path):
    result = dev("manage", "syncuserdata", "status", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "waiting to push 0" in result.stdout


@pytest.mark.slow
def test_a_user_set_issuer_is_honoured_and_a_silent_one_is_reported(tmp_path):
    """OIDC_ISSUER set while the dev IdP runs on another port: the BFF uses the user's issuer (and
    says it does not answer) instead of silently switching to the dev IdP's."""
    bff_port, idp_port, dead_port = free_port(), free_port(), free_port()
    issuer = f"http://127.0.0.1:{dead_port}"
    log = (tmp_path / "start.log").open("w")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DEBUG")}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path}/bff.sqlite3",
        DEVIDP_DB=str(tmp_path / "devidp.sqlite3"),
        CELERY_DATA_DIR=str(tmp_path / "celery"),
        ENV_FILE="/nonexistent",
        OIDC_ISSUER=issuer,
    )
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
        while (
            "warning: the identity provider does not answer"
            not in (tmp_path / "start.log").read_text()
        ):
            assert process.poll() is None, (tmp_path / "start.log").read_text()[-2000:]
            assert time.monotonic() < deadline, (tmp_path / "start.log").read_text()[-2000:]
            time.sleep(0.3)
        output = (tmp_path / "start.log").read_text()
        assert f"The identity provider:      {issuer} (OIDC_ISSUER)" in output
        assert f"{issuer}/.well-known/openid-configuration" in output
        login = requests.get(
            f"http://127.0.0.1:{bff_port}/auth/login/", timeout=10, allow_redirects=False
        )
        assert login.status_code == 503, "the user's (dead) issuer, not the dev IdP's"
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()
