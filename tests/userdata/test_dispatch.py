"""userdata/dispatch.py: work goes to the Celery workers when the project runs them, else it runs in
the process that asked (a project that installed the apps without Celery still syncs)."""

import pytest

from userdata import dispatch, mirror, tasks
from userdata.checks import check_userdata_settings
from userdata.models import UserData

pytestmark = pytest.mark.django_db


def edited(make_user, memory_store):
    remote = memory_store.set("sub-ada", {"userData": "base"})
    user, row = make_user(data={"userData": "base"}, remote_version=remote.version)
    return user, row


def test_auto_uses_the_workers_when_a_broker_is_configured(settings, monkeypatch):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/0"
    assert dispatch.use_workers()
    settings.CELERY_BROKER_URL = ""
    assert not dispatch.use_workers()
    settings.USERDATA = {**settings.USERDATA, "TASKS": "celery"}
    assert dispatch.use_workers()


def test_without_workers_a_save_is_pushed_in_this_process(
    settings, make_user, memory_store, monkeypatch, django_capture_on_commit_callbacks
):
    settings.USERDATA = {**settings.USERDATA, "TASKS": "inline"}

    def no_queue(*args, **kwargs):
        raise AssertionError("nothing is queued without workers")

    monkeypatch.setattr(tasks.push_user_data, "apply_async", no_queue)
    user, row = edited(make_user, memory_store)
    with django_capture_on_commit_callbacks(execute=True):
        mirror.save_edit(user, "pushed inline")
    assert memory_store.users["sub-ada"].data == {"userData": "pushed inline"}
    assert not UserData.objects.get(pk=row.pk).pending


def test_a_bad_tasks_setting_is_a_check_error(settings):
    settings.USERDATA = {**settings.USERDATA, "TASKS": "threads"}
    assert "userdata.E011" in [m.id for m in check_userdata_settings()]


@pytest.mark.django_db(transaction=True)  # commits for real, so on_commit runs inside the request
def test_without_workers_the_save_answer_says_saved(settings, client, make_user, memory_store):
    settings.USERDATA = {**settings.USERDATA, "TASKS": "inline"}
    user, row = edited(make_user, memory_store)
    client.force_login(user)
    response = client.post(
        "/userdata/",
        {"userData": "now", "version": row.version},
        content_type="application/json",
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 200 and response.json()["state"] == "saved"
    assert memory_store.users["sub-ada"].data == {"userData": "now"}
