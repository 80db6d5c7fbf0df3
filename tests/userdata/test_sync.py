"""The sync engine (mirror, pull, push, conflicts): pull never loses local edits, push is
idempotent, conflicts follow the policy."""

import pytest
from django.db.models import F

from userdata import conflicts, mirror, pull, push
from userdata.models import SyncEvent, UserData

pytestmark = pytest.mark.django_db


def synced_row(make_user, memory_store, data, **kw):
    remote = memory_store.set("sub-ada", data, "ada@example.com")
    user, row = make_user(data=data, remote_version=remote.version, **kw)
    return user, row


def test_pull_takes_remote_data_when_nothing_waits(make_user, memory_store):
    user, row = synced_row(make_user, memory_store, {"userData": "old"})
    memory_store.set("sub-ada", {"userData": "new", "plan": "gold"})
    assert pull.pull(row) == "changed"
    row.refresh_from_db()
    assert row.data == {"userData": "new", "plan": "gold"}
    assert row.remote_version == memory_store.users["sub-ada"].version
    assert row.pulled_at is not None
    assert row.events.filter(kind=SyncEvent.Kind.PULL).exists()


def test_pull_never_overwrites_pending_local_edit(make_user, memory_store):
    user, row = synced_row(make_user, memory_store, {"userData": "old"})
    memory_store.down = True
    mirror.save_edit(user, "typed locally")
    assert pull.pull(row) == "error"
    memory_store.down = False
    assert pull.pull(row) == "unchanged"
    row.refresh_from_db()
    assert row.pending and row.data["userData"] == "typed locally"


def test_save_edit_commits_locally_and_push_delivers(make_user, memory_store):
    user, row = synced_row(make_user, memory_store, {"userData": "old", "keep": 1})
    row = mirror.save_edit(user, "hello")
    assert row.pending and row.edit_seq == 1
    assert push.push(row) == "pushed"
    row.refresh_from_db()
    assert not row.pending and row.pushed_at is not None
    assert memory_store.users["sub-ada"].data == {"userData": "hello", "keep": 1}
    assert row.remote_version == memory_store.users["sub-ada"].version
    assert row.sync_state == "synced"


def test_push_failure_keeps_edit_pending_with_backoff(make_user, memory_store):
    user, row = synced_row(make_user, memory_store, {"userData": "old"})
    mirror.save_edit(user, "survives an outage")
    memory_store.down = True
    assert push.push(row) == "error"
    row.refresh_from_db()
    assert row.pending and row.data["userData"] == "survives an outage"
    assert "unreachable" in row.last_error and row.next_push_at is not None
    calls = len(memory_store.calls)
    assert not UserData.objects.due().filter(pk=row.pk).exists()  # backing off
    assert len(memory_store.calls) == calls
    memory_store.down = False
    assert push.push(row) == "pushed"
    assert memory_store.users["sub-ada"].data["userData"] == "survives an outage"


def test_retried_push_is_idempotent(make_user, memory_store):
    user, row = synced_row(make_user, memory_store, {"userData": "old"})
    mirror.save_edit(user, "once")
    push.push(row)
    version = memory_store.users["sub-ada"].version
    UserData.objects.filter(pk=row.pk).update(pending=True)
    assert push.push(row) == "pushed"
    assert memory_store.users["sub-ada"].version == version
    assert memory_store.users["sub-ada"].data == {"userData": "once"}


def test_edit_during_push_stays_pending(make_user, memory_store):
    user, row = synced_row(make_user, memory_store, {"userData": "old"})
    mirror.save_edit(user, "first")
    original = memory_store.push

    def push_then_user_types(subject, data, *, base=None):
        result = original(subject, data, base=base)
        mirror.save_edit(user, "second")
        return result

    memory_store.push = push_then_user_types
    push.push(row, verify=False)
    row.refresh_from_db()
    assert row.pending and row.data["userData"] == "second"
    assert row.remote_data == {"userData": "first"}


def test_manual_conflict_records_both_versions_and_blocks_push(make_user, memory_store):
    user, row = synced_row(make_user, memory_store, {"userData": "base"})
    mirror.save_edit(user, "local edit")
    memory_store.set("sub-ada", {"userData": "remote edit"})
    assert push.push(row) == "conflict"
    row.refresh_from_db()
    assert row.sync_state == "conflict"
    assert row.data["userData"] == "local edit"
    assert row.conflict_remote_data == {"userData": "remote edit"}
    assert memory_store.users["sub-ada"].data == {"userData": "remote edit"}
    event = row.events.get(kind=SyncEvent.Kind.CONFLICT)
    assert event.detail["local"] == {"userData": "local edit"}
    assert event.detail["remote"] == {"userData": "remote edit"}
    assert push.push(row) == "conflict"
    assert not UserData.objects.due().filter(pk=row.pk).exists()


@pytest.mark.parametrize(
    "keep, expected_remote", [("local", "local edit"), ("remote", "remote edit")]
)
def test_staff_resolves_conflict(
    make_user, memory_store, keep, expected_remote, django_capture_on_commit_callbacks
):
    user, row = synced_row(make_user, memory_store, {"userData": "base"})
    mirror.save_edit(user, "local edit")
    memory_store.set("sub-ada", {"userData": "remote edit"})
    pull.pull(row)
    with django_capture_on_commit_callbacks(execute=True) as queued:
        conflicts.resolve_conflict(UserData.objects.get(pk=row.pk), keep, actor="staff")
    assert len(queued) == (keep == "local")  # keeping the local edit queues its push
    row = UserData.objects.get(pk=row.pk)
    assert not row.has_conflict and not row.pending
    assert row.data["userData"] == expected_remote
    assert memory_store.users["sub-ada"].data["userData"] == expected_remote
    assert row.events.filter(kind=SyncEvent.Kind.RESOLVE).count() == 1


def test_policy_local_wins_pushes_local(make_user, memory_store, settings):
    settings.USERDATA = {**settings.USERDATA, "CONFLICT_POLICY": "local_wins"}
    user, row = synced_row(make_user, memory_store, {"userData": "base"})
    mirror.save_edit(user, "local edit")
    memory_store.set("sub-ada", {"userData": "remote edit"})
    assert push.push(row) == "pushed"
    assert memory_store.users["sub-ada"].data["userData"] == "local edit"
    assert row.events.filter(kind=SyncEvent.Kind.CONFLICT).count() == 1


def test_policy_remote_wins_keeps_local_in_history(make_user, memory_store, settings):
    settings.USERDATA = {**settings.USERDATA, "CONFLICT_POLICY": "remote_wins"}
    user, row = synced_row(make_user, memory_store, {"userData": "base"})
    mirror.save_edit(user, "local edit")
    memory_store.set("sub-ada", {"userData": "remote edit"})
    assert pull.pull(row) == "conflict"
    row.refresh_from_db()
    assert row.data["userData"] == "remote edit" and not row.pending
    event = row.events.get(kind=SyncEvent.Kind.CONFLICT)
    assert event.detail["local"] == {"userData": "local edit"}


def test_echo_of_own_push_is_not_a_conflict(make_user, memory_store):
    user, row = synced_row(make_user, memory_store, {"userData": "base"})
    mirror.save_edit(user, "pushed text")
    UserData.objects.filter(pk=row.pk).update(pushed_data=F("data"))
    remote = memory_store.set("sub-ada", {"userData": "pushed text"})
    mirror.save_edit(user, "typed after push")
    assert pull.apply_fetched(row.pk, remote, source="webhook") == "echo"
    row.refresh_from_db()
    assert not row.has_conflict and row.pending
    assert row.remote_version == remote.version


def test_a_push_that_finds_its_last_write_echoed_still_sends_the_newer_edit(
    make_user, memory_store
):
    """The IdP holds what the previous push sent (its result not yet recorded here) and the user
    typed since: the push must send the newer text, not stop at the echo."""
    user, row = synced_row(make_user, memory_store, {"userData": "base"})
    mirror.save_edit(user, "pushed text")
    UserData.objects.filter(pk=row.pk).update(pushed_data=F("data"))
    memory_store.set("sub-ada", {"userData": "pushed text"})
    mirror.save_edit(user, "typed after push")
    assert push.push(row) == "pushed"
    assert memory_store.users["sub-ada"].data["userData"] == "typed after push"
    row.refresh_from_db()
    assert not row.pending and not row.has_conflict


def test_a_push_whose_text_is_already_at_the_idp_records_it_without_writing(
    make_user, memory_store
):
    """A worker stopped after its write reached the IdP and before recording it: the next push
    finds the text there, writes nothing and leaves a history row."""
    user, row = synced_row(make_user, memory_store, {"userData": "base"})
    mirror.save_edit(user, "delivered")
    memory_store.set("sub-ada", {"userData": "delivered"})
    memory_store.calls.clear()
    assert push.push(row) == "pushed"
    assert memory_store.calls == ["fetch"]
    row.refresh_from_db()
    assert not row.pending
    assert row.events.filter(kind=SyncEvent.Kind.PUSH, message="Already at the IdP.").exists()


def test_a_webhook_or_verifying_read_that_changes_nothing_writes_nothing(
    make_user, memory_store, django_assert_num_queries
):
    user, row = synced_row(make_user, memory_store, {"userData": "base"})
    row.refresh_from_db()
    older = memory_store.users["sub-ada"]
    stale = older.__class__(older.subject, {"userData": "older"}, older.version - 1, older.email)
    # The lock, and nothing else: an older copy changes no field.
    with django_assert_num_queries(1):
        assert pull.apply_fetched(row.pk, stale, source="webhook") == "unchanged"


def test_pull_all_pages_creates_and_updates(make_user, memory_store):
    user, row = synced_row(make_user, memory_store, {"userData": "a"})
    for n in range(5):
        memory_store.set(f"sub-{n}", {"userData": str(n)}, f"u{n}@example.com")
    memory_store.set("sub-ada", {"userData": "changed remotely"})
    summary = pull.pull_all()
    assert (summary.total, summary.changed, summary.errors) == (6, 6, 0)
    assert UserData.objects.count() == 6
    assert UserData.objects.get(subject="sub-3").email == "u3@example.com"
    row.refresh_from_db()
    assert row.data["userData"] == "changed remotely"
    again = pull.pull_all()
    assert again.changed == 0 and again.total == 6


def test_pull_all_dry_run_changes_nothing(make_user, memory_store):
    memory_store.set("sub-x", {"userData": "x"})
    summary = pull.pull_all(dry_run=True)
    assert summary.total == 1 and summary.changed == 1
    assert not UserData.objects.exists()


def test_push_chunk_concurrent_and_conflicts(make_user, memory_store):
    rows = []
    for n in range(6):
        remote = memory_store.set(f"s{n}", {"userData": "base"})
        user, row = make_user(
            email=f"u{n}@example.com",
            subject=f"s{n}",
            data={"userData": "base"},
            remote_version=remote.version,
        )
        mirror.save_edit(user, f"edit {n}")
        rows.append(row)
    memory_store.set("s5", {"userData": "remote moved"})
    summary = push.push_chunk(list(UserData.objects.pushable().values_list("pk", flat=True)))
    assert (summary.total, summary.changed, summary.conflicts, summary.errors) == (5, 5, 1, 0)
    assert memory_store.users["s0"].data == {"userData": "edit 0"}
    assert memory_store.users["s5"].data == {"userData": "remote moved"}
    assert UserData.objects.filter(pending=True).count() == 1
    assert memory_store.calls.count("fetch_many") == 1


def test_push_chunk_dry_run_sends_nothing(make_user, memory_store):
    remote = memory_store.set("s1", {"userData": "base"})
    user, row = make_user(subject="s1", data={"userData": "base"}, remote_version=remote.version)
    mirror.save_edit(user, "edit")
    summary = push.push_chunk([row.pk], dry_run=True)
    assert summary.total == 1 and "push" not in memory_store.calls
    assert UserData.objects.get(pk=row.pk).pending


def test_push_chunk_reraises_a_worker_bug_and_keeps_the_edit(make_user, memory_store, monkeypatch):
    remote = memory_store.set("s1", {"userData": "base"})
    user, row = make_user(subject="s1", data={"userData": "base"}, remote_version=remote.version)
    mirror.save_edit(user, "edit")

    def broken(subject, data, *, base=None):
        raise RuntimeError("bug in a store")

    monkeypatch.setattr(memory_store, "push", broken)
    with pytest.raises(RuntimeError, match="bug in a store"):
        push.push_chunk([row.pk])
    row = UserData.objects.get(pk=row.pk)
    assert row.pending and row.data == {"userData": "edit"}
    assert row.push_lease_until is None  # the guard is released on the way out


def test_save_edit_rejects_over_limit(make_user, memory_store, settings):
    settings.USERDATA = {**settings.USERDATA, "MAX_BYTES": 10}
    user, row = synced_row(make_user, memory_store, {})
    with pytest.raises(mirror.EditTooLarge):
        mirror.save_edit(user, "é" * 6)
    assert not UserData.objects.get(pk=row.pk).pending


def test_remote_deletion_keeps_history(make_user, memory_store):
    user, row = synced_row(make_user, memory_store, {"userData": "x"})
    assert conflicts.apply_remote_deleted("sub-ada", what="The IdP deleted the user.") == "changed"
    row.refresh_from_db()
    assert not row.registered and row.sync_state == "not_registered"
    assert row.events.get(kind="webhook").detail["local"] == {"userData": "x"}
    assert push.push(row) == "unchanged"


def test_unregistered_user_is_an_error_not_a_crash(make_user, memory_store):
    user, row = make_user(subject="unknown")
    assert pull.pull(row) == "error"
    row.refresh_from_db()
    assert not row.registered and "not registered" in row.last_error


def test_late_older_copy_never_rolls_back(make_user, memory_store):
    user, row = synced_row(make_user, memory_store, {"userData": "base"})
    mirror.save_edit(user, "A")
    push.push(row)
    older = memory_store.fetch("sub-ada")
    mirror.save_edit(user, "B")
    push.push(row)
    assert pull.apply_fetched(row.pk, older, source="webhook") == "unchanged"
    row.refresh_from_db()
    assert row.data == {"userData": "B"} and not row.pending
