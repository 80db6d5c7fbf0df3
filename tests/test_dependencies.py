"""The locks pin what the requirements files name: a requirement added or moved without
`python3 dev.py lock` fails here, with the command that mends it, rather than on the next machine."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


def normalise(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path):
    """{name: version} of the `name==version` lines of a requirements file or lock."""
    found = {}
    for line in path.read_text().splitlines():
        match = PIN.match(line.strip())
        if match:
            found[normalise(match.group(1))] = match.group(2)
    return found


def direct_pins(path):
    """The pins a requirements file names itself and through its `-r` includes."""
    found = pins(path)
    for line in path.read_text().splitlines():
        if line.startswith("-r "):
            found.update(direct_pins(path.parent / line[3:].strip()))
    return found


@pytest.mark.parametrize("name", ["requirements.txt", "requirements-test.txt"])
def test_the_lock_pins_every_requirement_at_its_version(name):
    lock = ROOT / name.replace(".txt", ".lock")
    locked = pins(lock)
    stale = {
        package: (version, locked.get(package))
        for package, version in direct_pins(ROOT / name).items()
        if locked.get(package) != version
    }
    assert not stale, f"{lock.name} is stale (run: python3 dev.py lock): {stale}"


@pytest.mark.parametrize("name", ["requirements.lock", "requirements-test.lock"])
def test_every_locked_package_has_a_hash(name):
    text = (ROOT / name).read_text()
    entries = re.split(
        r"\n(?=[A-Za-z0-9])", text.split("\n", 1)[1] if text.startswith("#") else text
    )
    unhashed = [e.split()[0] for e in entries if PIN.match(e) and "--hash=sha256:" not in e]
    assert not unhashed, f"{name} pins without hashes: {unhashed}"


def test_both_locks_agree_on_shared_packages():
    runtime = pins(ROOT / "requirements.lock")
    test = pins(ROOT / "requirements-test.lock")
    assert set(runtime) <= set(test), set(runtime) - set(test)
    differing = {p: (v, test[p]) for p, v in runtime.items() if test[p] != v}
    assert not differing, f"run: python3 dev.py lock --upgrade ({differing})"
