"""The pure decision: what the IdP's copy of a user's data does to the mirror row.

No I/O here: the callers lock the row, call `apply_remote`, and save the fields in ROW_FIELDS with the
events it returns. Tests call it directly with unsaved rows.
"""

from django.utils import timezone

from .conf import CONFLICT_POLICIES, userdata_settings
from .history import event
from .models import ChangedFrom, SyncEvent
from .stores.base import is_older

ROW_FIELDS = [
    "email",
    "registered",
    "data",
    "edit_seq",
    "changed_at",
    "changed_from",
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


def conflict_policy():
    policy = userdata_settings.CONFLICT_POLICY
    return policy if policy in CONFLICT_POLICIES else "manual"


def set_data(row, data, *, source, now=None):
    """Change what the row shows, moving its version on (so open pages and stale saves see it)."""
    if data == row.data:
        return False
    row.data = data
    row.edit_seq += 1
    row.changed_at = now or timezone.now()
    row.changed_from = source
    return True


def clear_conflict(row):
    row.conflict_remote_data = None
    row.conflict_remote_version = None
    row.conflict_at = None


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
        changed = set_data(row, remote.data, source=ChangedFrom.IDP, now=now)
        row.remote_data = remote.data
        row.remote_version = remote.version
        clear_conflict(row)
        if changed:
            events.append(event(row, kind, "Took the IdP's data.", version=remote.version))
            return "changed", events
        return "unchanged", events
    if remote.data == row.data:
        row.remote_data = remote.data
        row.remote_version = remote.version
        row.pending = False
        row.pushed_data = None
        row.last_error = ""
        clear_conflict(row)
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
        set_data(row, remote.data, source=ChangedFrom.IDP, now=now)
        row.remote_data = remote.data
        row.remote_version = remote.version
        row.pending = False
        row.pushed_data = None
        clear_conflict(row)
        message = "Conflict: took the IdP's data (policy remote_wins); the local edit is kept here."
    elif policy == "local_wins":
        row.remote_data = remote.data
        row.remote_version = remote.version
        clear_conflict(row)
        message = "Conflict: kept the local edit (policy local_wins); it will be pushed."
    else:
        row.conflict_remote_data = remote.data
        row.conflict_remote_version = remote.version
        row.conflict_at = now
        message = (
            "Conflict: the IdP's data changed while local edits waited; the user or staff choose."
        )
    events.append(
        event(row, SyncEvent.Kind.CONFLICT, message, version=remote.version, detail=detail)
    )
    return "conflict", events
