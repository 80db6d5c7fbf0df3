"""The mirror row of a user and local edits to it: commit here first, push later (on commit).

No function here calls the IdP: a save is a local commit plus a push task enqueued once the
transaction commits (`transaction.on_commit`), so no request waits for the IdP.
"""

import copy
import logging

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from .conf import userdata_settings
from .identity import identity_of
from .models import ChangedFrom, SyncEvent, UserData
from .reconcile import ROW_FIELDS, clear_conflict, set_data

# What a local edit may change: the sync fields and when the user last typed.
EDIT_FIELDS = [*ROW_FIELDS, "edited_at"]

logger = logging.getLogger("userdata.mirror")

USER_DATA_KEY = "userData"


class EditTooLarge(ValueError):
    """The edit is over USERDATA["MAX_BYTES"]."""


class UnknownVersion(ValueError):
    """The save names a version this row never had (a future or forged number)."""


class VersionConflict(Exception):
    """The save was based on an older version than the row's, or the IdP's copy conflicts: the user
    chooses. `row` is the current row, `text` what the user sent."""

    def __init__(self, row, text):
        super().__init__("The text changed since this page showed it.")
        self.row = row
        self.text = text


def get_mirror(user, *, fresh=True):
    """The user's mirror row, or None.

    With ``fresh=False`` the row already loaded with the user is used (the project selects
    "userdata" with the user), so a page load makes no query for it; otherwise it is read again.
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
    """The user's row, created from the user's IdP identity if the sign-in signal missed it."""
    row = get_mirror(user)
    if row is not None:
        return row
    issuer, subject = identity_of(user)
    return link_mirror(user, issuer=issuer, subject=subject)


def check_size(text):
    limit = userdata_settings.MAX_BYTES
    if len(text.encode("utf-8")) > limit:
        raise EditTooLarge(f"Your text is over the limit of {limit // 1024} KB; shorten it.")


def snapshot(row, fields=ROW_FIELDS):
    """The row's sync fields as they are now (JSON values copied: they may be changed in place)."""
    return {name: copy.deepcopy(getattr(row, name)) for name in fields}


def save_changed(row, before):
    """Write only the sync fields that changed since `snapshot` (none: no UPDATE at all). Most
    webhooks and verifying reads change one or two fields; writing all of them rewrote the JSON
    columns each time."""
    changed = [name for name, value in before.items() if getattr(row, name) != value]
    if changed:
        row.save(update_fields=changed)
    return changed


def save_edit(user, text, *, base_version=None, resolve=False):
    """Commit the user's edit of `data.userData` locally and enqueue its push; return the row.

    `base_version` is the version the user's page showed (None: not checked, for staff and
    commands). A save based on an older version, or one made while the IdP's copy conflicts, raises
    VersionConflict unless the text is what the row already shows; `resolve=True` is the user's
    choice to keep their text over the current one.
    """
    check_size(text)
    now = timezone.now()
    with transaction.atomic():
        row = UserData.objects.select_for_update().filter(user=user).first()
        if row is None:
            row = UserData.objects.select_for_update().get(pk=mirror_for_user(user).pk)
        before = snapshot(row, EDIT_FIELDS)
        if base_version is not None and base_version > row.version:
            raise UnknownVersion("This version of your text is unknown here; reload the page.")
        unchanged = row.data.get(USER_DATA_KEY) == text and USER_DATA_KEY in row.data
        stale = base_version is not None and base_version < row.version
        if not resolve and not unchanged and (stale or row.has_conflict):
            raise VersionConflict(row, text)
        if resolve and base_version is None:
            raise UnknownVersion("Choosing between versions needs the version you chose over.")
        if resolve and row.has_conflict:
            accept_conflict_as_base(row, actor="user", kept=text)
        elif unchanged:
            return row
        set_data(row, {**row.data, USER_DATA_KEY: text}, source=ChangedFrom.LOCAL, now=now)
        row.pending = True
        row.edited_at = now
        row.next_push_at = None
        row.push_attempts = 0
        save_changed(row, before)
        enqueue_push(row)
    return row


def accept_conflict_as_base(row, *, actor, kept):
    """Record that the local text wins over the conflicting IdP copy: that copy becomes the base
    the next push is computed against, so the push is no longer refused as a conflict."""
    version = row.conflict_remote_version
    SyncEvent.objects.create(
        userdata=row,
        kind=SyncEvent.Kind.RESOLVE,
        message="Kept the local edit; it will be pushed.",
        remote_version=version,
        detail={"local": kept, "remote": row.conflict_remote_data, "by": actor},
    )
    row.remote_data = row.conflict_remote_data
    row.remote_version = version
    row.pending = True
    row.next_push_at = None
    clear_conflict(row)


def enqueue_push(row):
    """Push the row from a worker once this transaction commits (at once outside one)."""
    if row.pending and row.subject and row.registered:
        transaction.on_commit(lambda: _send_push(row.pk), robust=True)


def _send_push(row_id):
    from .dispatch import queue_push

    queue_push(row_id)
