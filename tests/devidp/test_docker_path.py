"""The README's "A real FusionAuth (Docker)" path, as far as a machine without Docker can follow it:
`dev.py start --no-idp --host 0.0.0.0` serves the BFF beyond the loopback interface, and a webhook
signed like the kickstart's, sent with the host name FusionAuth's container uses
(host.docker.internal), is accepted, while the development defaults keep working."""

import base64
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import jwt
import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
VARIABLES = json.loads((REPO / "kickstart" / "kickstart.json").read_text())["variables"]
# Another loopback address: a server bound to 127.0.0.1 only does not answer on it, one bound to
# every interface does (as the Docker bridge address would).
ELSEWHERE = "127.0.0.2"


def free_port():
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", 0))
        return sock.getsockname()[1]


def signed_event(secret):
    body = json.dumps(
        {
            "event": {
                "createInstant": int(time.time() * 1000),
                "id": str(uuid.uuid4()),
                "type": "user.login.success",
                "user": {"id": VARIABLES["customerUserId"]},
            }
        }
    ).encode()
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    token = jwt.encode({"request_body_sha256": digest}, secret, algorithm="HS256")
    return body, token


@pytest.fixture
def bff_on_all_interfaces(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DEBUG")}
    env.pop("ALLOWED_HOSTS", None)
    env.update(DATABASE_URL=f"sqlite:///{tmp_path}/bff.sqlite3", ENV_FILE="/nonexistent")
    log_path = tmp_path / "start.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "dev.py",
                "start",
                "--no-idp",
                "--host",
                "0.0.0.0",
                "--port",
                str(port),
            ],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while "Press Ctrl-C" not in log_path.read_text():
            assert process.poll() is None, log_path.read_text()[-2000:]
            assert time.monotonic() < deadline, "dev.py start did not come up in 120 s"
            time.sleep(0.3)
        yield port
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


@pytest.mark.slow
def test_the_bff_takes_the_webhook_on_the_address_fusionauth_uses(bff_on_all_interfaces):
    port = bff_on_all_interfaces
    url = f"http://{ELSEWHERE}:{port}/webhooks/fusionauth/"
    docker_host = f"host.docker.internal:{port}"
    body, token = signed_event(VARIABLES["webhookSecret"])
    _, forged = signed_event("not-the-kickstart-secret-" + "x" * 40)

    accepted = requests.post(
        url,
        data=body,
        headers={
            "Host": docker_host,
            "Content-Type": "application/json",
            "X-FusionAuth-Signature-JWT": token,
        },
        timeout=10,
    )
    refused = requests.post(
        url,
        data=body,
        headers={"Host": docker_host, "X-FusionAuth-Signature-JWT": forged},
        timeout=10,
    )
    home = requests.get(f"http://127.0.0.1:{port}/", timeout=10)
    other_host = requests.get(
        f"http://{ELSEWHERE}:{port}/", headers={"Host": "evil.example"}, timeout=10
    )

    assert accepted.status_code == 200, accepted.text[:500]
    assert accepted.json() == {"status": "ignored"}
    assert refused.status_code == 401
    assert home.status_code == 200
    assert other_host.status_code == 400
