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


def save_json(client, payload, **extra):
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
    assert "Sign out" in html and "js/userdata.js" in html
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


def test_save_json_pushes(signed_in, memory_store):
    client, user, row = signed_in
    response = save_json(client, {"userData": "new text"})
    assert response.status_code == 200
    assert response.json()["state"] == "saved"
    assert memory_store.users["sub-ada"].data == {"userData": "new text"}


def test_save_when_idp_down_is_pending_then_pushed_on_next_request(signed_in, memory_store):
    client, user, row = signed_in
    memory_store.down = True
    response = save_json(client, {"userData": "offline edit"})
    assert response.json() == {
        "state": "pending",
        "message": "Saved here. Waiting to sync with the identity provider; it will be sent "
        "automatically.",
    }
    assert "offline edit" in client.get("/").content.decode()
    memory_store.down = False
    UserData.objects.filter(pk=row.pk).update(next_push_at=None)
    assert 'data-state="saved"' in client.get("/").content.decode()
    assert memory_store.users["sub-ada"].data == {"userData": "offline edit"}


def test_save_conflict_state(signed_in, memory_store):
    client, user, row = signed_in
    memory_store.set("sub-ada", {"userData": "changed at the IdP"})
    assert save_json(client, {"userData": "mine"}).json()["state"] == "conflict"
    assert 'data-state="conflict"' in client.get("/").content.decode()


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
    response = client.post(
        "/userdata/", {"userData": "from a form", "csrfmiddlewaretoken": token}, follow=True
    )
    html = response.content.decode()
    assert "from a form</textarea>" in html and "Saved." in html
    assert memory_store.users["sub-ada"].data == {"userData": "from a form"}


def test_form_over_limit_keeps_text_and_explains(signed_in, settings):
    client, *_ = signed_in
    settings.USERDATA = {**settings.USERDATA, "MAX_BYTES": 8}
    response = client.post("/userdata/", {"userData": "too long text"})
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


def test_stale_mirror_is_pulled_on_page_load_fresh_is_not(signed_in, memory_store, settings):
    from datetime import timedelta

    from django.utils import timezone

    client, user, row = signed_in
    settings.USERDATA = {**settings.USERDATA, "FRESH_SECONDS": 300}
    memory_store.set("sub-ada", {"userData": "changed at the IdP"})
    assert "changed at the IdP" not in client.get("/").content.decode()
    assert memory_store.calls == []
    UserData.objects.filter(pk=row.pk).update(pulled_at=timezone.now() - timedelta(seconds=301))
    assert "changed at the IdP</textarea>" in client.get("/").content.decode()
    assert memory_store.calls == ["fetch"]
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
        response = client.post("/userdata/", {"userData": text})
        assert response.status_code == 400 and "cannot be stored" in response.content.decode()
    assert UserData.objects.get(pk=row.pk).data == row.data


def test_database_error_is_a_clear_503(signed_in, monkeypatch):
    from django.db import OperationalError

    client, *_ = signed_in

    def broken(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr("userdata.sync.save_edit", broken)
    response = save_json(client, {"userData": "x"})
    assert response.status_code == 503 and "try again" in response.json()["error"]
    page = client.post("/userdata/", {"userData": "keep me"})
    assert page.status_code == 503 and "keep me</textarea>" in page.content.decode()
