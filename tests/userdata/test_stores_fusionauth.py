"""userdata/stores/fusionauth.py against `responses`: headers, merge-patch, paging and faults."""

import json

import pytest
import requests
import responses
from responses import matchers

from userdata.stores import get_store
from userdata.stores.base import NotRegistered, StoreError, merge_patch
from userdata.stores.fusionauth import FusionAuthStore

from .conftest import APP_ID, FA_URL, TENANT_ID

REG_URL = f"{FA_URL}/api/user/registration/sub-1/{APP_ID}"
SEARCH_URL = f"{FA_URL}/api/user/search"


def registration(data, version=1000):
    return {
        "registration": {
            "applicationId": APP_ID,
            "data": data,
            "lastUpdateInstant": version,
            "roles": ["customer"],
        }
    }


@pytest.fixture
def store(fa_settings):
    store = get_store()
    store.http.sleep = lambda seconds: None
    return store


@responses.activate
def test_fetch_sends_api_key_and_tenant(store):
    responses.get(
        REG_URL,
        json=registration({"userData": "hi"}, 42),
        match=[
            matchers.header_matcher(
                {"Authorization": "test-api-key", "X-FusionAuth-TenantId": TENANT_ID}
            )
        ],
    )
    remote = store.fetch("sub-1")
    assert remote.data == {"userData": "hi"} and remote.version == 42


@responses.activate
def test_fetch_404_is_not_registered(store):
    responses.get(REG_URL, status=404)
    with pytest.raises(NotRegistered):
        store.fetch("sub-1")


@responses.activate
def test_push_sends_merge_patch_of_data_only(store):
    responses.patch(REG_URL, json=registration({"userData": "new", "keep": 1}, 2000))
    result = store.push(
        "sub-1", {"userData": "new", "keep": 1}, base={"userData": "old", "gone": 1, "keep": 1}
    )
    call = responses.calls[0].request
    assert call.headers["Content-Type"] == "application/merge-patch+json"
    assert json.loads(call.body) == {"registration": {"data": {"userData": "new", "gone": None}}}
    assert result.version == 2000 and result.data["keep"] == 1


def test_merge_patch_nested_and_arrays():
    base = {"a": {"x": 1, "y": 2}, "list": [1, 2], "same": "s"}
    target = {"a": {"x": 1, "z": 3}, "list": [3], "same": "s"}
    assert merge_patch(base, target) == {"a": {"y": None, "z": 3}, "list": [3]}
    assert merge_patch(target, target) == {}


@responses.activate
def test_timeouts_are_retried_then_reported(store):
    responses.get(REG_URL, body=requests.exceptions.ReadTimeout("slow"))
    with pytest.raises(StoreError, match="did not answer in time"):
        store.fetch("sub-1")
    assert len(responses.calls) == 3


@responses.activate
def test_connection_refused_is_unreachable(store):
    responses.get(REG_URL, body=requests.exceptions.ConnectionError("Connection refused"))
    with pytest.raises(StoreError, match="unreachable"):
        store.fetch("sub-1")


@responses.activate
def test_5xx_retried_then_succeeds(store):
    responses.get(REG_URL, status=503)
    responses.get(REG_URL, status=502)
    responses.get(REG_URL, json=registration({"userData": "ok"}))
    assert store.fetch("sub-1").data == {"userData": "ok"}
    assert len(responses.calls) == 3


@responses.activate
def test_500_is_an_error_without_body_echo(store):
    responses.get(REG_URL, status=500, body="stack trace with secrets")
    with pytest.raises(StoreError) as info:
        store.fetch("sub-1")
    assert "500" in str(info.value) and "secrets" not in str(info.value)


@responses.activate
def test_429_honours_retry_after(store):
    slept = []
    store.http.sleep = slept.append
    responses.patch(REG_URL, status=429, headers={"Retry-After": "3"})
    responses.patch(REG_URL, json=registration({"userData": "x"}, 7))
    assert store.push("sub-1", {"userData": "x"}, base={}).version == 7
    assert slept == [3.0]


@responses.activate
def test_429_with_too_long_retry_after_gives_up(store):
    responses.get(REG_URL, status=429, headers={"Retry-After": "3600"})
    with pytest.raises(StoreError, match="429"):
        store.fetch("sub-1")
    assert len(responses.calls) == 1


@pytest.mark.parametrize(
    "body", ["not json", "[1, 2]", '{"registration": "x"}', '{"registration": {"data": [1]}}']
)
@responses.activate
def test_malformed_bodies_are_store_errors(store, body):
    responses.get(REG_URL, body=body, content_type="application/json")
    with pytest.raises(StoreError):
        store.fetch("sub-1")


def user(n, data=None, app=APP_ID):
    return {
        "id": f"u{n}",
        "email": f"u{n}@example.com",
        "registrations": [{"applicationId": app, "data": data or {"n": n}, "lastUpdateInstant": n}],
    }


@responses.activate
def test_iter_all_uses_next_results(store):
    store.page_size = 2
    responses.post(
        SEARCH_URL,
        json={"total": 5, "users": [user(1), user(2)], "nextResults": "t1"},
        match=[
            matchers.json_params_matcher(
                {
                    "search": {"queryString": "*", "numberOfResults": 2, "startRow": 0},
                    "expand": ["registrations"],
                }
            )
        ],
    )
    responses.post(
        SEARCH_URL,
        json={"total": 5, "users": [user(3), user(4, app="other")], "nextResults": "t2"},
        match=[
            matchers.json_params_matcher(
                {"search": {"nextResults": "t1", "numberOfResults": 2}, "expand": ["registrations"]}
            )
        ],
    )
    responses.post(SEARCH_URL, json={"total": 5, "users": [user(5)], "nextResults": "t3"})
    responses.post(SEARCH_URL, json={"total": 5, "users": []})
    pages = list(store.iter_all())
    assert [[r.subject for r in page] for page in pages] == [["u1", "u2"], ["u3"], ["u5"]]
    assert len(responses.calls) == 4


@responses.activate
def test_iter_all_offset_paging_without_next_results(store):
    store.page_size = 2
    responses.post(SEARCH_URL, json={"total": 3, "users": [user(1), user(2)]})
    responses.post(SEARCH_URL, json={"total": 3, "users": [user(3)]})
    pages = list(store.iter_all())
    assert sum(len(p) for p in pages) == 3
    assert json.loads(responses.calls[1].request.body)["search"]["startRow"] == 2


@responses.activate
def test_fetch_many_uses_ids_search(store):
    responses.post(SEARCH_URL, json={"users": [user(1), user(2)]})
    found = store.fetch_many(["u1", "u2", "u9"])
    assert set(found) == {"u1", "u2"}
    assert json.loads(responses.calls[0].request.body)["search"]["ids"] == ["u1", "u2", "u9"]


def test_missing_settings_is_a_clear_error():
    with pytest.raises(StoreError, match="API_URL"):
        FusionAuthStore(
            api_url="",
            api_key="k",
            application_id="a",
            timeout=1,
            connect_timeout=1,
            retries=0,
            pool_size=1,
            retry_after_max=1,
        )


@responses.activate
def test_subject_is_quoted_in_path(store):
    responses.get(f"{FA_URL}/api/user/registration/a%2F..%2Fb/{APP_ID}", json=registration({}))
    store.fetch("a/../b")


@responses.activate
@pytest.mark.parametrize("text", ["nul \x00 inside", "lone \ud800 surrogate"])
def test_data_no_database_can_store_is_a_store_error(store, text):
    responses.get(REG_URL, json=registration({"userData": text}))
    with pytest.raises(StoreError, match="cannot be stored"):
        store.fetch("sub-1")


@responses.activate
def test_bulk_pull_skips_a_user_whose_data_cannot_be_stored(store):
    bad = user(2)
    bad["registrations"][0]["data"] = {"userData": "nul \x00"}
    responses.post(SEARCH_URL, json={"total": 3, "users": [user(1), bad, user(3)]})
    responses.post(SEARCH_URL, json={"total": 3, "users": []})
    pages = list(store.iter_all())
    assert [r.subject for page in pages for r in page] == ["u1", "u3"]
