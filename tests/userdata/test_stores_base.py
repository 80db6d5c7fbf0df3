"""userdata/stores/base.py: what a RemoteData may hold, and versions when the provider gives none.

FusionAuth's OpenAPI schema has `registration.lastUpdateInstant` but its documented response body
does not, so every rule is run on both shapes: with the provider's version and without it.
"""

import json

import pytest
import responses

from userdata import mirror, pull
from userdata.stores.base import (
    MAX_DEPTH,
    RemoteData,
    StoreError,
    content_version,
    is_older,
    is_ordered,
)

from .conftest import APP_ID, FA_URL

REG_URL = f"{FA_URL}/api/user/registration/sub-ada/{APP_ID}"


def nested(depth):
    value = "leaf"
    for _ in range(depth):
        value = {"k": value}
    return value


def test_content_version_is_canonical():
    one = content_version({"b": [1, {"y": 2, "x": 1}], "a": "é"})
    two = content_version(json.loads('{ "a" : "\\u00e9", "b":[1,{"x":1, "y":2}]}'))
    assert one == two
    assert content_version({"a": 1}) != content_version({"a": "1"})
    assert content_version({}) != content_version({"a": None})


def test_a_derived_version_is_unordered_and_fits_the_column():
    version = content_version({"userData": "x"})
    assert -(2**63) <= version < 0
    assert not is_ordered(version)
    assert not is_older(version, 10**12) and not is_older(10**12, version)
    assert is_older(1, 2) and not is_older(2, 1) and not is_older(None, 1)


def test_remote_data_without_a_version_derives_one():
    remote = RemoteData("s", {"userData": "x"})
    assert remote.version == content_version({"userData": "x"})
    assert RemoteData("s", {"userData": "x"}, 5).version == 5


@pytest.mark.parametrize("version", [2**63, -1, 10**30, True, 1.5, "5"])
def test_a_version_outside_a_64_bit_count_is_refused(version):
    with pytest.raises(StoreError, match="64-bit"):
        RemoteData("s", {}, version)


@pytest.mark.parametrize(
    "data", [nested(MAX_DEPTH + 1), {"n": float("nan")}, {"n": [float("inf")]}, {"t": "a\x00"}]
)
def test_data_a_database_cannot_keep_is_refused(data):
    with pytest.raises(StoreError):
        RemoteData("s", data)


def test_data_at_the_depth_limit_is_kept():
    assert RemoteData("s", nested(MAX_DEPTH)).data == nested(MAX_DEPTH)


def registration(data, version):
    body = {"applicationId": APP_ID, "data": data, "roles": ["customer"]}
    if version is not None:
        body["lastUpdateInstant"] = version
    return {"registration": body}


@pytest.mark.django_db
@pytest.mark.parametrize("versions", [(1000, 2000), (None, None)], ids=["versioned", "unversioned"])
@responses.activate
def test_a_remote_change_during_a_pending_edit_is_a_conflict(fa_settings, make_user, versions):
    user, row = make_user(data={}, remote_version=None)
    responses.get(REG_URL, json=registration({"userData": "base"}, versions[0]))
    assert pull.pull(row) == "changed"
    mirror.save_edit(user, "local edit")
    responses.replace(
        responses.GET, REG_URL, json=registration({"userData": "remote"}, versions[1])
    )
    assert pull.pull(row) == "conflict"
    row.refresh_from_db()
    assert row.data == {"userData": "local edit"} and row.pending
    assert row.conflict_remote_data == {"userData": "remote"}


@pytest.mark.django_db
@pytest.mark.parametrize("versioned", [True, False], ids=["versioned", "unversioned"])
@responses.activate
def test_an_unchanged_remote_during_a_pending_edit_is_not_a_conflict(
    fa_settings, make_user, versioned
):
    user, row = make_user(data={}, remote_version=None)
    responses.get(REG_URL, json=registration({"userData": "base"}, 1000 if versioned else None))
    pull.pull(row)
    mirror.save_edit(user, "local edit")
    assert pull.pull(row) == "unchanged"
    row.refresh_from_db()
    assert row.pending and not row.has_conflict


@pytest.mark.django_db
@responses.activate
def test_unversioned_changes_are_never_taken_for_older_copies(fa_settings, make_user):
    """Derived versions carry no order: a change whose hash happens to be smaller is still taken."""
    user, row = make_user(data={}, remote_version=None)
    first = {"userData": "first"}
    second = next(
        {"userData": f"second {n}"}
        for n in range(100)
        if content_version({"userData": f"second {n}"}) < content_version(first)
    )
    current = {}
    responses.add_callback(
        responses.GET, REG_URL, callback=lambda request: (200, {}, json.dumps(current["body"]))
    )
    for data in (first, second, first):
        current["body"] = registration(data, None)
        assert pull.pull(row) == "changed"
        row.refresh_from_db()
        assert row.data == data and row.remote_version == content_version(data)
