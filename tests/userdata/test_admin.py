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


def _csrf(client, url):
    import re

    html = client.get(url).content.decode()
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


@pytest.fixture
def strict_staff(memory_store):
    from django.test import Client

    admin = get_user_model().objects.create_superuser("boss", "boss@example.com", "x")
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    return client


def test_conflict_page_shows_both_copies_side_by_side_with_differences_marked(staff, rows):
    _, conflict, _ = rows
    html = staff.get(f"{URL}{conflict.pk}/change/").content.decode()
    assert "Conflict to resolve" in html
    assert "On this site (the local edit)" in html and "At the identity provider" in html
    assert "<mark>&lt;script&gt;local&lt;/script&gt;</mark>" in html
    assert "<mark>remote</mark>" in html
    assert 'name="keep" value="local"' in html and 'name="keep" value="remote"' in html
    assert 'name="_save"' not in html and 'name="_continue"' not in html
    assert "epoch ms" not in html and "edit seq" not in html.lower()


@pytest.mark.parametrize(
    ("keep", "expected"),
    [("local", "<script>local</script>"), ("remote", "remote")],
)
def test_resolve_from_the_change_page_posts_with_csrf(
    strict_staff, rows, memory_store, keep, expected, django_capture_on_commit_callbacks
):
    _, conflict, _ = rows
    page = f"{URL}{conflict.pk}/change/"
    refused = strict_staff.post(f"{URL}{conflict.pk}/resolve/", {"keep": keep})
    assert refused.status_code == 403
    assert UserData.objects.get(pk=conflict.pk).has_conflict
    token = _csrf(strict_staff, page)
    with django_capture_on_commit_callbacks(execute=True):  # the push task, queued on commit
        response = strict_staff.post(
            f"{URL}{conflict.pk}/resolve/",
            {"keep": keep, "csrfmiddlewaretoken": token},
            follow=True,
        )
    assert response.redirect_chain[-1][0] == page
    conflict.refresh_from_db()
    assert not conflict.has_conflict and conflict.data == {"userData": expected}
    assert memory_store.users["s-c"].data == {"userData": expected}
    html = response.content.decode()
    assert "c@example.com" in html and "Conflict to resolve" not in html
    again = strict_staff.post(
        f"{URL}{conflict.pk}/resolve/", {"keep": keep, "csrfmiddlewaretoken": token}, follow=True
    )
    assert "already resolved" in again.content.decode()


def test_resolve_refuses_get_bad_choices_and_view_only_staff(client, staff, rows):
    from django.contrib.auth.models import Permission

    _, conflict, _ = rows
    resolve = f"{URL}{conflict.pk}/resolve/"
    assert staff.get(resolve).status_code == 405
    bad = staff.post(resolve, {"keep": "both"}, follow=True)
    assert "Choose to keep the local edit" in bad.content.decode()
    assert UserData.objects.get(pk=conflict.pk).has_conflict
    viewer = get_user_model().objects.create_user("viewer", "v@example.com", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_userdata"))
    client.force_login(viewer)
    assert 'name="keep"' not in client.get(f"{URL}{conflict.pk}/change/").content.decode()
    assert client.post(resolve, {"keep": "remote"}).status_code == 403
    assert UserData.objects.get(pk=conflict.pk).has_conflict


def test_history_is_paged_with_readable_times(staff, rows):
    from userdata.models import SyncEvent

    ok, _, _ = rows
    SyncEvent.objects.bulk_create(
        SyncEvent(userdata=ok, kind="pull", message=f"event {n}", remote_version=1_700_000_000_000)
        for n in range(25)
    )
    first = staff.get(f"{URL}{ok.pk}/change/").content.decode()
    assert first.count("<time datetime=") == 20
    assert "Page 1 of 2 (25 events)" in first and "?history=2" in first
    assert "UTC (" in first and "changed 14 Nov 2023, 22:13 UTC" in first
    second = staff.get(f"{URL}{ok.pk}/change/", {"history": 2}).content.decode()
    assert second.count("<time datetime=") == 5 and "?history=1" in second
    assert staff.get(f"{URL}{ok.pk}/change/", {"history": "x"}).status_code == 200


def test_list_names_people_and_labels_filters_in_words(staff, rows):
    html = staff.get(URL).content.decode()
    for label in ("Waiting to be sent", "Conflict to resolve", "Last sync failed"):
        assert label in html
    assert "last read" in html.lower() and "last sent" in html.lower()


def test_a_stale_error_is_cleared_by_the_next_successful_pull(rows, memory_store):
    ok, _, broken = rows
    memory_store.down = True
    assert pull.pull(ok) == "error"
    ok.refresh_from_db()
    assert "unreachable" in ok.last_error
    memory_store.down = False
    memory_store.set("s-err", {"userData": "back"})
    pull.pull_all()
    for row in (ok, broken):
        row.refresh_from_db()
        assert row.last_error == "" and row.sync_state.label == "Synced"


def test_a_row_with_an_unsent_edit_or_a_conflict_cannot_be_deleted(staff, rows):
    ok, conflict, _ = rows
    assert (
        f"{URL}{conflict.pk}/delete/"
        not in staff.get(f"{URL}{conflict.pk}/change/").content.decode()
    )
    assert staff.post(f"{URL}{conflict.pk}/delete/", {"post": "yes"}).status_code == 403
    assert UserData.objects.filter(pk=conflict.pk).exists()
    assert "delete_selected" not in staff.get(URL).content.decode()
    assert f"{URL}{ok.pk}/delete/" in staff.get(f"{URL}{ok.pk}/change/").content.decode()
