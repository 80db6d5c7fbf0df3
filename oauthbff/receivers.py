"""oauthbff's own signal receivers, connected in ``OauthbffConfig.ready()``."""

from django.db import transaction

from oauthbff.crypto import reset_fernet
from oauthbff.keys import forget_keys
from oauthbff.models import OIDCSession
from oauthbff.provider import reset_providers
from oauthbff.sessions import SESSION_KEY, end_session, end_sessions

DEACTIVATED_ATTR = "_oauthbff_deactivated"


def end_indexed_session(sender, request, user, **kwargs):
    """Keep the session index in step when Django itself logs a user out (a project's own logout
    view): the session ends and its refresh token is revoked, as /auth/logout/ does."""
    session = getattr(request, "session", None)
    pk = session.get(SESSION_KEY) if session is not None else None
    if pk:
        row = OIDCSession.objects.active().filter(pk=pk).first()
        if row is not None:
            end_session(row, "logout", revoke=True, delete_django_session=False)


def forget_derived_state(*, setting, **kwargs):
    """Providers, encryption and client keys are built from settings: rebuild them when those change."""
    if setting in ("OAUTHBFF", "SECRET_KEY", "SECRET_KEY_FALLBACKS"):
        reset_providers()
        reset_fernet()
        forget_keys()


def note_deactivation(sender, instance, raw=False, **kwargs):
    """pre_save of the user model: remember whether this save turns an active user inactive."""
    if raw or instance.pk is None or getattr(instance, "is_active", True):
        return
    if not any(field.name == "is_active" for field in sender._meta.concrete_fields):
        return  # a user model without the field cannot be deactivated
    was_active = sender._default_manager.filter(pk=instance.pk, is_active=True).exists()
    setattr(instance, DEACTIVATED_ATTR, was_active)


def end_sessions_of_deactivated_user(sender, instance, raw=False, **kwargs):
    """post_save of the user model: a deactivated user's sessions end and their refresh tokens are
    revoked at the provider, once the deactivation is committed."""
    if raw or not getattr(instance, DEACTIVATED_ATTR, False):
        return
    setattr(instance, DEACTIVATED_ATTR, False)
    user_pk = instance.pk
    transaction.on_commit(
        lambda: end_sessions(
            OIDCSession.objects.filter(user_id=user_pk), "deactivated", revoke=True
        )
    )
