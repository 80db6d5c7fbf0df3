"""Pull, push and conflicts: the one place that decides what the mirror holds.

HTTP calls never run inside a database transaction (a webhook about the same user may arrive while a
push waits for its answer); each decision runs in `transaction.atomic()` on a row locked with
`select_for_update()`, re-read after the call.
"""

import contextlib
import logging
import os
import queue
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from .conf import CONFLICT_POLICIES, userdata_settings
from .models import SyncEvent, UserData
from .stores import get_store
from .stores.base import NotRegistered, StoreError, is_older

logger = logging.getLogger("userdata.sync")

USER_DATA_KEY = "userData"
BATCH = 500
# Pushed results are written in smaller batches: each write holds the interpreter lock while
# the push workers wait on it.
RECORD_BATCH = 100
ROW_FIELDS = [
    "email",
    "registered",
    "data",
    "remote_data",
    "remote_version",
    "pushed_data",
    "pending",
    "pulled_at",
    "pushed_at",
    "push_attempts",
    "next_push_at",
    "last_error",
    "last_error_at",
    "conflict_remote_data",
    "conflict_remote_version",
    "conflict_at",
]


PUSH_FIELDS = [
    "data",
    "remote_data",
    "remote_version",
    "pushed_data",
    "pending",
    "pushed_at",
    "push_attempts",
    "next_push_at",
    "last_error",
]


class EditTooLarge(ValueError):
    """The edit is over USERDATA["MAX_BYTES"]."""


@dataclass
class Summary:
    """What a bulk run did, for the command's summary line and `--json`."""

    action: str
    total: int = 0
    changed: int = 0
    conflicts: int = 0
    errors: int = 0
    skipped: int = 0
    requests: int = 0
    seconds: float = 0.0
    dry_run: bool = False
    messages: list = field(default_factory=list)

    def as_dict(self):
        return asdict(self)

    def line(self):
        done = {"pull": "pulled", "push": "pushed"}.get(self.action, self.action)
        text = (
            f"{done} {self.total}, changed {self.changed}, conflicts {self.conflicts}, "
            f"errors {self.errors} in {self.seconds:.1f} s"
        )
        return text + (" (dry run)" if self.dry_run else "")


def save_rows(rows, fields):
    """Write `fields` of many rows with one prepared UPDATE run by executemany.

    Much cheaper than QuerySet.bulk_update's CASE expressions, which dominate a 10,000-row push.
    """
    update_many([(row.pk, {name: getattr(row, name) for name in fields}) for row in rows])


def update_many(items):
    """Apply many `(pk, {field: value})` updates: one executemany per distinct set of fields."""
    groups = {}
    for pk, values in items:
        if pk is None:
            continue
        groups.setdefault(tuple(values), []).append((pk, values))
    meta = UserData._meta
    quote = connection.ops.quote_name
    with transaction.atomic(), connection.cursor() as cursor:
        for names, group in groups.items():
            fields = [meta.get_field(name) for name in names]
            assignments = ", ".join(f"{quote(f.column)} = %s" for f in fields)
            # Identifiers come from the model's meta; every value is a query parameter.
            table, pk_column = quote(meta.db_table), quote(meta.pk.column)
            sql = f"UPDATE {table} SET {assignments} WHERE {pk_column} = %s"  # noqa: S608
            cursor.executemany(
                sql,
                [
                    [f.get_db_prep_save(values[f.name], connection) for f in fields] + [pk]
                    for pk, values in group
                ],
            )


def insert_many(items, model=UserData):
    """Insert many new rows (dicts of field values; the rest take their defaults) with one
    executemany: the ORM's bulk_create compiles every row's placeholders and dominated both the first
    pull of 10,000 users and the history written by a bulk push."""
    if not items:
        return
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({marks})"  # noqa: S608
    now = timezone.now()
    defaults = {
        f.attname: now if getattr(f, "auto_now_add", False) else f.get_default() for f in fields
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(
            sql,
            [
                [
                    f.get_db_prep_save(item.get(f.attname, defaults[f.attname]), connection)
                    for f in fields
                ]
                for item in items
            ],
        )


def save_events(events):
    """Write unsaved SyncEvent instances (their `created_at` is now)."""
    insert_many(
        [
            {
                "userdata_id": e.userdata_id,
                "kind": e.kind,
                "message": e.message,
                "remote_version": e.remote_version,
                "detail": e.detail,
            }
            for e in events
        ],
        SyncEvent,
    )


def conflict_policy():
    policy = userdata_settings()["CONFLICT_POLICY"]
    return policy if policy in CONFLICT_POLICIES else "manual"


def _event(row, kind, message, *, version=None, detail=None):
    return SyncEvent(
        userdata=row, kind=kind, message=message[:500], remote_version=version, detail=detail
    )


# --- finding and creating mirror rows ---------------------------------------------------------


def get_mirror(user, *, fresh=True):
    """The user's mirror row, or None.

    With ``fresh=False`` the row already loaded with the user is used (OAUTHBFF USER_SELECT_RELATED
    names "userdata" in this project's settings), so a page load makes no query for it; otherwise, and
    always after a write, it is read again.
    """
    if not fresh:
        try:
            return user.userdata
        except UserData.DoesNotExist:
            return None
    return UserData.objects.filter(user=user).first()


def link_mirror(user, *, issuer="", subject=None, email=""):
    """Find or create the user's row, attaching a row a bulk pull made for the same subject."""
    email = email or getattr(user, "email", "") or ""
    with transaction.atomic():
        row = UserData.objects.select_for_update().filter(user=user).first()
        if row is None and subject:
            row = UserData.objects.select_for_update().filter(subject=subject).first()
        if row is None:
            try:
                with transaction.atomic():
                    return UserData.objects.create(
                        user=user, issuer=issuer, subject=subject or None, email=email
                    )
            except IntegrityError:
                # A concurrent sign-in (or bulk pull) created it first.
                row = (
                    UserData.objects.select_for_update()
                    .filter(Q(user=user) | Q(subject=subject) if subject else Q(user=user))
                    .first()
                )
                if row is None:
                    raise
        changed = []
        if row.user_id != user.pk:
            if row.user_id is not None:
                logger.warning("userdata: subject moved to another local user (row %s)", row.pk)
            row.user = user
            changed.append("user")
        for name, value in (("issuer", issuer), ("subject", subject), ("email", email)):
            if value and getattr(row, name) != value:
                setattr(row, name, value)
                changed.append(name)
        if changed:
            row.save(update_fields=changed)
        return row


def mirror_for_user(user):
    """The user's row, created from oauthbff's identity record if the sign-in signal missed it."""
    row = get_mirror(user)
    if row is not None:
        return row
    issuer, subject = _identity(user)
    return link_mirror(user, issuer=issuer, subject=subject)


def _identity(user):
    try:
        from oauthbff.models import OIDCIdentity
    except ImportError:
        return "", None
    identity = OIDCIdentity.objects.filter(user=user).first()
    if identity is None:
        return "", None
    return identity.issuer, identity.subject


# --- the decision: what a remote copy does to a row -------------------------------------------


def apply_remote(row, remote, *, source, now=None):
    """Fold the IdP's copy into a locked row; return (outcome, events). The caller saves.

    Outcomes: "unchanged", "changed", "echo" (our own push coming back), "conflict".
    A pull never overwrites local edits that wait to be pushed.
    """
    now = now or timezone.now()
    kind = source if source in SyncEvent.Kind.values else SyncEvent.Kind.PULL
    events = []
    if is_older(remote.version, row.remote_version) and row.registered:
        return "unchanged", events  # an older copy (a late webhook): versions only move forward
    if source != "push":
        row.pulled_at = now
    if not row.pending and row.last_error:
        # The provider answered and nothing waits to be retried: an earlier failure is stale.
        row.last_error = ""
    if remote.email and remote.email != row.email:
        row.email = remote.email
    if not row.registered:
        row.registered = True
    same_as_base = remote.data == row.remote_data
    if not row.pending:
        changed = remote.data != row.data
        row.data = remote.data
        row.remote_data = remote.data
        row.remote_version = remote.version
        _clear_conflict(row)
        if changed:
            events.append(_event(row, kind, "Took the IdP's data.", version=remote.version))
            return "changed", events
        return "unchanged", events
    if remote.data == row.data:
        row.remote_data = remote.data
        row.remote_version = remote.version
        row.pending = False
        row.pushed_data = None
        row.last_error = ""
        _clear_conflict(row)
        return "echo", events
    if same_as_base or remote.version == row.remote_version:
        return "unchanged", events
    if row.pushed_data is not None and remote.data == row.pushed_data:
        row.remote_data = remote.data
        row.remote_version = remote.version
        return "echo", events
    if row.has_conflict and remote.data == row.conflict_remote_data:
        return "unchanged", events
    detail = {"local": row.data, "remote": remote.data, "base": row.remote_data}
    policy = conflict_policy()
    if policy == "remote_wins":
        row.data = remote.data
        row.remote_data = remote.data
        row.remote_version = remote.version
        row.pending = False
        row.pushed_data = None
        _clear_conflict(row)
        message = "Conflict: took the IdP's data (policy remote_wins); the local edit is kept here."
    elif policy == "local_wins":
        row.remote_data = remote.data
        row.remote_version = remote.version
        _clear_conflict(row)
        message = "Conflict: kept the local edit (policy local_wins); it will be pushed."
    else:
        row.conflict_remote_data = remote.data
        row.conflict_remote_version = remote.version
        row.conflict_at = now
        message = "Conflict: the IdP's data changed while local edits waited; staff must resolve."
    events.append(
        _event(row, SyncEvent.Kind.CONFLICT, message, version=remote.version, detail=detail)
    )
    return "conflict", events


def _clear_conflict(row):
    row.conflict_remote_data = None
    row.conflict_remote_version = None
    row.conflict_at = None


def _record_error(row_id, message, *, kind=SyncEvent.Kind.ERROR, push=False, unregistered=False):
    """Store a failed sync on the row (and its back-off when a push failed)."""
    now = timezone.now()
    with transaction.atomic():
        row = UserData.objects.select_for_update().filter(pk=row_id).first()
        if row is None:
            return None
        row.last_error = message[:1000]
        row.last_error_at = now
        fields = ["last_error", "last_error_at"]
        if push:
            row.push_attempts += 1
            cap = userdata_settings()["PUSH_BACKOFF_MAX"]
            row.next_push_at = now + timedelta(seconds=min(cap, 5 * 2 ** (row.push_attempts - 1)))
            fields += ["push_attempts", "next_push_at"]
        if unregistered:
            row.registered = False
            fields.append("registered")
        row.save(update_fields=fields)
        SyncEvent.objects.create(userdata=row, kind=kind, message=message[:500])
        return row


# --- pull -------------------------------------------------------------------------------------


def pull(row):
    """Read one user's data from the IdP into the mirror; return the outcome."""
    if not row.subject:
        return "skipped"
    store = get_store()
    if not store.has_remote:
        return "skipped"
    try:
        remote = store.fetch(row.subject)
    except NotRegistered as exc:
        _record_error(row.pk, str(exc), unregistered=True)
        return "error"
    except StoreError as exc:
        _record_error(row.pk, str(exc))
        return "error"
    return apply_fetched(row.pk, remote, source=SyncEvent.Kind.PULL)


def apply_fetched(row_id, remote, *, source):
    """Apply one fetched copy to a row under its lock; return the outcome."""
    with transaction.atomic():
        row = UserData.objects.select_for_update().get(pk=row_id)
        outcome, events = apply_remote(row, remote, source=source)
        if outcome != "conflict" and not row.pending:
            row.last_error = ""
        row.save(update_fields=ROW_FIELDS)
        SyncEvent.objects.bulk_create(events)
    return outcome


def pull_all(*, dry_run=False, progress=None):
    """Pull every registered user through the store's paged bulk listing, one page in memory."""
    started = time.perf_counter()
    summary = Summary("pull", dry_run=dry_run)
    store = get_store()
    before = _requests(store)
    issuer = (getattr(settings, "OAUTHBFF", {}) or {}).get("ISSUER", "")
    try:
        for page in store.iter_all():
            counts = _apply_page(page, issuer=issuer, dry_run=dry_run)
            summary.total += len(page)
            summary.changed += counts["changed"]
            summary.conflicts += counts["conflict"]
            if progress:
                progress(summary.total)
    except StoreError as exc:
        summary.errors += 1
        summary.messages.append(str(exc))
    summary.requests = _requests(store) - before
    summary.seconds = time.perf_counter() - started
    return summary


def _apply_page(page, *, issuer, dry_run):
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
                new_rows.append(
                    {
                        "subject": subject,
                        "issuer": issuer,
                        "email": remote.email,
                        "data": remote.data,
                        "remote_data": remote.data,
                        "remote_version": remote.version,
                        "pulled_at": now,
                    }
                )
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
        insert_many(new_rows)
        save_rows(changed_rows, ROW_FIELDS)
        if untouched:
            UserData.objects.filter(pk__in=untouched).update(pulled_at=now)
        save_events(events)
    return counts


# --- local edits and push ---------------------------------------------------------------------


def save_edit(user, text):
    """Commit the user's edit of `data.userData` locally first; return the row (now pending)."""
    limit = userdata_settings()["MAX_BYTES"]
    if len(text.encode("utf-8")) > limit:
        raise EditTooLarge(f"Your text is over the limit of {limit // 1024} KB; shorten it.")
    row = mirror_for_user(user)
    now = timezone.now()
    with transaction.atomic():
        row = UserData.objects.select_for_update().get(pk=row.pk)
        if row.data.get(USER_DATA_KEY) == text and USER_DATA_KEY in row.data:
            return row
        row.data = {**row.data, USER_DATA_KEY: text}
        row.pending = True
        row.edit_seq += 1
        row.edited_at = now
        row.next_push_at = None
        row.push_attempts = 0
        row.save(
            update_fields=[
                "data",
                "pending",
                "edit_seq",
                "edited_at",
                "next_push_at",
                "push_attempts",
            ]
        )
    return row


def push(row, *, verify=True):
    """Send the row's pending edits to the IdP; return the outcome.

    With `verify` it first reads the IdP's copy so a remote change made since the last sync
    becomes a conflict instead of being overwritten.
    """
    row = UserData.objects.get(pk=row.pk)
    if not row.pending:
        return "unchanged"
    if row.has_conflict:
        return "conflict"
    if not row.subject or not row.registered:
        return "skipped"
    store = get_store()
    if verify and store.has_remote:
        try:
            remote = store.fetch(row.subject)
        except NotRegistered as exc:
            _record_error(row.pk, str(exc), push=True, unregistered=True)
            return "error"
        except StoreError as exc:
            _record_error(row.pk, str(exc), push=True)
            return "error"
        outcome = apply_fetched(row.pk, remote, source=SyncEvent.Kind.PUSH)
        if outcome == "echo":
            return "pushed"
        row = UserData.objects.get(pk=row.pk)
        if not row.pending:
            return "conflict" if outcome == "conflict" else "unchanged"
        if row.has_conflict:
            return "conflict"
    _mark_sending([row])
    try:
        result = store.push(row.subject, row.data, base=row.remote_data)
    except NotRegistered as exc:
        _record_error(row.pk, str(exc), push=True, unregistered=True)
        return "error"
    except StoreError as exc:
        _record_error(row.pk, str(exc), push=True)
        return "error"
    _record_pushes([(row.pk, row.edit_seq, row.data, result)])
    return "pushed"


def pull_if_stale(row):
    """Pull on a page load only when the mirror is older than USERDATA["FRESH_SECONDS"] (0: never),
    nothing waits to be pushed, and no sync failed within that time (no retry storm)."""
    fresh = userdata_settings()["FRESH_SECONDS"]
    if not fresh or row is None or not row.subject or not row.registered or row.pending:
        return None
    now = timezone.now()
    window = timedelta(seconds=fresh)
    if row.last_error_at and now - row.last_error_at < window:
        return None
    if row.pulled_at and now - row.pulled_at < window:
        return None
    return pull(row)


def push_if_due(row):
    """Push on the user's request only when edits wait and the back-off allows (no IdP call else)."""
    if row is None or not row.pending or row.has_conflict or not row.subject:
        return None
    if row.next_push_at and row.next_push_at > timezone.now():
        return None
    return push(row)


def _mark_sending(rows):
    for row in rows:
        row.pushed_data = row.data
    save_rows(rows, ["pushed_data"])


def _record_pushes(results):
    """Store successful pushes: (row id, edit_seq sent, data sent, RemoteData returned).

    Reads only (edit_seq, remote_version) under the lock: an edit made while the push was in flight
    stays pending, and a newer remote version already recorded (by a webhook) is not rolled back.
    """
    now = timezone.now()
    done = {"pushed_at": now, "push_attempts": 0, "next_push_at": None, "last_error": ""}
    with transaction.atomic():
        state = {
            pk: (seq, version)
            for pk, seq, version in UserData.objects.select_for_update()
            .filter(pk__in=[item[0] for item in results])
            .values_list("pk", "edit_seq", "remote_version")
        }
        updates, events = [], []
        for row_id, seq, _sent, result in results:
            if row_id not in state:
                continue
            current_seq, current_version = state[row_id]
            values = dict(done)
            newer = not is_older(result.version, current_version)
            if newer:
                values.update(remote_data=result.data, remote_version=result.version)
            if current_seq == seq:
                values.update(pending=False, pushed_data=None)
                if newer:
                    values["data"] = result.data
            updates.append((row_id, values))
            events.append(
                SyncEvent(
                    userdata_id=row_id,
                    kind=SyncEvent.Kind.PUSH,
                    message="Pushed.",
                    remote_version=result.version,
                )
            )
        update_many(updates)
        save_events(events)


def push_all(*, workers=None, queryset=None, dry_run=False, progress=None, one_cpu=False):
    """Push every pending row: a bulk read per BATCH rows to catch remote changes, then concurrent
    PATCHes on `workers` threads (HTTP only; the database work stays on this thread, batched).

    `one_cpu` runs the push on the CPU this thread is on (see `_on_one_cpu`): for a process that
    does nothing else, like `syncuserdata push --one-cpu`; never for a web worker.
    """
    started = time.perf_counter()
    summary = Summary("push", dry_run=dry_run)
    workers = max(1, workers or userdata_settings()["PUSH_WORKERS"])
    store = get_store()
    before = _requests(store)
    rows = (queryset if queryset is not None else UserData.objects.all()).filter(
        pending=True, conflict_at__isnull=True, registered=True, subject__isnull=False
    )
    summary.conflicts = (
        (queryset if queryset is not None else UserData.objects.all())
        .filter(pending=True, conflict_at__isnull=False)
        .count()
    )
    done = []

    def collect():
        for row_id, seq, sent, result, error in pushers.finished():
            if isinstance(error, BaseException):
                raise error
            if error is not None:
                summary.errors += 1
                if len(summary.messages) < 20:
                    summary.messages.append(error)
                _record_error(row_id, error, push=True)
            else:
                done.append((row_id, seq, sent, result))
                summary.changed += 1
        if len(done) >= RECORD_BATCH:
            _record_pushes(done)
            done.clear()
        if progress:
            progress(summary.changed + summary.errors)

    with _on_one_cpu(one_cpu), _Pushers(store, workers) as pushers:
        last_id = 0
        while True:
            chunk = list(
                rows.filter(pk__gt=last_id).order_by("pk").values_list("pk", flat=True)[:BATCH]
            )
            if not chunk:
                break
            last_id = chunk[-1]
            ready = _verify_chunk(store, chunk, summary, dry_run=dry_run)
            summary.total += len(ready)
            if dry_run:
                continue
            for row in ready:
                while pushers.inflight >= workers * 8:
                    collect()
                pushers.submit((row.pk, row.subject, row.edit_seq, row.data, row.remote_data))
        while pushers.inflight:
            collect()
    if done:
        _record_pushes(done)
    summary.requests = _requests(store) - before
    summary.seconds = time.perf_counter() - started
    return summary


@contextlib.contextmanager
def _on_one_cpu(enabled):
    """Keep this thread, and the threads it starts inside the block, on one CPU (Linux).

    The push workers take turns holding Python's interpreter lock; spread over several cores, each
    hand-over wakes a thread on another core, and `bench/sync_bench.py` measured about a quarter
    more CPU per push that way. The cost: the push cannot move to a less busy core.
    """
    get = getattr(os, "sched_getaffinity", None)
    before = get(0) if enabled and get is not None else set()
    pinned = False
    if len(before) > 1:
        try:
            os.sched_setaffinity(0, {_current_cpu(before)})
            pinned = True
        except OSError:  # a container may refuse it: the push then runs as usual
            pass
    try:
        yield
    finally:
        if pinned:
            os.sched_setaffinity(0, before)


def _current_cpu(allowed):
    """The CPU this thread runs on now (field 39 of /proc/thread-self/stat), if allowed."""
    try:
        with open("/proc/thread-self/stat") as stat:
            cpu = int(stat.read().rsplit(")", 1)[1].split()[36])
    except (OSError, ValueError, IndexError):
        cpu = None
    return cpu if cpu in allowed else min(allowed)


class _Pushers:
    """`workers` threads that send pushes taken from one queue and hand each outcome back on
    another, so the calling thread keeps every database write. Plain queues rather than futures:
    with 16 workers the executor's per-call bookkeeping showed up next to the HTTP itself."""

    def __init__(self, store, workers):
        self.store = store
        self.jobs = queue.SimpleQueue()
        self.results = queue.SimpleQueue()
        self.inflight = 0
        self.threads = [
            threading.Thread(target=self._run, name=f"userdata-push-{n}", daemon=True)
            for n in range(workers)
        ]

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc_info):
        while True:  # on an error, drop what is not sent yet
            try:
                self.jobs.get_nowait()
            except queue.Empty:
                break
        for _ in self.threads:
            self.jobs.put(None)
        for thread in self.threads:
            thread.join()

    def submit(self, job):
        self.jobs.put(job)
        self.inflight += 1

    def finished(self):
        """Outcomes of finished pushes, at least one: (row id, edit_seq, data sent, RemoteData or
        None, error: None, a message or an exception). Waits a moment first so that one wake-up of
        the calling thread takes several results."""
        if self.results.qsize() < 4:
            time.sleep(0.005)
        batch = [self.results.get()]
        while True:
            try:
                batch.append(self.results.get_nowait())
            except queue.Empty:
                break
        self.inflight -= len(batch)
        return batch

    def _run(self):
        while (job := self.jobs.get()) is not None:
            row_id, subject, seq, data, base = job
            try:
                outcome = self.store.push(subject, data, base=base), None
            except StoreError as exc:
                outcome = None, str(exc)
            except BaseException as exc:  # noqa: BLE001 - the calling thread re-raises it
                outcome = None, exc
            self.results.put((row_id, seq, data, *outcome))


def _verify_chunk(store, ids, summary, *, dry_run):
    """Lock a chunk of pending rows, read the IdP's copies in one bulk call, fold them in (so a
    remote change becomes a conflict), and return the rows still safe to push."""
    with transaction.atomic():
        rows = list(
            UserData.objects.select_for_update()
            .filter(pk__in=ids, pending=True, conflict_at__isnull=True)
            .order_by("pk")
        )
        if not store.has_remote:
            return rows
        try:
            remotes = store.fetch_many([row.subject for row in rows])
        except StoreError as exc:
            remotes = exc
        if isinstance(remotes, StoreError):
            failed = rows
            rows = []
        else:
            failed = []
        ready, changed, events, missing = [], [], [], []
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
            save_rows(changed, ROW_FIELDS)
            save_events(events)
            # Still under the lock: what is about to be sent, to recognise its webhook echo.
            UserData.objects.filter(pk__in=[row.pk for row in ready]).update(pushed_data=F("data"))
    if failed:
        summary.errors += len(failed)
        summary.messages.append(str(remotes))
    for row in failed:
        if not dry_run:
            _record_error(row.pk, str(remotes), push=True)
    for row in missing:
        summary.errors += 1
        if not dry_run:
            _record_error(row.pk, "The IdP no longer has this registration.", unregistered=True)
    return ready


# --- conflicts and deletions ------------------------------------------------------------------


def resolve_conflict(row, keep, *, actor=""):
    """A staff decision: keep the local edit ("local", then pushed) or take the IdP's ("remote")."""
    if keep not in ("local", "remote"):
        raise ValueError("keep must be 'local' or 'remote'")
    with transaction.atomic():
        row = UserData.objects.select_for_update().get(pk=row.pk)
        if not row.has_conflict:
            return row
        detail = {"local": row.data, "remote": row.conflict_remote_data, "by": actor}
        if keep == "local":
            row.remote_data = row.conflict_remote_data
            row.remote_version = row.conflict_remote_version
            row.next_push_at = None
            message = "Kept the local edit; it will be pushed."
        else:
            row.data = row.conflict_remote_data
            row.remote_data = row.conflict_remote_data
            row.remote_version = row.conflict_remote_version
            row.pending = False
            row.pushed_data = None
            message = "Took the IdP's data; the local edit is in this event's detail."
        version = row.conflict_remote_version
        _clear_conflict(row)
        row.save(update_fields=ROW_FIELDS)
        SyncEvent.objects.create(
            userdata=row,
            kind=SyncEvent.Kind.RESOLVE,
            message=message,
            remote_version=version,
            detail=detail,
        )
    if keep == "local":
        push(row, verify=False)
    return UserData.objects.get(pk=row.pk)


def apply_remote_deleted(subject, *, what):
    """The IdP deleted the registration or the user: keep the row and its history, stop syncing."""
    with transaction.atomic():
        row = UserData.objects.select_for_update().filter(subject=subject).first()
        if row is None:
            return "unchanged"
        detail = {"local": row.data, "pending": row.pending}
        row.registered = False
        row.remote_data = {}
        row.remote_version = None
        row.pending = False
        row.pushed_data = None
        row.data = {}
        _clear_conflict(row)
        row.save(update_fields=ROW_FIELDS)
        SyncEvent.objects.create(
            userdata=row, kind=SyncEvent.Kind.WEBHOOK, message=what, detail=detail
        )
    return "changed"


def apply_webhook_data(subject, remote, *, issuer=""):
    """A registration created or updated at the IdP: fold it in (creating the row if new)."""
    row = UserData.objects.filter(subject=subject).only("pk").first()
    if row is None:
        try:
            with transaction.atomic():
                UserData.objects.create(
                    subject=subject,
                    issuer=issuer,
                    email=remote.email,
                    data=remote.data,
                    remote_data=remote.data,
                    remote_version=remote.version,
                    pulled_at=timezone.now(),
                )
            return "changed"
        except IntegrityError:
            row = UserData.objects.get(subject=subject)
    return apply_fetched(row.pk, remote, source=SyncEvent.Kind.WEBHOOK)


def _requests(store):
    http = getattr(store, "http", None)
    return getattr(http, "requests_made", 0)
