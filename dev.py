#!/usr/bin/env python3
"""One entry point for a fresh machine with only Python 3.11: set up, start the demo, run the tests.

    python3 dev.py start   # virtualenv, install, migrations, demo data; runs the dev IdP, the BFF,
                           # and a Celery worker and beat (the sync work) on a serverless broker
    python3 dev.py test    # virtualenv with test packages, a browser for the end-to-end tests; pytest
    python3 dev.py manage syncuserdata status   # any manage.py command, with the demo's settings

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


def lock_of(requirements):
    """The lock beside a requirements file: requirements.txt -> requirements.lock."""
    return ROOT / f"{Path(requirements).stem}.lock"


def ensure_venv(requirements):
    """Create .venv and install the locked requirements, skipping the install when nothing changed.

    The requirements files name what we depend on; their locks pin the whole tree with hashes
    (`python3 dev.py lock` writes them), so every machine installs the same, verified files.
    """
    if not PY.exists():
        say("creating the virtual environment in .venv")
        venv.EnvBuilder(with_pip=True).create(VENV)
    lock = lock_of(requirements)
    digest = hashlib.sha256(lock.read_bytes())
    marker = VENV / f".installed-{Path(requirements).stem}"
    if marker.exists() and marker.read_text() == digest.hexdigest():
        return
    say(f"installing {lock.name}")
    pip = [str(PY), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "--require-hashes", "-r", str(lock)], check=True)
    marker.write_text(digest.hexdigest())


def lock(args):
    """Pin the whole dependency tree of each requirements file, with hashes, into its lock."""
    ensure_venv("requirements-test.txt")
    for requirements in ("requirements.txt", "requirements-test.txt"):
        say(f"locking {requirements} into {lock_of(requirements).name}")
        subprocess.run(
            [
                str(VENV / "bin" / "pip-compile"),
                "--quiet",
                "--generate-hashes",
                "--allow-unsafe",
                "--strip-extras",
                "--no-emit-index-url",
                "--no-emit-find-links",
                *(["--upgrade"] if args.upgrade else []),
                "--output-file",
                lock_of(requirements).name,
                requirements,
            ],
            cwd=ROOT,
            check=True,
            env={**os.environ, "CUSTOM_COMPILE_COMMAND": "python3 dev.py lock"},
        )


def dev_env(**extra):
    env = dict(os.environ)
    env.setdefault("DEBUG", "true")
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.update(extra)
    return env


class StepFailed(Exception):
    """A step already printed its own one-line error; dev.py exits with its status, no traceback."""

    def __init__(self, returncode):
        super().__init__(returncode)
        self.returncode = returncode


def run(*args, env=None, quiet=False):
    """Run a set-up step; ``quiet`` keeps its output unless it fails (the IdP prints its banner
    again when it starts)."""
    output = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True} if quiet else {}
    result = subprocess.run([str(PY), *args], cwd=ROOT, env=env or dev_env(), **output)
    if result.returncode:
        if quiet:
            print(result.stdout, end="", file=sys.stderr)
        raise StepFailed(result.returncode)


def user_setting(name):
    """A value the user set: in the environment, or else in the .env file the settings read."""
    if os.environ.get(name):
        return os.environ[name]
    env_file = Path(os.environ.get("ENV_FILE") or ROOT / ".env")
    try:
        lines = env_file.read_text().splitlines()
    except OSError:
        return ""
    for line in lines:
        key, sep, value = line.strip().partition("=")
        if sep and key.strip().removeprefix("export ").strip() == name:
            return value.strip().strip("'\"")
    return ""


def discovery_problem(issuer):
    """Why the issuer's discovery document cannot be read, or "" when it answers."""
    url = f"{issuer.rstrip('/')}/.well-known/openid-configuration"
    try:
        with urllib.request.urlopen(url, timeout=3) as response:  # noqa: S310 - the operator's URL
            if response.status != 200:
                return f"{url} answered {response.status}"
    except urllib.error.HTTPError as exc:
        return f"{url} answered {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return f"{url} did not answer ({getattr(exc, 'reason', exc)})"
    return ""


def wait_for(url, process, seconds=60):
    """Wait until ``url`` answers; returns why it did not ("" once it does)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return f"the process serving {url} exited with status {process.returncode}"
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - a fixed local URL
                return ""
        except urllib.error.HTTPError:
            return ""  # it answers, if only with an error page
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
    return f"{url} did not answer within {seconds} s"


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
    # An issuer the user set wins on any port; otherwise the BFF follows the dev IdP's port.
    issuer = user_setting("OIDC_ISSUER")
    if not issuer and not args.no_idp:
        env.update(OIDC_ISSUER=idp_url)
        if not user_setting("FUSIONAUTH_API_URL"):
            env.update(FUSIONAUTH_API_URL=idp_url)
    issuer = issuer or env.get("OIDC_ISSUER") or "http://127.0.0.1:9011"
    if args.port != 8000:
        env.setdefault("BFF_UPSTREAMS", f"changebank={bff_url}/api")
    if args.host != host:
        # FusionAuth in Docker calls the webhook at host.docker.internal (docs/fusionauth.md).
        hosts = (env.get("ALLOWED_HOSTS") or "127.0.0.1,localhost").split(",")
        wildcards = ("0.0.0.0", "::")  # noqa: S104 - compared with, not bound here
        hosts += [h for h in ("host.docker.internal", args.host) if h not in wildcards]
        env["ALLOWED_HOSTS"] = ",".join(dict.fromkeys(h.strip() for h in hosts if h.strip()))
    say("preparing the databases and the demo data")
    run("manage.py", "migrate", "--noinput", "-v", "0", env=env)
    if not args.no_idp:
        run("-m", "devidp", "migrate", "--noinput", "-v", "0", env=env)
        run("-m", "devidp", "kickstart", env=env, quiet=True)
    children = []

    def stop(*_, code=0):
        for child in children:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
        sys.exit(code)

    def started(url, process):
        problem = wait_for(url, process)
        if problem:
            print(f"error: {problem}", file=sys.stderr, flush=True)
            stop(code=1)

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
        started(f"{idp_url}/.well-known/openid-configuration", idp)
    bff = subprocess.Popen(
        [str(PY), "manage.py", "runserver", f"{args.host}:{args.port}"],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    children.append(bff)
    started(f"{bff_url}/", bff)
    if not args.no_worker:
        celery = start_celery(env)
        children.extend(celery)
        time.sleep(1.0)
        for name, child in zip(("worker", "beat"), celery, strict=True):
            if child.poll() is not None:
                print(
                    f"error: the Celery {name} exited with status {child.returncode}",
                    file=sys.stderr,
                    flush=True,
                )
                stop(code=1)
    idp_line = (
        f"The identity provider:      {issuer} (OIDC_ISSUER)"
        if args.no_idp or issuer != idp_url
        else f"The development IdP:         {idp_url}/  (FusionAuth's dialect; never for production)"
    )
    print(
        f"""
  The BFF is running:          {bff_url}/
  {idp_line}
  Sign in as customer@example.com, teller@example.com or admin@example.com, password "password".
  Staff (admin@example.com) can open {bff_url}/admin/ through the IdP.
  {celery_line(env, args)}
  Press Ctrl-C to stop.
""",
        flush=True,
    )
    problem = discovery_problem(issuer)
    if problem:
        print(
            f"warning: the identity provider does not answer: {problem}. Sign-in will fail until "
            "it does; check OIDC_ISSUER.",
            flush=True,
        )
    # A helper process that dies is reported once; the BFF keeps serving (its pages say what is
    # unavailable) until it stops itself or Ctrl-C.
    helpers = {}
    if not args.no_idp:
        helpers[idp] = (
            "the development IdP",
            "sign-in fails until the IdP is back",
        )
    if not args.no_worker:
        for name, child in zip(("worker", "beat"), celery, strict=True):
            helpers[child] = (f"the Celery {name}", "saved edits wait to be pushed")
    while bff.poll() is None:
        for child, (name, effect) in list(helpers.items()):
            if child.poll() is not None:
                print(
                    f"warning: {name} exited with status {child.returncode}; the BFF keeps "
                    f"running, but {effect}. Restart `python3 dev.py start`.",
                    flush=True,
                )
                del helpers[child]
        time.sleep(0.5)
    print(f"error: the BFF exited with status {bff.returncode}", file=sys.stderr, flush=True)
    stop(code=1)


def start_celery(env):
    """A Celery worker and beat beside the BFF: they push saved edits to the IdP, retry, sweep.

    The broker is CELERY_BROKER_URL, else REDIS_URL, else kombu's filesystem transport in
    var/celery/ (needs no server; one machine only).
    """
    common = [str(PY), "-m", "celery", "-A", "bffproject"]
    worker = subprocess.Popen(
        [*common, "worker", "--pool", "threads", "--concurrency", "4", "--loglevel", "WARNING"],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    beat = subprocess.Popen(
        [*common, "beat", "--loglevel", "WARNING"], cwd=ROOT, env=env, start_new_session=True
    )
    return [worker, beat]


def celery_line(env, args):
    if args.no_worker:
        return "Celery:                      not started (--no-worker); edits wait until one runs"
    broker = env.get("CELERY_BROKER_URL") or env.get("REDIS_URL") or "filesystem (var/celery/)"
    return f"Celery worker and beat:      broker {broker}"


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


def manage(args):
    """Any manage.py command with the demo's environment (DEBUG and the demo values by default)."""
    ensure_venv("requirements.txt")
    if args.manage_args[:1] not in ([], ["migrate"], ["makemigrations"], ["help"]):
        # As `start` does: on a fresh checkout the demo's database has no tables yet.
        run("manage.py", "migrate", "--noinput", "-v", "0", "--skip-checks")
    result = subprocess.run([str(PY), "manage.py", *args.manage_args], cwd=ROOT, env=dev_env())
    sys.exit(result.returncode)


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
        "--host",
        default="127.0.0.1",
        help="the address the BFF listens on (0.0.0.0: reachable from FusionAuth in Docker)",
    )
    start_cmd.add_argument(
        "--no-idp",
        action="store_true",
        help="start only the BFF (for a real FusionAuth or another provider set by OIDC_ISSUER)",
    )
    start_cmd.add_argument(
        "--no-worker",
        action="store_true",
        help="do not start the Celery worker and beat (run them yourself: see the README)",
    )
    start_cmd.set_defaults(handler=start)
    lock_cmd = commands.add_parser(
        "lock", help="pin every dependency with hashes (requirements*.txt -> requirements*.lock)"
    )
    lock_cmd.add_argument(
        "--upgrade", action="store_true", help="move unpinned dependencies to their newest versions"
    )
    lock_cmd.set_defaults(handler=lock)
    test_cmd = commands.add_parser("test", help="set up and run the whole test suite")
    test_cmd.add_argument("pytest_args", nargs=argparse.REMAINDER, help="passed on to pytest")
    test_cmd.set_defaults(handler=test)
    manage_cmd = commands.add_parser(
        "manage", help="run a manage.py command with the demo's settings (e.g. syncuserdata status)"
    )
    manage_cmd.add_argument("manage_args", nargs=argparse.REMAINDER, help="passed on to manage.py")
    manage_cmd.set_defaults(handler=manage)
    argv = sys.argv[1:]
    if argv[:1] == ["test"] and "-h" not in argv[1:2] and "--help" not in argv[1:2]:
        # Everything after "test" belongs to pytest, options included (argparse would eat them).
        args = argparse.Namespace(handler=test, pytest_args=argv[1:])
    elif argv[:1] == ["manage"] and argv[1:2] not in (["-h"], ["--help"]):
        args = argparse.Namespace(handler=manage, manage_args=argv[1:])
    else:
        args = parser.parse_args(argv)
    try:
        args.handler(args)
    except StepFailed as failed:
        sys.exit(failed.returncode)
    except subprocess.CalledProcessError as failed:
        sys.exit(f"error: {' '.join(map(str, failed.cmd))} failed with status {failed.returncode}")


if __name__ == "__main__":
    main()
