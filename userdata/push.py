"""Push: local edits to the IdP, one user at a time under a per-user guard, or a chunk of users.

A push reads the row when it runs (so a burst of saves coalesces into one write of the latest text),
first reads the IdP's copy so a change made there becomes a conflict rather than being overwritten,
and only clears `pending` when no edit arrived while it was on its way. No HTTP call runs inside a
database transaction.
"""

import contextlib
import time
from datetime import timedelta

from django.db import transaction
from django.db.models import BigIntegerField, Case, F, Q, Value, When
from django.utils import timezone

from . import ratelimit, signals, stores
from .conf import userdata_settings
from .history import Summary, note_missing, record_error, requests_made
from .models import ChangedFrom, SyncEvent, UserData
from .pull import fold_in
from .reconcile import ROW_FIELDS, apply_remote
from .stores.base import NotRegistered, StoreError, is_older

# Results are stored this many at a time: one transaction per batch, not per push.
RECORD_BATCH = 50


@contextlib.contextmanager
def guard(row_id):
    """The per-user guard: a lease on the row taken with one conditional UPDATE, so two workers
    (on any machine) never push one row at once. Yields False when another worker holds it; a
    killed worker's lease expires after PUSH_LEASE_SECONDS."""
    now = timezone.now()
    until = now + timedelta(seconds=userdata_settings.PUSH_LEASE_SECONDS)
    held = (
        UserData.objects.filter(pk=row_id)
        .filter(Q(push_lease_until__isnull=True) | Q(push_lease_until__lt=now))
        .update(push_lease_until=until)
    )
    try:
        yield bool(held)
    finally:
        if held:
            UserData.objects.filter(pk=row_id, push_lease_until=until).update(push_lease_until=None)


def push(row, *, verify=True):
    """Send the row's pending edits to the IdP under its guard; return the outcome:
    "pushed", "unchanged", "conflict", "skipped", "error" or "busy" (another worker holds it).

    With `verify` it first reads the IdP's copy so a remote change made since the last sync
    becomes a conflict instead of being overwritten.
    """
    with guard(row.pk) as held:
        if not held:
            exists = UserData.objects.filter(pk=row.pk).exists()
            return "busy" if exists else _missing(row.pk)
        return _push_held(row.pk, verify=verify)


def _missing(row_id):
    note_missing(row_id, "push")
    return "skipped"


def _push_held(row_id, *, verify):
    row = UserData.objects.filter(pk=row_id).first()
    if row is None:
        return _missing(row_id)
    if not row.pending:
        return "unchanged"
    if row.has_conflict:
        return "conflict"
    if not row.subject or not row.registered:
        return "skipped"
    store = stores.get_store()
    if verify and store.has_remote:
        try:
            remote = store.fetch(row.subject)
        except StoreError as exc:
            return _failed(row, exc)
        # One locked read-and-write: the IdP's copy folded in, and what is about to be sent noted.
        outcome, row = fold_in(row.pk, remote, source=SyncEvent.Kind.PUSH, sending=True)
        if row is None:
            return _missing(row_id)
        if outcome == "echo" and not row.pending:
            # An earlier attempt's write arrived (its worker stopped before recording it): the
            # history says so, as it would have.
            SyncEvent.objects.create(
                userdata_id=row.pk,
                kind=SyncEvent.Kind.PUSH,
                message="Already at the IdP.",
                remote_version=row.remote_version,
            )
            signals.data_pushed.send(UserData, row=row, ok=True, error="")
            return "pushed"
        if not row.pending:
            return "conflict" if outcome == "conflict" else "unchanged"
        if row.has_conflict:
            return "conflict"
    else:
        # What is about to be sent, to recognise its webhook echo.
        UserData.objects.filter(pk=row.pk).update(pushed_data=row.data)
    ratelimit.throttle(store.name)
    try:
        result = store.push(row.subject, row.data, base=row.remote_data)
    except StoreError as exc:
        return _failed(row, exc)
    record_pushes([(row.pk, row.edit_seq, result)])
    signals.data_pushed.send(UserData, row=row, ok=True, error="")
    return "pushed"


def _failed(row, exc):
    """Keep the edit pending with the error and a back-off (longer when the IdP sent 429)."""
    record_error(
        row.pk,
        str(exc),
        push=True,
        unregistered=isinstance(exc, NotRegistered),
        retry_after=getattr(exc, "retry_after", None),
    )
    signals.data_pushed.send(UserData, row=row, ok=False, error=str(exc))
    return "error"


def record_pushes(results):
    """Store successful pushes: (row id, edit_seq sent, RemoteData returned).

    An edit made while the push was in flight stays pending, and a newer remote version already
    recorded (by a webhook) is not rolled back. The usual case (nothing typed meanwhile, the IdP
    holding exactly what was sent) is one UPDATE for the whole batch, the versions in one CASE; the
    others get an UPDATE each. All in one transaction.
    """
    now = timezone.now()
    with transaction.atomic():
        state = {
            pk: (seq, version, data)
            for pk, seq, version, data in UserData.objects.select_for_update()
            .filter(pk__in=[item[0] for item in results])
            .values_list("pk", "edit_seq", "remote_version", "data")
        }
        events = []
        delivered = {}  # row id -> the version the IdP gave what was sent
        for row_id, seq, result in results:
            if row_id not in state:
                note_missing(row_id, "push result")
                continue
            current_seq, current_version, data = state[row_id]
            events.append(
                SyncEvent(
                    userdata_id=row_id,
                    kind=SyncEvent.Kind.PUSH,
                    message="Pushed.",
                    remote_version=result.version,
                )
            )
            values = {"pushed_at": now, "push_attempts": 0, "next_push_at": None, "last_error": ""}
            newer = not is_older(result.version, current_version)
            if current_seq == seq and newer and result.data == data:
                delivered[row_id] = result.version
                continue
            if newer:
                values.update(remote_data=result.data, remote_version=result.version)
            if current_seq == seq:
                values.update(pending=False, pushed_data=None)
                if newer and result.data != data:
                    # The IdP holds more than we sent (another app's keys): show what it holds.
                    values.update(
                        data=result.data,
                        edit_seq=seq + 1,
                        changed_at=now,
                        changed_from=ChangedFrom.IDP,
                    )
            UserData.objects.filter(pk=row_id).update(**values)
        if delivered:
            versions = [When(pk=pk, then=Value(version)) for pk, version in delivered.items()]
            UserData.objects.filter(pk__in=list(delivered)).update(
                remote_version=Case(*versions, output_field=BigIntegerField()),
                remote_data=F("data"),
                pending=False,
                pushed_data=None,
                pushed_at=now,
                push_attempts=0,
                next_push_at=None,
                last_error="",
            )
        SyncEvent.objects.bulk_create(events, batch_size=500)


def push_chunk(ids, *, dry_run=False):
    """Push a chunk of rows: one bulk read of the IdP's copies (so remote changes become
    conflicts), the guards of the rows still safe to push taken in one UPDATE, then one write per
    row at the IdP, the results stored in bulk. Returns the chunk's Summary."""
    started = time.perf_counter()
    summary = Summary("push", dry_run=dry_run)
    store = stores.get_store()
    before = requests_made(store)
    ready = verify_chunk(store, ids, summary, dry_run=dry_run)
    summary.total = len(ready)
    if dry_run:
        summary.users = [row.email or row.subject for row in ready]
    elif ready:
        with chunk_guard([row.pk for row in ready]) as held:
            summary.skipped = len(ready) - len(held)
            results = []
            for row in (row for row in ready if row.pk in held):
                ratelimit.throttle(store.name)
                try:
                    result = store.push(row.subject, row.data, base=row.remote_data)
                except StoreError as exc:
                    summary.errors += 1
                    summary.note(str(exc))
                    _failed(row, exc)
                    continue
                results.append((row.pk, row.edit_seq, result))
                summary.changed += 1
                if len(results) >= RECORD_BATCH:
                    record_pushes(results)
                    results = []
            if results:
                record_pushes(results)
        for row in ready:
            if row.pk in held:
                signals.data_pushed.send(UserData, row=row, ok=True, error="")
    summary.requests = requests_made(store) - before
    summary.seconds = time.perf_counter() - started
    return summary


@contextlib.contextmanager
def chunk_guard(ids):
    """The guards of many rows in one UPDATE; yields the ids held (others are being pushed)."""
    now = timezone.now()
    until = now + timedelta(seconds=userdata_settings.PUSH_LEASE_SECONDS + len(ids))
    UserData.objects.filter(pk__in=ids).filter(
        Q(push_lease_until__isnull=True) | Q(push_lease_until__lt=now)
    ).update(push_lease_until=until)
    held = set(
        UserData.objects.filter(pk__in=ids, push_lease_until=until).values_list("pk", flat=True)
    )
    try:
        yield held
    finally:
        UserData.objects.filter(pk__in=held, push_lease_until=until).update(push_lease_until=None)


def verify_chunk(store, ids, summary, *, dry_run):
    """Lock a chunk of pending rows, read the IdP's copies in one bulk call, fold them in (so a
    remote change becomes a conflict), and return the rows still safe to push."""
    failed, missing = [], []
    error = None
    with transaction.atomic():
        rows = list(
            UserData.objects.select_for_update().pushable().filter(pk__in=ids).order_by("pk")
        )
        if not store.has_remote or not rows:
            return rows
        try:
            remotes = store.fetch_many([row.subject for row in rows])
        except StoreError as exc:
            remotes, error, failed = {}, exc, rows
            rows = []
        ready, changed, events = [], [], []
        for row in rows:
            remote = remotes.get(row.subject)
            if remote is None:
                missing.append(row)
                continue
            version = row.remote_version
            outcome, row_events = apply_remote(row, remote, source=SyncEvent.Kind.PUSH)
            if outcome in ("conflict", "echo") or row.remote_version != version:
                changed.append(row)
                events.extend(row_events)
            if outcome == "conflict":
                summary.conflicts += 1
            if row.pending and not row.has_conflict:
                ready.append(row)
        if dry_run:
            transaction.set_rollback(True)
        else:
            UserData.objects.bulk_update(changed, ROW_FIELDS, batch_size=500)
            SyncEvent.objects.bulk_create(events, batch_size=500)
            # Still under the lock: what is about to be sent, to recognise its webhook echo.
            UserData.objects.filter(pk__in=[row.pk for row in ready]).update(pushed_data=F("data"))
    if failed:
        summary.errors += len(failed)
        summary.note(str(error))
        if not dry_run:
            for row in failed:
                _failed(row, error)
    for row in missing:
        summary.errors += 1
        if not dry_run:
            record_error(row.pk, "The IdP no longer has this registration.", unregistered=True)
    return ready
