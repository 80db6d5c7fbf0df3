"""Signing out: RP-initiated logout (the browser goes to the provider) and back-channel logout."""

import hashlib
import logging
import secrets
import time
from urllib.parse import urlencode

from django.contrib import auth
from django.core.cache import cache
from django.db.models import Q
from django.shortcuts import resolve_url
from django.views.decorators.debug import sensitive_variables

from oauthbff.conf import oauthbff_settings
from oauthbff.exceptions import InvalidToken, ProviderError
from oauthbff.models import OIDCSession
from oauthbff.provider import get_provider
from oauthbff.sessions import current_session, end_session, end_sessions, get_id_token

logger = logging.getLogger(__name__)

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"


def post_logout_redirect_url():
    """Where the browser lands after signing out (POST_LOGOUT_REDIRECT_URL, default "/")."""
    return resolve_url(oauthbff_settings.POST_LOGOUT_REDIRECT_URL or "/")


@sensitive_variables()
def end_session_url(request, row):
    """The provider's end_session_endpoint (RP-Initiated Logout 1.0) for the session ``row``: ""
    when it has none, None when it is known to be down.

    It names this client (``client_id``) and the provider's session (``logout_hint``, its ``sid``)
    rather than carrying the ID token: the URL goes through the browser (history, the provider's
    request logs) and the ID token is personal data. FusionAuth ignores the hint when ``client_id``
    is sent, Auth0 and node-oidc-provider accept ``client_id`` with ``logout_hint``. Set
    LOGOUT_ID_TOKEN_HINT for a provider that asks for confirmation without it (Keycloak).
    """
    provider = get_provider()
    try:
        provider.ensure_reachable()
        endpoint = provider.end_session_endpoint
    except ProviderError:
        return None  # known to be down: the browser must not be sent there
    if not endpoint:
        return ""
    params = {
        "client_id": oauthbff_settings.CLIENT_ID,
        "post_logout_redirect_uri": request.build_absolute_uri(post_logout_redirect_url()),
        "state": secrets.token_urlsafe(16),
    }
    if row is not None and row.sid:
        params["logout_hint"] = row.sid
    if row is not None and oauthbff_settings.LOGOUT_ID_TOKEN_HINT:
        id_token = get_id_token(row)
        if id_token:
            params["id_token_hint"] = id_token
    separator = "&" if "?" in endpoint else "?"
    return f"{endpoint}{separator}{urlencode(params)}"


@sensitive_variables()
def sign_out(request):
    """Revoke, end the local session and return where the browser goes next; None when the
    provider is down (signed out here only: the caller shows a page instead of a dead host)."""
    row = current_session(request)
    url = ""
    if row is not None:
        url = end_session_url(request, row)
        end_session(row, "logout", revoke=True, delete_django_session=False)
    auth.logout(request)
    if url is None:
        return None
    return url or post_logout_redirect_url()


def _other_sessions(request):
    row = current_session(request)
    others = OIDCSession.objects.filter(user=request.user)
    if row is not None:
        others = others.exclude(pk=row.pk)
    return others


def end_other_sessions(request):
    """Sign the user out everywhere else; the current session stays."""
    return end_sessions(_other_sessions(request), "ended_by_user", revoke=True)


def end_other_session(request, session_id):
    """Sign out one of the user's other sessions (revoke, then end); False when ``session_id`` is
    not an active session of this user other than the current one: never another user's."""
    try:
        session_id = int(session_id)
    except (TypeError, ValueError):
        return False
    return bool(
        end_sessions(_other_sessions(request).filter(pk=session_id), "ended_by_user", revoke=True)
    )


def remember_logout_token(claims):
    """Refuse a logout token seen before, or older than LOGOUT_TOKEN_MAX_AGE.

    A token is good until ``exp`` and at most LOGOUT_TOKEN_MAX_AGE seconds after ``iat`` (plus the
    clock skew); its ``jti`` is kept exactly that long, so a replay is refused as long as it could
    otherwise be accepted.
    """
    skew = int(oauthbff_settings.CLOCK_SKEW)
    good_until = min(claims["exp"], claims["iat"] + int(oauthbff_settings.LOGOUT_TOKEN_MAX_AGE))
    remaining = good_until + skew - time.time()
    if remaining <= 0:
        raise InvalidToken("The logout token is too old.")
    digest = hashlib.sha256(claims["jti"].encode()).hexdigest()
    if not cache.add(f"oauthbff:logout-jti:{digest}", 1, int(remaining) + 1):
        raise InvalidToken("The logout token was already used.")


@sensitive_variables()
def backchannel_logout(logout_token):
    """Validate a Back-Channel Logout 1.0 logout token (§2.6) and end the matching sessions."""
    provider = get_provider()
    claims = provider.decode_jwt(
        logout_token, audience=oauthbff_settings.CLIENT_ID, require=("exp", "iat", "iss", "jti")
    )
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_EVENT), dict):
        raise InvalidToken("The logout token lacks the back-channel logout event.")
    if "nonce" in claims:
        raise InvalidToken("A logout token must not contain a nonce.")
    sid, sub = claims.get("sid"), claims.get("sub")
    if not sid and not sub:
        raise InvalidToken("The logout token names neither a session (sid) nor a subject (sub).")
    if not isinstance(claims["jti"], str) or not claims["jti"] or len(claims["jti"]) > 255:
        raise InvalidToken("The logout token's jti is not a string.")
    remember_logout_token(claims)
    sessions = OIDCSession.objects.filter(issuer=provider.issuer)
    if sid:
        sessions = sessions.filter(Q(sid=sid) | Q(refresh_token_id=sid))
    if sub:
        sessions = sessions.filter(subject=sub)
    ended = end_sessions(sessions, "backchannel", revoke=True)
    logger.info("oauthbff: back-channel logout ended %s session(s)", ended)
    return ended
