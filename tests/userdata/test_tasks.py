"""userdata/tasks.py and the push machinery under it: guard, back-off, 429, coalescing, rate limit,
signals, sweeper. Eager here; tests/userdata/test_worker.py runs a real worker."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from userdata import mirror, push, ratelimit, signals, tasks
from userdata.models import SyncEvent, UserData
from userdata.stores.base import StoreError

pytestmark = pytest.mark.django_db


def pending_row(make_user, memory_store, text="edited"):
    remote = memory_store.set("sub-ada", {"userData": "base"}, "ada@example.com")
    user, row = make_user(data={"userData": "base"}, remote_version=remote.version)
    mirror.save_edit(user, text)
    return user, UserData.objects.get(pk=row.pk)


def test_read_succeeds_and_only_the_write_fails(make_user, memory_store, monkeypatch):
    user, row = pending_row(make_user, memory_store)

    def write_fails(subject, data, *, base=None):
        memory_store.calls.append("push")
        raise StoreError("Saving the registration: the IdP answered HTTP 500.", status=500)

    monkeypatch.setattr(memory_store, "push", write_fails)
    assert tasks.push_user_data.apply((row.pk,)).get() == "error"
    assert memory_store.calls == ["fetch", "push"]  # the read before the push went through
    row = UserData.objects.get(pk=row.pk)
    assert row.pending and row.user_text == "edited"
    assert "HTTP 500" in row.last_error and row.push_attempts == 1
    assert row.next_push_at > timezone.now() + timedelta(seconds=3)
    assert row.push_lease_until is None
    assert row.events.filter(kind=SyncEvent.Kind.ERROR).exists()
    assert memory_store.users["sub-ada"].data == {"userData": "base"}


def test_429_retry_after_sets_at_least_that_back_off(make_user, memory_store, monkeypatch):
    user, row = pending_row(make_user, memory_store)

    def limited(subject, data, *, base=None):
        raise StoreError("rate limited", status=429, retry_after=120)

    monkeypatch.setattr(memory_store, "push", limited)
    push.push(row)
    row = UserData.objects.get(pk=row.pk)
    assert row.next_push_at >= timezone.now() + timedelta(seconds=110)


def test_backoff_grows_exponentially_and_is_capped(settings):
    from userdata.history import backoff_seconds

    assert [backoff_seconds(n) for n in (1, 2, 3, 4)] == [5, 10, 20, 40]
    assert backoff_seconds(30) == 300


def test_the_guard_keeps_a_second_worker_off_the_row(make_user, memory_store):
    user, row = pending_row(make_user, memory_store)
    with push.guard(row.pk) as first:
        assert first
        assert push.push(row) == "busy"
        assert memory_store.calls == []
    assert push.push(row) == "pushed"


def test_a_bulk_chunk_leaves_a_row_another_worker_holds(make_user, memory_store):
    user, row = pending_row(make_user, memory_store)
    with push.guard(row.pk):
        summary = push.push_chunk([row.pk])
    assert (summary.changed, summary.skipped) == (0, 1)
    assert "push" not in memory_store.calls
    assert UserData.objects.get(pk=row.pk).pending


def test_an_expired_guard_of_a_killed_worker_is_taken_over(make_user, memory_store):
    user, row = pending_row(make_user, memory_store)
    UserData.objects.filter(pk=row.pk).update(
        push_lease_until=timezone.now() - timedelta(seconds=1)
    )
    assert push.push(row) == "pushed"


def test_a_task_for_a_deleted_row_ends_quietly(make_user, memory_store, caplog):
    user, row = pending_row(make_user, memory_store)
    UserData.objects.filter(pk=row.pk).delete()
    with caplog.at_level("INFO", logger="userdata.history"):
        assert tasks.push_user_data(row.pk) == "skipped"
        assert tasks.pull_user_data(row.pk) == "skipped"
    assert "no longer exists" in caplog.text


def test_a_burst_of_saves_is_one_queued_push_reading_the_last_text(
    make_user, memory_store, settings, monkeypatch
):
    settings.USERDATA = {**settings.USERDATA, "PUSH_DELAY": 2}
    queued = []
    monkeypatch.setattr(
        tasks.push_user_data, "apply_async", lambda args, countdown=None: queued.append(countdown)
    )
    user, row = pending_row(make_user, memory_store, "edit 0")
    for n in range(1, 20):
        mirror.save_edit(user, f"edit {n}")
        tasks.enqueue_push_task(row.pk)
    assert len(queued) == 1 and queued[0] >= 2
    assert push.push(row) == "pushed"
    assert memory_store.users["sub-ada"].data == {"userData": "edit 19"}
    assert memory_store.calls.count("push") == 1


def test_a_broker_that_is_down_loses_nothing(make_user, memory_store, monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379")

    monkeypatch.setattr(tasks.push_user_data, "apply_async", down)
    user, row = pending_row(make_user, memory_store)
    assert tasks.enqueue_push_task(row.pk) is False
    assert UserData.objects.get(pk=row.pk).pending  # committed; the sweeper will push it


def test_after_a_broker_failure_saves_skip_it_for_a_few_seconds(
    make_user, memory_store, monkeypatch
):
    """While the broker is down only the first save waits for its connection attempts."""
    attempts = []

    def down(*args, **kwargs):
        attempts.append(args)
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379")

    monkeypatch.setattr(tasks.push_user_data, "apply_async", down)
    monkeypatch.setattr(tasks.pull_user_data, "apply_async", down)
    user, row = pending_row(make_user, memory_store)
    assert tasks.enqueue_push_task(row.pk) is False
    assert tasks.enqueue_pull_task(row.pk) is False
    assert len(attempts) == 1
    # Ten seconds later the broker is tried again.
    monkeypatch.setattr(tasks, "_broker_failed_at", tasks._broker_failed_at - 11)
    monkeypatch.setattr(tasks.push_user_data, "apply_async", lambda *a, **k: None)
    cache.clear()
    assert tasks.enqueue_push_task(row.pk) is True
    assert tasks._broker_failed_at is None


def test_sweeper_pushes_what_is_due_and_skips_backing_off(make_user, memory_store):
    user, row = pending_row(make_user, memory_store)
    old = timezone.now() - timedelta(minutes=5)
    UserData.objects.filter(pk=row.pk).update(
        edited_at=old, next_push_at=timezone.now() + timedelta(minutes=1)
    )
    assert tasks.sweep_pending() == 0
    UserData.objects.filter(pk=row.pk).update(next_push_at=None)
    assert tasks.sweep_pending() == 1
    assert memory_store.users["sub-ada"].data == {"userData": "edited"}


def test_pull_stale_refreshes_old_mirrors(make_user, memory_store, settings):
    settings.USERDATA = {**settings.USERDATA, "STALE_SECONDS": 60}
    remote = memory_store.set("sub-ada", {"userData": "base"})
    user, row = make_user(
        data={"userData": "base"},
        remote_version=remote.version,
        pulled_at=timezone.now() - timedelta(hours=1),
    )
    memory_store.set("sub-ada", {"userData": "newer at the IdP"})
    assert tasks.pull_stale() == 1
    assert UserData.objects.get(pk=row.pk).user_text == "newer at the IdP"
    assert memory_store.calls.count("fetch_many") == 1
    assert tasks.pull_stale() == 0


def test_signals_report_push_outcomes(make_user, memory_store):
    seen = []

    def receiver(sender, row, ok, error, **kwargs):
        seen.append((ok, bool(error)))

    signals.data_pushed.connect(receiver)
    try:
        user, row = pending_row(make_user, memory_store)
        memory_store.down = True
        push.push(row)
        memory_store.down = False
        UserData.objects.filter(pk=row.pk).update(next_push_at=None)
        push.push(row)
    finally:
        signals.data_pushed.disconnect(receiver)
    assert seen == [(False, True), (True, False)]


@pytest.mark.parametrize(
    "rate, expected", [("10/s", (10, 1)), ("600/m", (600, 60)), ("5/10s", (5, 10)), ("", None)]
)
def test_parse_rate(rate, expected):
    assert ratelimit.parse_rate(rate) == expected


def test_parse_rate_refuses_nonsense():
    with pytest.raises(ValueError):
        ratelimit.parse_rate("fast")


def test_rate_limit_is_shared_through_the_cache(settings):
    settings.USERDATA = {**settings.USERDATA, "PUSH_RATE": "3/s"}
    now = [1000.2]
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    waits = [ratelimit.throttle("fa", sleep=sleep, clock=lambda: now[0]) for _ in range(4)]
    assert waits[:3] == [0.0, 0.0, 0.0] and waits[3] == pytest.approx(0.8)
    assert slept == [pytest.approx(0.8)]
