"""userdata/views.py: the home page, the save endpoint (JSON and form), limits and CSRF."""

import json

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from userdata.models import UserData

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(client, make_user, memory_store):
    remote = memory_store.set("sub-ada", {"userData": "<b>hello</b> & bye"}, "ada@example.com")
    user, row = make_user(data={"userData": "<b>hello</b> & bye"}, remote_version=remote.version)
    client.force_login(user)
    return client, user, row


def current_version(client):
    user_id = client.session["_auth_user_id"]
    return UserData.objects.get(user_id=user_id).version


def save_json(client, payload, **extra):
    """POST as the page's script does; a dict gets the row's current version unless it names one."""
    if isinstance(payload, dict) and "version" not in payload and "_auth_user_id" in client.session:
        payload = {**payload, "version": current_version(client)}
    body = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
    return client.post(
        "/userdata/", body, content_type="application/json", HTTP_ACCEPT="application/json", **extra
    )


def test_home_signed_out(client):
    response = client.get("/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "You&#x27;re not logged in." in html or "You're not logged in." in html
    assert 'href="/auth/login/"' in html and "readonly" in html


def test_home_signed_in_greets_and_prefills_escaped(signed_in, memory_store):
    client, user, row = signed_in
    html = client.get("/").content.decode()
    assert "<h1>Hi, ada@example.com!</h1>" in html
    assert "&lt;b&gt;hello&lt;/b&gt; &amp; bye</textarea>" in html
    assert 'role="status"' in html and 'aria-live="polite"' in html
    assert 'aria-describedby="userdata-hint userdata-limit"' in html
    assert "Sign out" in html and "userdata/userdata.js" in html
    assert memory_store.calls == []


def test_warm_home_is_a_few_queries_and_no_idp_call(signed_in, memory_store):
    client, user, row = signed_in
    client.get("/")
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/").status_code == 200
    mine = [q["sql"] for q in queries.captured_queries if "userdata_" in q["sql"]]
    # The mirror row comes with the user (OAUTHBFF USER_SELECT_RELATED): one query for both.
    assert len(mine) == 1 and mine[0].startswith("SELECT") and '"auth_user"' in mine[0]
    assert memory_store.calls == []


def test_save_commits_locally_and_queues_the_push_on_commit(
    signed_in, memory_store, django_capture_on_commit_callbacks
):
    client, user, row = signed_in
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = save_json(client, {"userData": "new text"})
    assert response.status_code == 200
    body = response.json()
    assert body["state"] == "pending" and body["version"] == row.version + 1
    assert memory_store.calls == []  # the request never waited for the IdP
    assert len(queued) == 1
    queued[0]()  # what the commit runs: the push task (eager in unit tests)
    assert memory_store.users["sub-ada"].data == {"userData": "new text"}
    assert save_json(client, {"userData": "new text"}).json()["state"] == "saved"


def test_save_when_idp_down_is_pending_and_the_sweeper_delivers(
    signed_in, memory_store, django_capture_on_commit_callbacks
):
    from userdata import tasks

    client, user, row = signed_in
    memory_store.down = True
    with django_capture_on_commit_callbacks(execute=True):
        response = save_json(client, {"userData": "offline edit"})
    assert response.json()["state"] == "pending"
    assert "Waiting to sync" in response.json()["message"]
    assert "offline edit" in client.get("/").content.decode()
    assert 'data-state="pending"' in client.get("/").content.decode()
    memory_store.down = False
    UserData.objects.filter(pk=row.pk).update(next_push_at=None, edited_at=None)
    assert tasks.sweep_pending() == 1
    assert 'data-state="saved"' in client.get("/").content.decode()
    assert memory_store.users["sub-ada"].data == {"userData": "offline edit"}


def test_push_time_conflict_offers_the_user_the_choice(
    signed_in, memory_store, django_capture_on_commit_callbacks
):
    client, user, row = signed_in
    memory_store.set("sub-ada", {"userData": "changed at the IdP"})
    with django_capture_on_commit_callbacks(execute=True):
        save_json(client, {"userData": "mine"})
    html = client.get("/").content.decode()
    assert 'data-state="conflict"' in html and "changed at the IdP</textarea>" in html
    state = client.get("/userdata/", HTTP_ACCEPT="application/json").json()
    assert state["conflict"]["current"] == "changed at the IdP"
    # Keeping mine is a save with choice=mine: the IdP's copy becomes the base, then it is pushed.
    with django_capture_on_commit_callbacks(execute=True):
        kept = save_json(client, {"userData": "mine, edited", "choice": "mine"})
    assert kept.status_code == 200
    assert memory_store.users["sub-ada"].data == {"userData": "mine, edited"}
    assert not UserData.objects.get(pk=row.pk).has_conflict


def test_save_bad_json_400(signed_in):
    client, *_ = signed_in
    assert save_json(client, b"{not json").status_code == 400
    assert save_json(client, {"userData": 5}).status_code == 400
    assert save_json(client, [1]).status_code == 400


def test_save_over_limit_413(signed_in, settings):
    client, user, row = signed_in
    settings.USERDATA = {**settings.USERDATA, "MAX_BYTES": 64 * 1024}
    response = save_json(client, {"userData": "x" * (64 * 1024 + 1)})
    assert response.status_code == 413 and "64 KB" in response.json()["error"]
    assert UserData.objects.get(pk=row.pk).data["userData"] == "<b>hello</b> & bye"


def test_save_signed_out_401_json_and_redirect_form(client):
    assert save_json(client, {"userData": "x"}).status_code == 401
    response = client.post("/userdata/", {"userData": "x"})
    assert response.status_code == 302 and response["Location"].startswith("/auth/login/")


def test_save_without_csrf_403(make_user, memory_store):
    user, row = make_user()
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert save_json(client, {"userData": "x"}).status_code == 403
    assert not UserData.objects.get(pk=row.pk).pending


def test_form_post_fallback_with_csrf(make_user, memory_store):
    remote = memory_store.set("sub-ada", {})
    user, row = make_user(remote_version=remote.version)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    page = client.get("/").content.decode()
    token = page.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
    version = page.split('name="version" value="')[1].split('"')[0]
    response = client.post(
        "/userdata/",
        {"userData": "from a form", "version": version, "csrfmiddlewaretoken": token},
        follow=True,
    )
    html = response.content.decode()
    assert "from a form</textarea>" in html and "Waiting to sync" in html


def test_form_over_limit_keeps_text_and_explains(signed_in, settings):
    client, *_ = signed_in
    settings.USERDATA = {**settings.USERDATA, "MAX_BYTES": 8}
    response = client.post("/userdata/", {"userData": "too long text", "version": "0"})
    html = response.content.decode()
    assert response.status_code == 413
    assert "over the limit" in html and "too long text</textarea>" in html


def test_user_id_in_request_is_ignored(signed_in, make_user, memory_store):
    client, user, row = signed_in
    other, other_row = make_user(
        email="eve@example.com", subject="sub-eve", data={"userData": "eve"}
    )
    save_json(client, {"userData": "mine", "user": other.pk, "subject": "sub-eve"})
    assert UserData.objects.get(pk=other_row.pk).data == {"userData": "eve"}
    assert UserData.objects.get(pk=row.pk).data == {"userData": "mine"}


def test_home_creates_row_for_user_without_one(client, django_user_model, memory_store):
    user = django_user_model.objects.create_user(username="n@example.com", email="n@example.com")
    client.force_login(user)
    assert client.get("/").status_code == 200
    assert UserData.objects.filter(user=user).exists()


def test_stale_mirror_gets_a_pull_queued_and_the_page_renders_what_it_has(
    signed_in, memory_store, settings
):
    from datetime import timedelta

    from django.core.cache import cache
    from django.utils import timezone

    client, user, row = signed_in
    settings.USERDATA = {**settings.USERDATA, "FRESH_SECONDS": 300}
    memory_store.set("sub-ada", {"userData": "changed at the IdP"})
    assert "changed at the IdP" not in client.get("/").content.decode()
    assert memory_store.calls == []
    UserData.objects.filter(pk=row.pk).update(pulled_at=timezone.now() - timedelta(seconds=301))
    first = client.get("/").content.decode()
    assert "changed at the IdP" not in first  # rendered from the mirror; the pull is queued
    assert memory_store.calls == ["fetch"]  # (run at once: eager in unit tests)
    assert "changed at the IdP</textarea>" in client.get("/").content.decode()
    cache.clear()
    memory_store.down = True
    UserData.objects.filter(pk=row.pk).update(pulled_at=timezone.now() - timedelta(seconds=301))
    client.get("/")
    client.get("/")
    assert memory_store.calls == ["fetch", "fetch"]  # a failed pull backs off


@pytest.mark.parametrize("text", ["a NUL \x00 here", "a lone surrogate \ud800"])
def test_unstorable_text_is_refused_unchanged(signed_in, text):
    client, user, row = signed_in
    assert save_json(client, {"userData": text}).status_code == 400
    if "\x00" in text:  # a form cannot even carry a lone surrogate
        response = client.post("/userdata/", {"userData": text, "version": "0"})
        assert response.status_code == 400 and "cannot be stored" in response.content.decode()
    assert UserData.objects.get(pk=row.pk).data == row.data


def test_database_error_is_a_clear_503(signed_in, monkeypatch):
    from django.db import OperationalError

    client, *_ = signed_in

    def broken(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr("userdata.mirror.save_edit", broken)
    response = save_json(client, {"userData": "x"})
    assert response.status_code == 503 and "try again" in response.json()["error"]
    page = client.post("/userdata/", {"userData": "keep me", "version": "0"})
    assert page.status_code == 503 and "keep me</textarea>" in page.content.decode()
