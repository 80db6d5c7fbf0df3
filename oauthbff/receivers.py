"""oauthbff's own signal receivers, connected in ``OauthbffConfig.ready()``."""

from oauthbff.crypto import reset_fernet
from oauthbff.keys import forget_keys
from oauthbff.models import OIDCSession
from oauthbff.provider import reset_providers
from oauthbff.sessions import SESSION_KEY, end_session


def end_indexed_session(sender, request, user, **kwargs):
    """Keep the session index in step when Django itself logs a user out (e.g. the admin's logout)."""
    session = getattr(request, "session", None)
    pk = session.get(SESSION_KEY) if session is not None else None
    if pk:
        row = OIDCSession.objects.active().filter(pk=pk).first()
        if row is not None:
            end_session(row, "logout", delete_django_session=False)


def forget_derived_state(*, setting, **kwargs):
    """Providers, encryption and client keys are built from settings: rebuild them when those change."""
    if setting in ("OAUTHBFF", "SECRET_KEY", "SECRET_KEY_FALLBACKS"):
        reset_providers()
        reset_fernet()
        forget_keys()
