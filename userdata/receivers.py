"""Listens to oauthbff's signals: pull on sign-in, deliver waiting edits when a session ends."""

import logging

from . import mirror, pull
from .dispatch import queue_push

logger = logging.getLogger("userdata.receivers")


def pull_on_sign_in(sender, request=None, user=None, claims=None, **kwargs):
    """Link the user's mirror row to the IdP subject and refresh it; never breaks the sign-in.

    The sign-in already waits for the IdP (the token call), so one read here gives the first page
    current data; waiting edits go to a worker.
    """
    claims = claims or {}
    subject = claims.get("sub")
    if user is None or not isinstance(subject, str) or not subject:
        return
    row = mirror.link_mirror(
        user,
        issuer=str(claims.get("iss") or ""),
        subject=subject,
        email=str(claims.get("email") or getattr(user, "email", "") or ""),
    )
    outcome = pull.pull(row)
    if outcome == "error":
        logger.info("userdata: pull on sign-in failed for row %s; the mirror is served", row.pk)
    row.refresh_from_db()
    if row.pending and not row.has_conflict:
        queue_push(row.pk)


def push_on_session_end(sender, user=None, **kwargs):
    """Queue one more delivery of edits the user left waiting."""
    if user is None or not getattr(user, "pk", None):
        return
    row = mirror.get_mirror(user)
    if row is not None and row.pending and not row.has_conflict:
        queue_push(row.pk)
