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
