"""Keeps the session index in step when Django itself logs a user out (e.g. the admin's logout)."""

from oauthbff.tokens import SESSION_KEY, end_session


def end_indexed_session(sender, request, user, **kwargs):
    from oauthbff.models import OIDCSession

    session = getattr(request, "session", None)
    pk = session.get(SESSION_KEY) if session is not None else None
    if pk:
        row = OIDCSession.objects.active().filter(pk=pk).first()
        if row is not None:
            end_session(row, "logout", delete_django_session=False)
