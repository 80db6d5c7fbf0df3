"""What a verified webhook does: apply the data it carries at once, or queue a pull when it names a
user without carrying the registration's data."""

import json
import time
import uuid

import pytest

from userdata.models import SyncEvent, UserData

from .test_webhooks import event, hook, post

__all__ = ["hook"]  # the fixture, used below by name
pytestmark = pytest.mark.django_db


def user_update(subject):
    return {
        "id": str(uuid.uuid4()),
        "type": "user.update",
        "createInstant": int(time.time() * 1000),
        "user": {"id": subject},
    }


def test_data_carried_is_applied_at_once(hook, make_user, memory_store):
    user, row = make_user(data={"userData": "old"}, remote_version=1)
    assert post(hook, event(data={"userData": "from the IdP"}, version=9)).json() == {
        "status": "applied"
    }
    row = UserData.objects.get(pk=row.pk)
    assert row.user_text == "from the IdP" and row.version == 1  # moved on: open pages see it
    assert memory_store.calls == []


def test_a_user_update_queues_a_pull(
    hook, make_user, memory_store, django_capture_on_commit_callbacks
):
    memory_store.set("sub-ada", {"userData": "read by the pull"}, "ada@example.com")
    user, row = make_user(data={"userData": "old"}, remote_version=1)
    body = json.dumps({"event": user_update("sub-ada")}).encode()
    with django_capture_on_commit_callbacks(execute=True):
        assert post(hook, body).json() == {"status": "queued"}
    assert memory_store.calls == ["fetch"]
    assert UserData.objects.get(pk=row.pk).user_text == "read by the pull"
    assert row.events.filter(kind=SyncEvent.Kind.PULL).exists()


def test_a_trimmed_registration_event_queues_a_pull(
    hook, make_user, memory_store, django_capture_on_commit_callbacks
):
    memory_store.set("sub-ada", {"userData": "full copy"})
    make_user(data={"userData": "old"}, remote_version=1)
    payload = json.loads(event())
    del payload["event"]["registration"]["data"]
    with django_capture_on_commit_callbacks(execute=True):
        assert post(hook, json.dumps(payload).encode()).json() == {"status": "queued"}
    assert UserData.objects.get(subject="sub-ada").user_text == "full copy"


def test_an_update_for_a_user_we_do_not_mirror_is_ignored(hook, memory_store):
    body = json.dumps({"event": user_update("nobody")}).encode()
    assert post(hook, body).json() == {"status": "ignored"}
    assert memory_store.calls == []
