#!/usr/bin/env python3
"""One entry point for a fresh machine with only Python 3.11: set up, start the demo, run the tests.

    python3 dev.py start   # virtualenv, install, migrations, demo data; runs the dev IdP and the BFF
    python3 dev.py test    # virtualenv with test packages, a browser for the end-to-end tests; pytest

Standard library only: it runs before anything is installed.
"""

import argparse
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PY = VENV / "bin" / "python"
CHROMIUM = "/usr/bin/chromium"
NODEOP = ROOT / "tests" / "nodeop"


def say(message):
    print(f"==> {message}", flush=True)


def ensure_venv(requirements):
    """Create .venv and install the pinned requirements, skipping the install when nothing changed."""
    if not PY.exists():
        say("creating the virtual environment in .venv")
        venv.EnvBuilder(with_pip=True).create(VENV)
    digest = hashlib.sha256()
    for name in ("requirements.txt", requirements):
        digest.update((ROOT / name).read_bytes())
    marker = VENV / f".installed-{Path(requirements).stem}"
    if marker.exists() and marker.read_text() == digest.hexdigest():
        return
    say(f"installing {requirements}")
    pip = [str(PY), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "-r", str(ROOT / requirements)], check=True)
    marker.write_text(digest.hexdigest())


def dev_env(**extra):
    env = dict(os.environ)
    env.setdefault("DEBUG", "true")
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.update(extra)
    return env


def run(*args, env=None):
    subprocess.run([str(PY), *args], check=True, cwd=ROOT, env=env or dev_env())


def wait_for(url, process, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"error: the process serving {url} exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - a fixed local URL
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
    sys.exit(f"error: {url} did not answer within {seconds} s")


def port_free(host, port):
    import socket

    with socket.socket() as sock:
        return sock.connect_ex((host, port)) != 0


def start(args):
    ensure_venv("requirements.txt")
    host = "127.0.0.1"
    idp_url = f"http://{host}:{args.idp_port}"
    bff_url = f"http://{host}:{args.port}"
    ports = (args.port,) if args.no_idp else (args.port, args.idp_port)
    for port in ports:
        if not port_free(host, port):
            sys.exit(f"error: port {port} on {host} is in use; stop what runs there first")
    env = dev_env(DEVIDP_URL=idp_url, DEVIDP_BFF_URL=bff_url)
    if args.idp_port != 9011 and not args.no_idp:
        env.update(OIDC_ISSUER=idp_url, FUSIONAUTH_API_URL=idp_url)
    if args.port != 8000:
        env.setdefault("BFF_UPSTREAMS", f"changebank={bff_url}/api")
    say("preparing the databases and the demo data")
    run("manage.py", "migrate", "--noinput", "-v", "0", env=env)
    if not args.no_idp:
        run("-m", "devidp", "migrate", "--noinput", "-v", "0", env=env)
        run("-m", "devidp", "kickstart", env=env)
    children = []

    def stop(*_):
        for child in children:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if not args.no_idp:
        idp = subprocess.Popen(
            [str(PY), "-m", "devidp", "runserver", f"{host}:{args.idp_port}", "--noreload"],
            cwd=ROOT,
            env=env,
            start_new_session=True,
        )
        children.append(idp)
        wait_for(f"{idp_url}/.well-known/openid-configuration", idp)
    bff = subprocess.Popen(
        [str(PY), "manage.py", "runserver", f"{host}:{args.port}"],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    children.append(bff)
    wait_for(f"{bff_url}/", bff)
    issuer = env.get("OIDC_ISSUER", idp_url)
    idp_line = (
        f"The identity provider:      {issuer} (OIDC_ISSUER)"
        if args.no_idp
        else f"The development IdP:         {idp_url}/  (FusionAuth's dialect; never for production)"
    )
    print(
        f"""
  The BFF is running:          {bff_url}/
  {idp_line}
  Sign in as customer@example.com, teller@example.com or admin@example.com, password "password".
  Staff (admin@example.com) can open {bff_url}/admin/ through the IdP.
  Press Ctrl-C to stop.
""",
        flush=True,
    )
    while all(child.poll() is None for child in children):
        time.sleep(0.5)
    stop()


def ensure_browser():
    """The end-to-end tests drive Debian's chromium; install it when we may, else they skip."""
    if Path(CHROMIUM).exists():
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        say("installing Debian's chromium for the browser tests")
        quiet = {"stdout": subprocess.DEVNULL}
        subprocess.run(["apt-get", "update", "-qq"], check=False, **quiet)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=False, **quiet)
    if not Path(CHROMIUM).exists():
        say(
            "chromium is not installed: the browser tests will be skipped (apt-get install chromium)"
        )


def ensure_nodeop():
    """The certified provider the tests start (node-oidc-provider): `npm ci` when the lock is newer
    than the install. Without npm those tests skip (CI installs it and fails instead)."""
    npm = shutil.which("npm")
    installed = NODEOP / "node_modules" / ".package-lock.json"
    lock = NODEOP / "package-lock.json"
    if installed.exists() and installed.stat().st_mtime >= lock.stat().st_mtime:
        return
    if not npm:
        say("npm is not installed: the node-oidc-provider tests will be skipped")
        return
    say("installing node-oidc-provider for the tests (npm ci)")
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=NODEOP, check=True
    )


def test(args):
    ensure_venv("requirements-test.txt")
    ensure_browser()
    ensure_nodeop()
    result = subprocess.run([str(PY), "-m", "pytest", *args.pytest_args], cwd=ROOT, env=dev_env())
    sys.exit(result.returncode)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    start_cmd = commands.add_parser("start", help="set up and run the demo (BFF + development IdP)")
    start_cmd.add_argument("--port", type=int, default=8000, help="the BFF's port (8000)")
    start_cmd.add_argument("--idp-port", type=int, default=9011, help="the dev IdP's port (9011)")
    start_cmd.add_argument(
        "--no-idp",
        action="store_true",
        help="start only the BFF (for a real FusionAuth or another provider set by OIDC_ISSUER)",
    )
    start_cmd.set_defaults(handler=start)
    test_cmd = commands.add_parser("test", help="set up and run the whole test suite")
    test_cmd.add_argument("pytest_args", nargs=argparse.REMAINDER, help="passed on to pytest")
    test_cmd.set_defaults(handler=test)
    argv = sys.argv[1:]
    if argv[:1] == ["test"] and "-h" not in argv[1:2] and "--help" not in argv[1:2]:
        # Everything after "test" belongs to pytest, options included (argparse would eat them).
        args = argparse.Namespace(handler=test, pytest_args=argv[1:])
    else:
        args = parser.parse_args(argv)
    args.handler(args)


if __name__ == "__main__":
    main()
