"""The development IdP survives a burst of 100 concurrent users (SQLite in WAL mode, a deep backlog)."""

import threading

import pytest
import requests

from tests.devidp.conftest import CALLBACK, code_for, token_request

USERS = 100
EMAILS = ["admin@example.com", "teller@example.com", "customer@example.com"]


@pytest.mark.slow
def test_one_hundred_concurrent_sign_ins_all_succeed(idp):
    barrier = threading.Barrier(USERS)
    outcomes = []

    def user(number):
        barrier.wait()
        try:
            code, verifier, _ = code_for(idp, EMAILS[number % 3], session=requests.Session())
            response = token_request(
                idp,
                {
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": CALLBACK,
                    "code_verifier": verifier,
                },
                timeout=60,
            )
            outcomes.append(response.status_code)
        except Exception as exc:  # noqa: BLE001 - every failure is reported below
            outcomes.append(repr(exc))

    threads = [threading.Thread(target=user, args=(n,)) for n in range(USERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert outcomes == [200] * USERS
    assert "database is locked" not in idp.log_tail(2000)
