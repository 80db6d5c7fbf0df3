"""userdata/stores/auth0.py: cached token, one-level merge, `|` in ids (against `responses`), and
bulk reads past Auth0's 1,000-user listing limit (against a stand-in HTTP server)."""

import io
import json
import time
import tracemalloc

import pytest
import responses

from tests.fixtures.auth0 import Auth0StandIn
from userdata.stores.auth0 import Auth0Store
from userdata.stores.base import NotRegistered, StoreError, content_version, is_ordered

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
def test_a_user_without_updated_at_gets_a_version_from_its_metadata(store):
    token()
    responses.get(USER_URL, json={"user_id": "auth0|abc", "user_metadata": {"b": 1, "a": 2}})
    responses.get(USER_URL, json={"user_id": "auth0|abc", "user_metadata": {"a": 2, "b": 2}})
    first, second = store.fetch("auth0|abc"), store.fetch("auth0|abc")
    assert first.version == content_version({"a": 2, "b": 1})
    assert second.version != first.version and not is_ordered(second.version)


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


# --- bulk reads against a stand-in that keeps Auth0's documented limits ------------------------


def standin_store(idp, **options):
    options = {
        "client_id": "cid",
        "client_secret": "secret",
        "timeout": 5,
        "connect_timeout": 2,
        "retries": 1,
        "pool_size": 2,
        "retry_after_max": 5,
        "export_poll_seconds": 0,
        **options,
    }
    return Auth0Store(domain=idp.base_url, **options)


def pull_everyone(count, pad):
    """Pull a stand-in tenant of `count` users; check each arrives once; return the memory peak."""
    with Auth0StandIn(count, pad=pad) as idp:
        store = standin_store(idp, page_size=100)
        seen = bytearray(count)
        tracemalloc.start()
        try:
            for page in store.iter_all():
                assert len(page) <= 100
                for remote in page:
                    n = remote.data["n"]
                    assert not seen[n], f"user {n} twice"
                    seen[n] = 1
                    assert remote.subject == f"auth0|{n:07d}"
                    assert remote.email == f"user{n}@example.com"
                    assert remote.version == (1_700_000_000 + n) * 1000
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        store.close()
        assert seen.count(0) == 0, f"{seen.count(0)} users missing"
        assert idp.tenant.calls["list"] == 1 and idp.tenant.calls["export"] == 1
        assert idp.tenant.calls["download"] == 1
    return peak


def test_a_tenant_past_the_listing_limit_is_pulled_whole_in_flat_memory():
    """2,500 users with 2 KB of metadata each (5 MB): the listing's capped total sends the store to
    an export job, every user arrives once, and memory holds a page (100 users, 0.2 MB, plus the
    HTTP and gzip buffers), not the tenant. bench/auth0_export_bench.py shows the peak stays the
    same from 2,500 to 25,000 users."""
    peak = pull_everyone(2500, pad=2000)
    assert peak < 2 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB for a 5 MB tenant"


def test_a_tenant_the_listing_can_serve_is_paged_without_an_export():
    with Auth0StandIn(250) as idp:
        store = standin_store(idp)
        pages = list(store.iter_all())
        assert [len(page) for page in pages] == [100, 100, 50]
        assert {r.subject for page in pages for r in page} == {f"auth0|{n:07d}" for n in range(250)}
        assert idp.tenant.calls["export"] == 0 and idp.tenant.calls["list"] == 3


def test_a_truncated_export_file_is_an_error_not_a_short_pull():
    with Auth0StandIn(1500) as idp:
        idp.tenant.truncate_export = 1200
        store = standin_store(idp)
        got = 0
        with pytest.raises(StoreError, match="truncated"):
            for page in store.iter_all():
                got += len(page)
        assert got < 1500


def test_an_export_that_does_not_finish_in_time_is_an_error():
    with Auth0StandIn(1200, polls=1000) as idp:
        store = standin_store(idp, export_timeout=0)
        with pytest.raises(StoreError, match="did not finish"):
            list(store.iter_all())


def test_an_export_file_that_drips_is_cut_off_at_the_export_timeout():
    """Every read has a timeout, but a server sending a little at a time never trips it."""
    with Auth0StandIn(2000) as idp:
        idp.tenant.drip = 0.05
        store = standin_store(idp, export_timeout=0.5)
        started = time.monotonic()
        with pytest.raises(StoreError, match="took longer"):
            list(store.iter_all())
        assert time.monotonic() - started < 3


def test_a_custom_domain_without_the_management_audience_says_so():
    with Auth0StandIn(10) as idp:
        store = standin_store(idp, audience="https://login.example.com/api/v2/")
        with pytest.raises(StoreError, match="AUTH0_MGMT_AUDIENCE") as caught:
            store.fetch("auth0|0000001")
        assert caught.value.status == 403 and not caught.value.retryable
        assert standin_store(idp).fetch("auth0|0000001").data["n"] == 1


def test_a_listing_that_grows_past_the_limit_fails_loudly():
    """The first page said 950 users, then the tenant grew: the tenth full page cannot be followed."""
    with Auth0StandIn(950) as idp:
        idp.tenant.grow_to = 1200
        store = standin_store(idp)
        got = 0
        with pytest.raises(StoreError, match="1,000 users per query"):
            for page in store.iter_all():
                got += len(page)
        assert got == 1000 and idp.tenant.calls["export"] == 0


def test_a_failed_export_job_is_an_error():
    with Auth0StandIn(1500) as idp:
        idp.tenant.fail_jobs = True
        with pytest.raises(StoreError, match="failed"):
            list(standin_store(idp).iter_all())
        assert idp.tenant.calls["download"] == 0


@pytest.mark.django_db
def test_syncuserdata_pull_mirrors_every_user_of_a_large_tenant(settings):
    """The whole path: `syncuserdata pull` with the Auth0 store against the stand-in."""
    from django.core.management import call_command

    from userdata import stores
    from userdata.models import UserData

    with Auth0StandIn(2500) as idp:
        settings.USERDATA = {
            **settings.USERDATA,
            "STORE": "auth0",
            "AUTH0": {
                "DOMAIN": idp.base_url,
                "CLIENT_ID": "cid",
                "CLIENT_SECRET": "secret",
                "EXPORT_POLL_SECONDS": 0,
            },
        }
        stores.reset_store()
        out = io.StringIO()
        try:
            call_command("syncuserdata", "pull", "--inline", "--json", stdout=out)
        finally:
            stores.reset_store()
    summary = json.loads(out.getvalue())
    assert summary["total"] == 2500 and summary["errors"] == 0
    assert UserData.objects.count() == 2500
    row = UserData.objects.get(subject="auth0|0002499")
    assert row.data == {"userData": "note 2499", "n": 2499}
    assert row.email == "user2499@example.com"
