"""Listens to oauthbff's signals: pull on sign-in, deliver waiting edits when a session ends."""

import logging

from . import sync

logger = logging.getLogger("userdata.receivers")


def pull_on_sign_in(sender, request=None, user=None, claims=None, **kwargs):
    """Link the user's mirror row to the IdP subject and refresh it; never breaks the sign-in."""
    claims = claims or {}
    subject = claims.get("sub")
    if user is None or not isinstance(subject, str) or not subject:
        return
    row = sync.link_mirror(
        user,
        issuer=str(claims.get("iss") or ""),
        subject=subject,
        email=str(claims.get("email") or getattr(user, "email", "") or ""),
    )
    outcome = sync.pull(row)
    if outcome == "error":
        logger.info("userdata: pull on sign-in failed for row %s; the mirror is served", row.pk)
    row.refresh_from_db()
    sync.push_if_due(row)


def push_on_session_end(sender, user=None, **kwargs):
    """Try once more to deliver edits the user left waiting."""
    if user is None or not getattr(user, "pk", None):
        return
    sync.push_if_due(sync.get_mirror(user))
