"""The sync history of a row (SyncEvent lines for staff) and the failures that set a back-off."""

import logging
from dataclasses import asdict, dataclass, field
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from .conf import userdata_settings
from .models import SyncEvent, UserData

logger = logging.getLogger("userdata.history")


def event(row, kind, message, *, version=None, detail=None):
    """An unsaved SyncEvent for `row` (saved with its row, often in bulk)."""
    return SyncEvent(
        userdata=row, kind=kind, message=message[:500], remote_version=version, detail=detail
    )


def backoff_seconds(attempts, retry_after=None):
    """Exponential back-off after `attempts` failed pushes (5 s, 10 s, 20 s, ... capped), or
    longer when the IdP asked for it with 429 Retry-After."""
    cap = userdata_settings.PUSH_BACKOFF_MAX
    delay = min(cap, 5 * 2 ** max(0, attempts - 1))
    if retry_after:
        delay = max(delay, min(float(retry_after), cap))
    return delay


def record_error(
    row_id,
    message,
    *,
    kind=SyncEvent.Kind.ERROR,
    push=False,
    unregistered=False,
    retry_after=None,
):
    """Store a failed sync on the row, and its back-off when a push failed; return the row
    (None when it no longer exists)."""
    now = timezone.now()
    with transaction.atomic():
        row = UserData.objects.select_for_update().filter(pk=row_id).first()
        if row is None:
            note_missing(row_id, message)
            return None
        row.last_error = message[:1000]
        row.last_error_at = now
        fields = ["last_error", "last_error_at"]
        if push:
            row.push_attempts += 1
            delay = backoff_seconds(row.push_attempts, retry_after)
            row.next_push_at = now + timedelta(seconds=delay)
            fields += ["push_attempts", "next_push_at"]
        if unregistered:
            row.registered = False
            fields.append("registered")
        row.save(update_fields=fields)
        SyncEvent.objects.create(userdata=row, kind=kind, message=message[:500])
        return row


def note_missing(row_id, what):
    """A task or a result for a row that was deleted meanwhile: nothing to do but say so."""
    logger.info("userdata: row %s no longer exists (%s); nothing to sync", row_id, what)


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
    tasks: int = 0
    seconds: float = 0.0
    dry_run: bool = False
    messages: list = field(default_factory=list)
    users: list = field(default_factory=list)

    def as_dict(self):
        return asdict(self)

    def add(self, other):
        """Fold a chunk's summary into this one."""
        for name in ("total", "changed", "conflicts", "errors", "skipped", "requests"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.messages.extend(other.messages[: max(0, 20 - len(self.messages))])
        self.users.extend(other.users)

    def note(self, message):
        if len(self.messages) < 20:
            self.messages.append(message)

    def line(self):
        done = {"pull": "pulled", "push": "pushed"}.get(self.action, self.action)
        text = (
            f"{done} {self.total}, changed {self.changed}, conflicts {self.conflicts}, "
            f"errors {self.errors} in {self.seconds:.1f} s"
        )
        return text + (" (dry run)" if self.dry_run else "")


def requests_made(store):
    """HTTP requests the store's client sent so far (for the command's and benchmark's figures)."""
    return getattr(getattr(store, "http", None), "requests_made", 0)
