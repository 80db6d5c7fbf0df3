"""userdata/stores/auth0.py against `responses`: cached token, one-level merge, `|` in ids."""

import json

import pytest
import responses

from userdata.stores.auth0 import Auth0Store
from userdata.stores.base import NotRegistered

DOMAIN = "tenant.auth0.test"
USER_URL = f"https://{DOMAIN}/api/v2/users/auth0%7Cabc"


@pytest.fixture
def store():
    store = Auth0Store(
        domain=DOMAIN,
        client_id="cid",
        client_secret="secret",
        timeout=2,
        connect_timeout=1,
        retries=1,
        pool_size=2,
        retry_after_max=5,
    )
    store.http.sleep = lambda s: None
    return store


def token(n=1):
    responses.post(
        f"https://{DOMAIN}/oauth/token",
        json={"access_token": f"tok{n}", "expires_in": 86400, "token_type": "Bearer"},
    )


@responses.activate
def test_token_cached_and_id_encoded(store):
    token()
    body = {
        "user_id": "auth0|abc",
        "email": "a@example.com",
        "updated_at": "2024-01-01T00:00:00.000Z",
        "user_metadata": {"userData": "hi"},
    }
    responses.get(USER_URL, json=body)
    responses.get(USER_URL, json=body)
    assert store.fetch("auth0|abc").data == {"userData": "hi"}
    remote = store.fetch("auth0|abc")
    assert remote.version == 1704067200000 and remote.email == "a@example.com"
    token_calls = [c for c in responses.calls if c.request.url.endswith("/oauth/token")]
    assert len(token_calls) == 1
    assert "audience=https%3A%2F%2Ftenant.auth0.test%2Fapi%2Fv2%2F" in token_calls[0].request.body
    assert responses.calls[1].request.headers["Authorization"] == "Bearer tok1"


@responses.activate
def test_push_sends_whole_changed_top_level_keys_and_nulls(store):
    token()
    responses.patch(USER_URL, json={"user_metadata": {"addr": {"home": 1, "work": 2}}})
    store.push(
        "auth0|abc", {"addr": {"home": 1, "work": 2}}, base={"addr": {"home": 1}, "old": "x"}
    )
    sent = json.loads(responses.calls[1].request.body)
    assert sent == {"user_metadata": {"addr": {"home": 1, "work": 2}, "old": None}}


@responses.activate
def test_push_never_sends_empty_metadata(store):
    token()
    responses.get(USER_URL, json={"user_metadata": {"a": 1}})
    store.push("auth0|abc", {"a": 1}, base={"a": 1})
    assert responses.calls[1].request.method == "GET"


@responses.activate
def test_expired_token_is_renewed_once(store):
    token(1)
    responses.get(USER_URL, status=401)
    token(2)
    responses.get(USER_URL, json={"user_metadata": {}})
    store.fetch("auth0|abc")
    assert responses.calls[-1].request.headers["Authorization"] == "Bearer tok2"


@responses.activate
def test_429_honours_ratelimit_reset(store):
    slept = []
    store.http.sleep = slept.append
    token()
    responses.get(USER_URL, status=429, headers={"x-ratelimit-reset": "0"})
    responses.get(USER_URL, json={"user_metadata": {}})
    store.fetch("auth0|abc")
    assert slept == [0.0]


@responses.activate
def test_unknown_user(store):
    token()
    responses.get(USER_URL, status=404)
    with pytest.raises(NotRegistered):
        store.fetch("auth0|abc")


@responses.activate
def test_iter_all_pages_until_total(store):
    token()
    users = [
        {"user_id": f"auth0|{n}", "email": f"{n}@x.test", "user_metadata": {"n": n}}
        for n in range(150)
    ]
    responses.get(f"https://{DOMAIN}/api/v2/users", json={"total": 150, "users": users[:100]})
    responses.get(f"https://{DOMAIN}/api/v2/users", json={"total": 150, "users": users[100:]})
    pages = list(store.iter_all())
    assert [len(p) for p in pages] == [100, 50]
    assert pages[1][0].subject == "auth0|100" and pages[1][0].data == {"n": 100}
