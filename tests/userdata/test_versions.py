"""Versioned edits through the save endpoint: a stale save is a choice, never a silent overwrite;
bad versions and bodies are a clear 400/409/413, never a 500."""

import json

import pytest

from userdata import pull
from userdata.models import SyncEvent, UserData

pytestmark = pytest.mark.django_db

URL = "/userdata/"


@pytest.fixture
def signed_in(client, make_user, memory_store):
    remote = memory_store.set("sub-ada", {"userData": "v0"}, "ada@example.com")
    user, row = make_user(data={"userData": "v0"}, remote_version=remote.version)
    client.force_login(user)
    return client, user, row


def post_json(client, payload):
    body = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
    return client.post(URL, body, content_type="application/json", HTTP_ACCEPT="application/json")


def changed_at_idp(memory_store, row, text):
    """The IdP's copy changes and reaches the mirror (a webhook or a pull)."""
    memory_store.set("sub-ada", {"userData": text})
    assert pull.pull(UserData.objects.get(pk=row.pk)) == "changed"


def test_save_based_on_an_older_version_is_a_409_with_both_texts(signed_in, memory_store):
    client, user, row = signed_in
    shown = row.version
    changed_at_idp(memory_store, row, "changed at the IdP")
    response = post_json(client, {"userData": "typed in an old tab", "version": shown})
    assert response.status_code == 409
    body = response.json()
    assert body["conflict"]["yours"] == "typed in an old tab"
    assert body["conflict"]["current"] == "changed at the IdP"
    assert body["conflict"]["changed_from"] == "the identity provider"
    assert body["conflict"]["changed_at"] and body["version"] == shown + 1
    row = UserData.objects.get(pk=row.pk)
    assert row.user_text == "changed at the IdP" and not row.pending  # nothing overwritten
    assert memory_store.users["sub-ada"].data == {"userData": "changed at the IdP"}


def test_keep_mine_after_a_409_saves_mine(
    signed_in, memory_store, django_capture_on_commit_callbacks
):
    client, user, row = signed_in
    changed_at_idp(memory_store, row, "changed at the IdP")
    conflict = post_json(client, {"userData": "mine", "version": row.version}).json()
    with django_capture_on_commit_callbacks(execute=True):
        kept = post_json(
            client, {"userData": "mine", "version": conflict["version"], "choice": "mine"}
        )
    assert kept.status_code == 200 and kept.json()["text"] == "mine"
    assert memory_store.users["sub-ada"].data == {"userData": "mine"}


def test_take_current_keeps_the_current_text(signed_in, memory_store):
    client, user, row = signed_in
    changed_at_idp(memory_store, row, "changed at the IdP")
    version = UserData.objects.get(pk=row.pk).version
    taken = post_json(client, {"version": version, "choice": "theirs"})
    assert taken.status_code == 200 and taken.json()["text"] == "changed at the IdP"
    assert not UserData.objects.get(pk=row.pk).pending


def test_form_post_with_a_stale_version_shows_the_choice_without_javascript(
    signed_in, memory_store
):
    client, user, row = signed_in
    shown = row.version
    changed_at_idp(memory_store, row, "changed <at> the IdP")
    response = client.post(URL, {"userData": "typed in a form", "version": str(shown)})
    html = response.content.decode()
    assert response.status_code == 409
    assert 'id="userdata-conflict"' in html and 'id="userdata-conflict" class' in html
    assert "typed in a form</textarea>" in html
    assert "changed &lt;at&gt; the IdP</textarea>" in html
    assert 'name="choice" value="mine"' in html and 'name="choice" value="theirs"' in html
    assert f'name="version" value="{shown + 1}"' in html
    # "Take the current one" from that page:
    taken = client.post(URL, {"version": str(shown + 1), "choice": "theirs"})
    assert taken.status_code == 302


def test_the_same_text_from_an_older_version_is_no_conflict(signed_in, memory_store):
    client, user, row = signed_in
    changed_at_idp(memory_store, row, "same")
    response = post_json(client, {"userData": "same", "version": row.version})
    assert response.status_code == 200 and response.json()["state"] == "saved"


@pytest.mark.parametrize(
    "version, status, words",
    [
        (None, 400, "version"),
        ("", 400, "version"),
        ("abc", 400, "whole number"),
        (True, 400, "whole number"),
        (-1, 400, "whole number"),
        (1.5, 400, "whole number"),
        (10**30, 400, "whole number"),
        ([1], 400, "whole number"),
        (999, 400, "unknown"),
    ],
)
def test_missing_or_forged_versions_are_a_clear_400(signed_in, version, status, words):
    client, user, row = signed_in
    payload = {"userData": "x"} if version is None else {"userData": "x", "version": version}
    response = post_json(client, payload)
    assert response.status_code == status and words in response.json()["error"]
    assert UserData.objects.get(pk=row.pk).user_text == "v0"


def test_another_users_version_never_touches_their_row(signed_in, make_user, memory_store):
    client, user, row = signed_in
    other, other_row = make_user(
        email="eve@example.com", subject="sub-eve", data={"userData": "eve"}, edit_seq=7
    )
    response = post_json(client, {"userData": "mine", "version": 7, "id": other_row.pk})
    assert response.status_code == 400  # 7 is no version of *my* row
    assert UserData.objects.get(pk=other_row.pk).user_text == "eve"


@pytest.mark.parametrize(
    "body, status",
    [
        (b"[" * 100_000 + b"]" * 100_000, (400, 413)),
        (b'{"userData": ' + b"[" * 5000 + b"]" * 5000 + b"}", (400,)),
        (b"{broken", (400,)),
        (b"\xff\xfe", (400,)),
        (b'"just a string"', (400,)),
        (b'{"userData": "x", "version": 0, "choice": "both"}', (400,)),
    ],
)
def test_broken_or_deeply_nested_json_is_a_400_never_a_500(signed_in, body, status):
    client, *_ = signed_in
    response = post_json(client, body)
    assert response.status_code in status
    assert response.json()["error"]


def test_huge_body_is_a_413(signed_in, settings):
    client, *_ = signed_in
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    response = post_json(client, {"userData": "x" * 5000, "version": 0})
    assert response.status_code == 413 and response.json()["error"]


def test_poll_answers_304_until_something_changes(signed_in, memory_store):
    client, user, row = signed_in
    first = client.get(URL, HTTP_ACCEPT="application/json")
    assert first.status_code == 200 and first.json()["text"] == "v0"
    tag = first["ETag"]
    assert client.get(URL, HTTP_IF_NONE_MATCH=tag).status_code == 304
    changed_at_idp(memory_store, row, "from the IdP")
    again = client.get(URL, HTTP_IF_NONE_MATCH=tag)
    assert again.status_code == 200 and again.json()["text"] == "from the IdP"
    assert again.json()["version"] == row.version + 1


def test_poll_signed_out_is_401(client):
    assert client.get(URL).status_code == 401


def test_session_end_message_links_to_sign_in_returning_to_the_page(signed_in):
    client, *_ = signed_in
    html = client.get("/").content.decode()
    assert 'data-login-url="/auth/login/?next=%2F"' in html
    assert 'data-draft-key="userdata-draft:' in html


def test_history_records_the_idp_change_a_stale_save_met(signed_in, memory_store):
    client, user, row = signed_in
    changed_at_idp(memory_store, row, "changed at the IdP")
    post_json(client, {"userData": "old tab", "version": row.version})
    assert UserData.objects.get(pk=row.pk).events.filter(kind=SyncEvent.Kind.PULL).exists()


def test_a_browser_opening_the_address_gets_the_field_as_a_page(signed_in, client):
    signed_in_client, *_ = signed_in
    page = signed_in_client.get(URL, HTTP_ACCEPT="text/html,application/xhtml+xml")
    assert page.status_code == 200 and 'id="userdata-form"' in page.content.decode()
    signed_in_client.logout()
    away = signed_in_client.get(URL, HTTP_ACCEPT="text/html")
    assert away.status_code == 302 and away["Location"].startswith("/auth/login/?next=")
