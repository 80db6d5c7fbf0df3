"""The session index: one ``OIDCSession`` row per signed-in browser session, holding its token set.

Tokens live in the row, keyed from the Django session by the row's id, never in the session dict
itself: a concurrent request that saves its (stale) session at the end cannot overwrite a refreshed
token set. Ending a session ("revoke, then end") is written once, in ``end_session``.
"""

import logging
from importlib import import_module

from django.conf import settings
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from oauthbff.crypto import decrypt, encrypt
from oauthbff.dpop import DPoPKey
from oauthbff.models import OIDCSession, UpstreamToken, session_key_hash
from oauthbff.oidc_client import expires_at, lifetime, revoke_token
from oauthbff.signals import session_ended
from oauthbff.upstreams import sign_in_resources

logger = logging.getLogger(__name__)

SESSION_KEY = "_oauthbff_session"
ROW_CACHE_ATTR = "_oauthbff_row"

# The claims kept with the session (shown by /auth/user/); tokens and anything else stay out.
SAFE_CLAIMS = (
    "sub",
    "iss",
    "email",
    "email_verified",
    "name",
    "given_name",
    "family_name",
    "preferred_username",
    "picture",
    "locale",
    "sid",
    "auth_time",
    "tid",
)


@sensitive_variables()
def start_session(request, user, token_response, claims, access_claims, roles, dpop_key=None):
    """Index the freshly signed-in session and store its tokens (called after ``auth.login``).

    ``roles`` are the ones the backend read; they stay on the row for ``session_roles``.
    ``dpop_key`` is the key the tokens are bound to (DPoP), stored encrypted with them.
    """
    if request.session.session_key is None:
        request.session.save()
    safe = {k: claims[k] for k in SAFE_CLAIMS if k in claims}
    safe["roles"] = sorted(str(role) for role in roles)
    refresh_token_id = token_response.get("refresh_token_id") or access_claims.get("sid") or ""
    row = OIDCSession.objects.create(
        session_key_hash=session_key_hash(request.session.session_key),
        sealed_session_key=encrypt(request.session.session_key),
        user=user,
        issuer=claims["iss"],
        subject=claims["sub"],
        sid=str(claims.get("sid") or "")[:255],
        refresh_token_id=str(refresh_token_id)[:255],
        ip_address=request.META.get("REMOTE_ADDR") or None,
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:300],
        access_token=encrypt(token_response["access_token"]),
        refresh_token=encrypt(token_response.get("refresh_token") or ""),
        id_token=encrypt(token_response.get("id_token") or ""),
        dpop_key=encrypt(dpop_key.to_json()) if dpop_key is not None else "",
        access_expires_at=expires_at(token_response),
        access_lifetime=lifetime(token_response),
        claims=safe,
        resources=sign_in_resources(),
    )
    request.session[SESSION_KEY] = row.pk
    setattr(request, ROW_CACHE_ATTR, row)
    return row


def current_session(request, *, reload=False):
    """The request's active ``OIDCSession`` row, or None (not signed in through the provider)."""
    if not reload and hasattr(request, ROW_CACHE_ATTR):
        return getattr(request, ROW_CACHE_ATTR)
    row = None
    session = getattr(request, "session", None)
    pk = session.get(SESSION_KEY) if session is not None else None
    user = getattr(request, "user", None)
    if pk and user is not None and user.is_authenticated:
        row = OIDCSession.objects.active().filter(pk=pk, user_id=user.pk).first()
        key = session.session_key
        if row is not None and key and row.session_key_hash != session_key_hash(key):
            # Django cycled the key (e.g. a password change) or SECRET_KEY rotated; keep the index
            # pointing at the session.
            values = {"session_key_hash": session_key_hash(key), "sealed_session_key": encrypt(key)}
            OIDCSession.objects.filter(pk=row.pk).update(**values)
            for name, value in values.items():
                setattr(row, name, value)
    setattr(request, ROW_CACHE_ATTR, row)
    return row


def remember_session(request, row):
    """Make ``row`` (e.g. just refreshed) the request's current session row."""
    setattr(request, ROW_CACHE_ATTR, row)


def session_roles(request):
    """The signed-in user's roles, sorted, as the provider granted them for this session.

    They are read from the session's row, which every signed-in request has loaded already, so pages
    and APIs check roles without a query. Django groups hold the same names (set at each sign-in, for
    the admin and permissions); a user signed in without the provider has only those.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return []
    row = current_session(request)
    if row is not None and isinstance(row.claims.get("roles"), list):
        return row.claims["roles"]
    return sorted(user.groups.values_list("name", flat=True))


@sensitive_variables()
def get_id_token(row):
    return decrypt(row.id_token)


def django_session_key(row):
    """The Django session key of ``row`` ("" when its encryption key was rotated away)."""
    return decrypt(row.sealed_session_key)


DPOP_KEY_ATTR = "_oauthbff_dpop_key"


@sensitive_variables()
def session_dpop_key(row):
    """The DPoPKey ``row``'s tokens are bound to, or None (plain bearer tokens). Parsed once per row
    object; a key that no longer decrypts (keys rotated away) is None too, and the provider then
    refuses the tokens, which ends the session at its next refresh."""
    if row is None or not row.dpop_key:
        return None
    if not hasattr(row, DPOP_KEY_ATTR):
        try:
            key = DPoPKey.from_json(decrypt(row.dpop_key))
        except ValueError:
            logger.warning("oauthbff: the DPoP key of session %s is unreadable", row.pk)
            key = None
        setattr(row, DPOP_KEY_ATTR, key)
    return getattr(row, DPOP_KEY_ATTR)


def _session_store():
    return import_module(settings.SESSION_ENGINE).SessionStore


@sensitive_variables()
def end_session(row, reason, *, revoke=False, delete_django_session=True):
    """End one indexed session: revoke its refresh token at the provider first when ``revoke``
    (RFC 7009), wipe its tokens (and delete those minted for upstream APIs), delete its Django session, announce it. True if it was active."""
    if revoke:
        revoke_token(decrypt(row.refresh_token), issuer=row.issuer, dpop_key=session_dpop_key(row))
    updated = (
        OIDCSession.objects.active()
        .filter(pk=row.pk)
        .update(
            ended_at=timezone.now(),
            end_reason=reason[:40],
            access_token="",
            refresh_token="",
            id_token="",
            dpop_key="",
        )
    )
    # The tokens minted for upstream APIs go with the session's own.
    UpstreamToken.objects.filter(session_id=row.pk).delete()
    session_key = django_session_key(row)
    if delete_django_session and session_key:
        _session_store()(session_key=session_key).delete()
    if updated:
        session_ended.send(
            sender=OIDCSession, user=row.user, session_key=session_key, reason=reason
        )
    return bool(updated)


def end_sessions(queryset, reason, *, revoke=False):
    """End every active session in ``queryset`` (see ``end_session``); how many ended."""
    rows = queryset.active().select_related("user")
    return sum(end_session(row, reason, revoke=revoke) for row in rows)
