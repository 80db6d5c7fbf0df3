"""What the user-data field shows: the text, its version, the sync state, and a conflict choice.

Shared by the inclusion tag (any page of the project), the save endpoint's JSON and its no-JavaScript
re-render, so all three say the same thing.
"""

from django.conf import settings
from django.shortcuts import resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode

from . import mirror, pull
from .conf import userdata_settings
from .dispatch import queue_pull
from .models import ChangedFrom, SyncState

STATE_MESSAGES = {
    "saved": "Saved.",
    "pending": "Saved here. Waiting to sync with the identity provider; it will be sent "
    "automatically.",
    "conflict": "Your text and the identity provider's copy both changed. Choose which to keep.",
    "error": "Not saved.",
}


def page_state(row):
    """The sync state shown to the user: saved, pending (waiting to sync) or conflict."""
    if row is None:
        return "saved"
    state = row.sync_state
    if state == SyncState.CONFLICT:
        return "conflict"
    if state == SyncState.PENDING:
        return "pending"
    return "saved"


def load_row(request):
    """The signed-in user's row as the page should show it; a stale mirror gets a pull queued
    (the page renders what it has: no request waits for the IdP)."""
    row = mirror.get_mirror(request.user, fresh=False)
    if row is None:
        row = mirror.mirror_for_user(request.user)
    elif pull.needs_pull(row):
        queue_pull(row.pk)
    return row


def conflict_choice(row, yours):
    """Both texts for the user to choose from: theirs and the current one, with where and when
    the current one changed. With a conflict from a push, "current" is the IdP's copy."""
    if row.has_conflict:
        current, changed_at, where = row.conflict_text, row.conflict_at, ChangedFrom.IDP.label
    else:
        current = row.user_text
        changed_at = row.changed_at or row.edited_at or row.pulled_at
        where = ChangedFrom(row.changed_from).label if row.changed_from else ""
    return {
        "yours": yours,
        "current": current,
        "version": row.version,
        "changed_at": changed_at.isoformat() if changed_at else None,
        "changed_from": where,
    }


def state_payload(row):
    """The field's state as the save endpoint's JSON (and the poll's)."""
    state = page_state(row)
    payload = {
        "state": state,
        "message": STATE_MESSAGES[state],
        "version": row.version,
        "text": row.user_text,
        "changed_at": row.changed_at.isoformat() if row.changed_at else None,
    }
    if row.has_conflict:
        payload["conflict"] = conflict_choice(row, row.user_text)
    return payload


def etag(row):
    """Changes whenever what the poll would show changes (text, version or state)."""
    return f'"ud-{row.pk}-{row.version}-{page_state(row)}"'


def safe_next(request, value):
    if value and url_has_allowed_host_and_scheme(
        value, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return value
    return "/"


def field_context(request, *, row=None, text=None, error=None, conflict=None, next_url=None):
    """The template context of `userdata/field.html` for the signed-in user."""
    next_url = next_url or request.get_full_path()
    login = resolve_url(settings.LOGIN_URL)
    context = {
        "max_bytes": userdata_settings.MAX_BYTES,
        "poll_seconds": userdata_settings.POLL_SECONDS,
        "save_url": reverse("userdata:save"),
        "login_url": f"{login}?{urlencode({'next': next_url})}",
        "next": next_url,
        "signed_in": request.user.is_authenticated,
    }
    if not request.user.is_authenticated:
        return context
    row = row or load_row(request)
    state = "error" if error else page_state(row)
    context.update(
        row=row,
        version=row.version,
        user_text=row.user_text if text is None else text,
        state=state,
        state_message=error or STATE_MESSAGES[state],
        form_error=error,
        draft_key=f"userdata-draft:{request.user.pk}",
        conflict=conflict or (conflict_choice(row, row.user_text) if row.has_conflict else None),
    )
    return context
