"""Conflicts and deletions: the decisions a person makes, and what an IdP-side deletion does.

A conflict (the IdP's copy changed while a local edit waited) is kept on the row until the user or
staff choose: keep the local text (then pushed) or take the IdP's.
"""

from django.db import transaction

from .history import event
from .mirror import accept_conflict_as_base, enqueue_push
from .models import ChangedFrom, SyncEvent, UserData
from .reconcile import ROW_FIELDS, clear_conflict, set_data


def resolve_conflict(row, keep, *, actor=""):
    """Keep the local edit ("local", then pushed by a worker) or take the IdP's ("remote")."""
    if keep not in ("local", "remote"):
        raise ValueError("keep must be 'local' or 'remote'")
    with transaction.atomic():
        row = UserData.objects.select_for_update().get(pk=row.pk)
        if not row.has_conflict:
            return row
        if keep == "local":
            accept_conflict_as_base(row, actor=actor, kept=row.data)
            row.save(update_fields=ROW_FIELDS)
            enqueue_push(row)
            return row
        take_remote_copy(row, actor=actor)
        row.save(update_fields=ROW_FIELDS)
    return row


def take_remote_copy(row, *, actor):
    """The IdP's conflicting copy becomes the row's text; the local edit stays in the history."""
    version = row.conflict_remote_version
    SyncEvent.objects.create(
        userdata=row,
        kind=SyncEvent.Kind.RESOLVE,
        message="Took the IdP's data; the local edit is in this event's detail.",
        remote_version=version,
        detail={"local": row.data, "remote": row.conflict_remote_data, "by": actor},
    )
    set_data(row, row.conflict_remote_data, source=ChangedFrom.IDP)
    row.remote_data = row.conflict_remote_data
    row.remote_version = version
    row.pending = False
    row.pushed_data = None
    clear_conflict(row)


def take_current(user_row, version, *, actor):
    """The user chose the current text over theirs: drop their unsaved text or, when a conflict
    waits, their pending edit. `version` is the one their choice was shown with."""
    with transaction.atomic():
        row = UserData.objects.select_for_update().get(pk=user_row.pk)
        if row.version != version:
            return row, False
        if row.has_conflict:
            take_remote_copy(row, actor=actor)
            row.save(update_fields=ROW_FIELDS)
        return row, True


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
        set_data(row, {}, source=ChangedFrom.IDP)
        clear_conflict(row)
        row.save(update_fields=ROW_FIELDS)
        event(row, SyncEvent.Kind.WEBHOOK, what, detail=detail).save()
    return "changed"
