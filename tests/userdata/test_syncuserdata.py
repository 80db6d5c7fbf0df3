"""userdata/management/commands/syncuserdata.py: pull, push, status, --user, --dry-run, --json."""

import json

import pytest
from django.core.management import CommandError, call_command

from userdata import mirror, push
from userdata.models import UserData

pytestmark = pytest.mark.django_db


def run(*args):
    import io

    out, err = io.StringIO(), io.StringIO()
    code = 0
    try:
        call_command("syncuserdata", *args, stdout=out, stderr=err)
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue(), err.getvalue()


def test_pull_summary_line(memory_store):
    for n in range(3):
        memory_store.set(f"s{n}", {"userData": str(n)})
    code, out, _ = run("pull")
    assert code == 0
    assert out.startswith("pulled 3, changed 3, conflicts 0, errors 0 in ")
    assert UserData.objects.count() == 3


def test_push_json_and_exit_status(memory_store, make_user):
    remote = memory_store.set("sub-ada", {"userData": "a"})
    user, row = make_user(data={"userData": "a"}, remote_version=remote.version)
    mirror.save_edit(user, "b")
    code, out, _ = run("push", "--json", "--inline")
    result = json.loads(out)
    assert code == 0 and result["changed"] == 1 and result["errors"] == 0
    mirror.save_edit(user, "c")
    memory_store.down = True
    code, out, _ = run("push", "--json", "--inline")
    assert code == 1 and json.loads(out)["errors"] == 1


def test_push_after_outage_delivers(memory_store, make_user):
    remote = memory_store.set("sub-ada", {"userData": "a"})
    user, row = make_user(data={"userData": "a"}, remote_version=remote.version)
    memory_store.down = True
    mirror.save_edit(user, "typed while down")
    assert push.push(row) == "error"
    memory_store.down = False
    code, out, _ = run("push", "--user", "ada@example.com")
    assert code == 0 and out.startswith("pushed 1, changed 1")
    assert memory_store.users["sub-ada"].data == {"userData": "typed while down"}


def test_status_and_user_filter(memory_store, make_user):
    make_user()
    make_user("b@example.com", "sub-b", pending=True)
    code, out, _ = run("status")
    assert out.strip() == ("users 2, waiting to push 1, conflicts 0, errors 0, not registered 0")
    code, out, _ = run("status", "--user", "sub-b", "--json")
    assert json.loads(out)["total"] == 1


def test_pull_one_user_and_dry_run(memory_store, make_user):
    remote = memory_store.set("sub-ada", {"userData": "a"})
    user, row = make_user(data={"userData": "a"}, remote_version=remote.version)
    memory_store.set("sub-ada", {"userData": "z"})
    code, out, _ = run("pull", "--user", "sub-ada", "--dry-run")
    assert UserData.objects.get(pk=row.pk).data == {"userData": "a"}
    code, out, _ = run("pull", "--user", "sub-ada")
    assert out.startswith("pulled 1, changed 1")
    assert UserData.objects.get(pk=row.pk).data == {"userData": "z"}


def test_unknown_user_and_bad_workers(memory_store):
    with pytest.raises(CommandError, match="No user data"):
        call_command("syncuserdata", "pull", "--user", "nobody@example.com")
    with pytest.raises(CommandError, match="--workers"):
        call_command("syncuserdata", "push", "--workers", "0")


def test_pull_prunes_old_webhook_ids(memory_store):
    from datetime import timedelta

    from django.utils import timezone

    from userdata.models import ProcessedWebhook

    old = ProcessedWebhook.objects.create(event_id="old", event_type="user.delete")
    ProcessedWebhook.objects.filter(pk=old.pk).update(
        received_at=timezone.now() - timedelta(days=8)
    )
    ProcessedWebhook.objects.create(event_id="new", event_type="user.delete")
    run("pull")
    assert list(ProcessedWebhook.objects.values_list("event_id", flat=True)) == ["new"]


def test_push_fans_out_as_chunked_tasks(memory_store, make_user):
    for n in range(5):
        remote = memory_store.set(f"s{n}", {"userData": "a"})
        user, _ = make_user(
            email=f"u{n}@example.com",
            subject=f"s{n}",
            data={"userData": "a"},
            remote_version=remote.version,
        )
        mirror.save_edit(user, f"b{n}")
    code, out, _ = run("push", "--json", "--chunk", "2")  # the tasks run eagerly here
    result = json.loads(out)
    assert code == 0 and result["tasks"] == 3 and result["total"] == 5 and result["changed"] == 5
    assert memory_store.calls.count("fetch_many") == 3
    assert all(memory_store.users[f"s{n}"].data == {"userData": f"b{n}"} for n in range(5))


def test_dry_run_lists_whom_it_would_touch_and_changes_nothing(memory_store, make_user):
    remote = memory_store.set("sub-ada", {"userData": "a"}, "ada@example.com")
    user, row = make_user(data={"userData": "a"}, remote_version=remote.version)
    mirror.save_edit(user, "b")
    code, out, _ = run("push", "--dry-run")
    assert code == 0 and "would push: ada@example.com" in out
    assert "push" not in memory_store.calls and UserData.objects.get(pk=row.pk).pending
    memory_store.set("new-sub", {"userData": "x"}, "new@example.com")
    code, out, _ = run("pull", "--dry-run", "--json")
    assert sorted(json.loads(out)["users"]) == ["ada@example.com", "new@example.com"]
    assert not UserData.objects.filter(subject="new-sub").exists()


def test_pull_all_pages_are_folded_in_by_tasks(memory_store):
    for n in range(5):
        memory_store.set(f"s{n}", {"userData": str(n)}, f"u{n}@example.com")
    code, out, _ = run("pull", "--json")
    result = json.loads(out)
    assert code == 0 and result["tasks"] == 3 and result["total"] == 5 and result["changed"] == 5
    assert UserData.objects.get(subject="s4").user_text == "4"


def test_waiting_for_workers_that_never_come_is_an_error_not_a_hang(
    memory_store, make_user, monkeypatch
):
    from userdata import tasks

    monkeypatch.setattr(tasks.push_chunk, "delay", lambda ids: None)  # no worker runs
    remote = memory_store.set("sub-ada", {"userData": "a"})
    user, row = make_user(data={"userData": "a"}, remote_version=remote.version)
    mirror.save_edit(user, "b")
    code, _, err = run("push", "--wait", "0.5")
    assert code == 1 and "are workers running" in err
