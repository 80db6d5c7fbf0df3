"""Pull: the IdP's copy into the mirror, for one user, a chunk of users, every user, or a webhook.

HTTP calls never run inside a database transaction (a webhook about the same user may arrive while a
call waits for its answer); each decision runs in `transaction.atomic()` on rows locked with
`select_for_update()`, read again after the call.
"""

import time
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from . import signals, stores
from .conf import userdata_settings
from .history import Summary, record_error, requests_made
from .mirror import save_changed, snapshot
from .models import ChangedFrom, SyncEvent, UserData
from .reconcile import ROW_FIELDS, apply_remote
from .stores.base import NotRegistered, StoreError


def pull(row):
    """Read one user's data from the IdP into the mirror; return the outcome."""
    if not row.subject:
        return "skipped"
    store = stores.get_store()
    if not store.has_remote:
        return "skipped"
    try:
        remote = store.fetch(row.subject)
    except StoreError as exc:
        record_error(row.pk, str(exc), unregistered=isinstance(exc, NotRegistered))
        signals.data_pulled.send(UserData, row=row, ok=False, error=str(exc))
        return "error"
    outcome = apply_fetched(row.pk, remote, source=SyncEvent.Kind.PULL)
    signals.data_pulled.send(UserData, row=row, ok=True, error="")
    return outcome


def apply_fetched(row_id, remote, *, source):
    """Apply one fetched copy to a row under its lock; return the outcome."""
    return fold_in(row_id, remote, source=source)[0]


def fold_in(row_id, remote, *, source, sending=False, subject=None):
    """Apply one fetched copy to the row locked by id (or by `subject`, when given); return
    (outcome, row), row None if there is none.

    With `sending` (a push about to write), what is about to be sent is noted in the same UPDATE,
    so its webhook echo is recognised. Inside a caller's transaction no savepoint is taken: a
    failure here fails the caller's transaction anyway.
    """
    with transaction.atomic(savepoint=False):
        lookup = {"subject": subject} if subject is not None else {"pk": row_id}
        row = UserData.objects.select_for_update().filter(**lookup).first()
        if row is None:
            return "skipped", None
        before = snapshot(row)
        outcome, events = apply_remote(row, remote, source=source)
        if outcome != "conflict" and not row.pending:
            row.last_error = ""
        if sending and row.pending and not row.has_conflict:
            row.pushed_data = row.data
        save_changed(row, before)
        SyncEvent.objects.bulk_create(events)
    return outcome, row


def needs_pull(row):
    """A page load pulls (in a worker) only when the mirror is older than FRESH_SECONDS (0: never),
    nothing waits to be pushed, and no sync failed within that time (no retry storm)."""
    fresh = userdata_settings.FRESH_SECONDS
    if not fresh or row is None or not row.subject or not row.registered or row.pending:
        return False
    now = timezone.now()
    window = timedelta(seconds=fresh)
    if row.last_error_at and now - row.last_error_at < window:
        return False
    return not (row.pulled_at and now - row.pulled_at < window)


def pull_chunk(ids, *, dry_run=False):
    """Pull a chunk of known rows with one bulk read (`fetch_many`); return its Summary."""
    started = time.perf_counter()
    summary = Summary("pull", dry_run=dry_run)
    store = stores.get_store()
    before = requests_made(store)
    rows = list(UserData.objects.syncable().filter(pk__in=ids).only("pk", "subject", "email"))
    summary.total = len(rows)
    summary.users = [row.email or row.subject for row in rows] if dry_run else []
    if dry_run or not rows or not store.has_remote:
        return summary
    try:
        remotes = store.fetch_many([row.subject for row in rows])
    except StoreError as exc:
        summary.errors += len(rows)
        summary.note(str(exc))
        for row in rows:
            record_error(row.pk, str(exc))
        return summary
    for row in rows:
        remote = remotes.get(row.subject)
        if remote is None:
            summary.errors += 1
            record_error(row.pk, "The IdP no longer has this registration.", unregistered=True)
            continue
        outcome = apply_fetched(row.pk, remote, source=SyncEvent.Kind.PULL)
        summary.changed += outcome == "changed"
        summary.conflicts += outcome == "conflict"
        signals.data_pulled.send(UserData, row=row, ok=True, error="")
    summary.requests = requests_made(store) - before
    summary.seconds = time.perf_counter() - started
    return summary


def pull_all(*, dry_run=False, progress=None):
    """Pull every registered user through the store's paged bulk listing, one page in memory.

    A listing is sequential by nature (each page names the next) and costs a few requests for
    10,000 users, so it runs as one task; chunked pulls of known rows use `pull_chunk`.
    """
    started = time.perf_counter()
    summary = Summary("pull", dry_run=dry_run)
    store = stores.get_store()
    before = requests_made(store)
    issuer = userdata_settings.ISSUER
    try:
        for page in store.iter_all():
            counts = apply_page(page, issuer=issuer, dry_run=dry_run)
            summary.total += len(page)
            summary.changed += counts["changed"]
            summary.conflicts += counts["conflict"]
            if dry_run:
                summary.users.extend(remote.email or remote.subject for remote in page)
            if progress:
                progress(summary.total)
    except StoreError as exc:
        summary.errors += 1
        summary.note(str(exc))
    summary.requests = requests_made(store) - before
    summary.seconds = time.perf_counter() - started
    return summary


def apply_page(page, *, issuer, dry_run=False):
    """Fold one page of the IdP's listing into the mirror: new rows created, changed rows updated,
    all in bulk under one lock of the page's rows."""
    now = timezone.now()
    counts = {"changed": 0, "conflict": 0, "unchanged": 0, "echo": 0}
    by_subject = {remote.subject: remote for remote in page}
    with transaction.atomic():
        rows = {
            row.subject: row
            for row in UserData.objects.select_for_update().filter(subject__in=list(by_subject))
        }
        new_rows, changed_rows, untouched, events = [], [], [], []
        for subject, remote in by_subject.items():
            row = rows.get(subject)
            if row is None:
                new_rows.append(new_row(remote, issuer=issuer, now=now))
                counts["changed"] += 1
                continue
            was = (row.data, row.remote_version, row.registered, row.email, row.has_conflict)
            had_error = row.last_error
            outcome, row_events = apply_remote(row, remote, source=SyncEvent.Kind.PULL, now=now)
            counts[outcome] += 1
            now_is = (row.data, row.remote_version, row.registered, row.email, row.has_conflict)
            if now_is != was or row.last_error != had_error:
                changed_rows.append(row)
                events.extend(row_events)
            else:
                untouched.append(row.pk)
        if dry_run:
            transaction.set_rollback(True)
            return counts
        UserData.objects.bulk_create(new_rows, batch_size=500)
        UserData.objects.bulk_update(changed_rows, ROW_FIELDS, batch_size=500)
        if untouched:
            UserData.objects.filter(pk__in=untouched).update(pulled_at=now)
        SyncEvent.objects.bulk_create(events, batch_size=500)
    return counts


def new_row(remote, *, issuer, now):
    """A mirror row for a user first seen at the IdP (no local user yet: linked at sign-in)."""
    return UserData(
        subject=remote.subject,
        issuer=issuer,
        email=remote.email,
        data=remote.data,
        remote_data=remote.data,
        remote_version=remote.version,
        pulled_at=now,
        changed_at=now,
        changed_from=ChangedFrom.IDP,
    )


def apply_webhook_data(subject, remote):
    """A registration created or updated at the IdP: fold it in at once (creating the row if new)."""
    outcome, row = fold_in(None, remote, source=SyncEvent.Kind.WEBHOOK, subject=subject)
    if row is not None:
        return outcome
    try:
        with transaction.atomic():
            new_row(remote, issuer=userdata_settings.ISSUER, now=timezone.now()).save()
        return "changed"
    except IntegrityError:  # a concurrent sign-in or webhook created it first
        return fold_in(None, remote, source=SyncEvent.Kind.WEBHOOK, subject=subject)[0]
