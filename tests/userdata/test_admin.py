"""userdata/admin.py: list, filters, search, pretty data, history, and the staff actions."""

import pytest
from django.contrib.auth import get_user_model

from userdata import mirror, pull
from userdata.models import UserData

pytestmark = pytest.mark.django_db
URL = "/admin/userdata/userdata/"


@pytest.fixture
def staff(client, memory_store):
    admin = get_user_model().objects.create_superuser("boss", "boss@example.com", "x")
    client.force_login(admin)
    return client


@pytest.fixture
def rows(make_user, memory_store):
    ok_remote = memory_store.set("s-ok", {"userData": "fine"})
    _, ok = make_user(
        "ok@example.com", "s-ok", {"userData": "fine"}, remote_version=ok_remote.version
    )
    base = memory_store.set("s-c", {"userData": "base"})
    user, conflict = make_user(
        "c@example.com", "s-c", {"userData": "base"}, remote_version=base.version
    )
    mirror.save_edit(user, "<script>local</script>")
    memory_store.set("s-c", {"userData": "remote"})
    pull.pull(conflict)
    _, broken = make_user("err@example.com", "s-err", last_error="IdP answered HTTP 500.")
    return ok, UserData.objects.get(pk=conflict.pk), broken


def test_list_filters_and_search(staff, rows):
    html = staff.get(URL).content.decode()
    assert "ok@example.com" in html and "Conflict" in html and "IdP answered HTTP 500." in html
    conflict_only = staff.get(URL, {"state": "conflict"}).content.decode()
    assert "c@example.com" in conflict_only and "ok@example.com" not in conflict_only
    assert "err@example.com" in staff.get(URL, {"state": "error"}).content.decode()
    assert "c@example.com" in staff.get(URL, {"state": "pending"}).content.decode()
    found = staff.get(URL, {"q": "s-err"}).content.decode()
    assert "err@example.com" in found and "ok@example.com" not in found


def test_change_page_shows_both_versions_escaped_and_history(staff, rows):
    _, conflict, _ = rows
    html = staff.get(f"{URL}{conflict.pk}/change/").content.decode()
    assert "&lt;script&gt;local&lt;/script&gt;" in html and "<script>local" not in html
    assert "&quot;remote&quot;" in html
    assert "Conflict: the IdP" in html


def test_resolve_actions(staff, rows, memory_store, django_capture_on_commit_callbacks):
    _, conflict, _ = rows
    with django_capture_on_commit_callbacks(execute=True):  # the push task, queued on commit
        response = staff.post(URL, {"action": "keep_local", "_selected_action": [conflict.pk]})
    assert response.status_code == 302
    conflict.refresh_from_db()
    assert not conflict.has_conflict and not conflict.pending
    assert memory_store.users["s-c"].data == {"userData": "<script>local</script>"}


def test_pull_and_push_actions(staff, rows, memory_store):
    ok, _, _ = rows
    memory_store.set("s-ok", {"userData": "remote change"})
    staff.post(URL, {"action": "pull_now", "_selected_action": [ok.pk]})
    ok.refresh_from_db()
    assert ok.data == {"userData": "remote change"}
    UserData.objects.filter(pk=ok.pk).update(data={"userData": "local"}, pending=True)
    staff.post(URL, {"action": "push_now", "_selected_action": [ok.pk]})
    assert memory_store.users["s-ok"].data == {"userData": "local"}


def test_non_staff_cannot_see_admin(client, make_user):
    user, _ = make_user()
    client.force_login(user)
    assert client.get(URL).status_code == 302


def test_view_only_staff_sees_no_actions(client, rows):
    from django.contrib.auth.models import Permission

    viewer = get_user_model().objects.create_user("viewer", "v@example.com", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_userdata"))
    client.force_login(viewer)
    html = client.get(URL).content.decode()
    assert "c@example.com" in html and "keep_local" not in html
    _, conflict, _ = rows
    client.post(URL, {"action": "keep_local", "_selected_action": [conflict.pk]})
    assert UserData.objects.get(pk=conflict.pk).has_conflict
