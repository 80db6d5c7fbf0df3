"""Refresh tokens seen as FusionAuth sessions: the ``sid`` is the refresh token's stable id."""

import hashlib
import uuid

from oauth2_provider.models import get_refresh_token_model

from devidp.services import canonical_id

RefreshToken = get_refresh_token_model()


def sessions_for(token_id=None, user_id=None, application_id=None, token=None):
    """Live refresh tokens by sid, by the token itself, or by user (and application)."""
    queryset = RefreshToken.objects.filter(revoked__isnull=True).select_related("application")
    try:
        if token:
            checksum = hashlib.sha256(token.encode("utf-8")).hexdigest()
            queryset = queryset.filter(token_checksum=checksum)
        elif token_id:
            queryset = queryset.filter(token_family=uuid.UUID(str(token_id)))
        elif user_id:
            queryset = queryset.filter(user_id=uuid.UUID(str(user_id)))
        else:
            return []
    except ValueError:
        return []
    if application_id:
        queryset = queryset.filter(application__client_id=canonical_id(application_id))
    return list(queryset)


def revoke_sessions(tokens):
    for token in tokens:
        token.revoke()


def refresh_token_json(token):
    return {
        "applicationId": token.application.client_id,
        "id": str(token.token_family),
        "insertInstant": int(token.created.timestamp() * 1000),
        "startInstant": int(token.created.timestamp() * 1000),
        "userId": str(token.user_id),
    }
