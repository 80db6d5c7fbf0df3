"""Keeping a session's access token fresh: single-flight refresh across threads and processes.

Every refresh bumps the row's ``version`` with a compare-and-set; the lock is ``cache.add`` (SET NX
on Redis) with a timeout, and waiters poll the row for a new ``version``. The same lock guards the
grants that mint upstream APIs' tokens (``oauthbff.upstream_tokens``): they spend the same refresh
token. Roles follow the provider
at each refresh (read from the refreshed tokens, userinfo or introspection; none: no roles),
through the signed-in backend's ``update_user`` hook.
"""

import logging
import secrets
import time
from datetime import timedelta

from django.contrib.auth import BACKEND_SESSION_KEY, load_backend
from django.core.cache import cache
from django.db.models import F
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from oauthbff.backends import OIDCBackend, first_oidc_backend
from oauthbff.conf import oauthbff_settings
from oauthbff.crypto import decrypt, encrypt
from oauthbff.exceptions import (
    InvalidToken,
    ProviderError,
    RefreshUnavailable,
    SessionExpired,
    TokenError,
)
from oauthbff.models import OIDCSession
from oauthbff.oidc_client import (
    access_token_claims,
    expires_at,
    fetch_userinfo,
    introspect,
    lifetime,
    token_request,
)
from oauthbff.provider import get_provider
from oauthbff.sessions import current_session, end_session, remember_session, session_dpop_key
from oauthbff.signals import tokens_refreshed
from oauthbff.upstreams import as_list

logger = logging.getLogger(__name__)

# What the token endpoint answers when the refresh token is no good any more (RFC 6749 §5.2).
GRANT_ENDED_ERRORS = ("invalid_grant", "invalid_token", "unauthorized_client")


def refresh_leeway(row):
    """REFRESH_LEEWAY, capped at half the lifetime the provider issued the token for: a token that
    lives 5 seconds is refreshed after 2.5, not on every request."""
    leeway = float(oauthbff_settings.REFRESH_LEEWAY)
    if row.access_lifetime is not None:
        leeway = min(leeway, row.access_lifetime / 2)
    return timedelta(seconds=leeway)


def needs_refresh(row):
    """True when the row's access token expires within ``refresh_leeway`` (or has no expiry)."""
    if row.access_expires_at is None:
        return True
    return row.access_expires_at <= timezone.now() + refresh_leeway(row)


def _reload(row):
    return OIDCSession.objects.active().filter(pk=row.pk).first()


def _lock_key(row):
    return f"oauthbff:refresh-lock:{row.pk}"


def _failure_key(row, version):
    return f"oauthbff:refresh-failed:{row.pk}:{version}"


def single_flight(row, *, locked, ready, failure_key):
    """Run ``locked()`` holding the session's refresh lock (one per session, across threads and
    processes), or wait for the holder's result: ``ready()`` is polled until it returns something
    other than None. Everything that spends the session's refresh token goes through here, so a
    rotating provider never sees it used twice.

    Waiters give up after REFRESH_WAIT_SECONDS, or as soon as the holder left ``failure_key`` in
    the cache (the provider is down), with RefreshUnavailable.
    """
    deadline = time.monotonic() + oauthbff_settings.REFRESH_WAIT_SECONDS
    lock_key = _lock_key(row)
    while True:
        owner = secrets.token_hex(8)
        if cache.add(lock_key, owner, oauthbff_settings.REFRESH_LOCK_SECONDS):
            try:
                return locked()
            finally:
                if cache.get(lock_key) == owner:
                    cache.delete(lock_key)
        while True:
            if time.monotonic() > deadline:
                raise RefreshUnavailable("Timed out waiting for a token refresh.")
            time.sleep(0.05)
            result = ready()
            if result is not None:
                return result
            if cache.get(failure_key):
                raise RefreshUnavailable("The identity provider could not refresh the session.")
            if cache.get(lock_key) is None:
                break


def active_row(row):
    """``row`` as stored now; SessionExpired when the session has ended meanwhile."""
    fresh = _reload(row)
    if fresh is None:
        raise SessionExpired("Your session has ended.")
    return fresh


def refresh_tokens(row, *, request=None, force=False):
    """Refresh ``row``'s tokens, single-flight across threads and processes; return the fresh row.

    Waiters give up after REFRESH_WAIT_SECONDS with RefreshUnavailable.
    """
    seen_version = row.version

    def locked():
        fresh = active_row(row)
        if fresh.version != seen_version or not (force or needs_refresh(fresh)):
            return fresh
        return _refresh_locked(fresh, request)

    def ready():
        fresh = active_row(row)
        return fresh if fresh.version != seen_version else None

    return single_flight(
        row, locked=locked, ready=ready, failure_key=_failure_key(row, seen_version)
    )


def remember_failure(key):
    """Tell the waiters, for a few seconds, that the provider failed for a passing reason."""
    cache.set(key, 1, 10)


def _postpone(row, message):
    """Remember for a few seconds that this version failed for a passing reason, so waiters stop."""
    remember_failure(_failure_key(row, row.version))
    return RefreshUnavailable(message)


@sensitive_variables()
def _refresh_locked(row, request):
    refresh_token = decrypt(row.refresh_token)
    if not refresh_token:
        end_session(row, "refresh_failed")
        raise SessionExpired("Your session has no refresh token; please sign in again.")
    try:
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        resources = as_list(oauthbff_settings.RESOURCE)
        if resources:
            # RFC 8707 §2.2: the refreshed token is for the same APIs as the first one.
            form["resource"] = resources
        response = token_request(form, dpop_key=session_dpop_key(row))
    except TokenError as exc:
        if exc.error in GRANT_ENDED_ERRORS:
            # Another process may have rotated the token in the meantime: re-read before giving up.
            fresh = _reload(row)
            if fresh is not None and fresh.version != row.version:
                return fresh
            if fresh is not None and fresh.refresh_token != row.refresh_token:
                # Rotated by a grant for an upstream's token while the lock had expired.
                return _refresh_locked(fresh, request)
            end_session(fresh or row, "refresh_failed")
            raise SessionExpired("Your session has ended at the identity provider.") from exc
        raise _postpone(row, str(exc)) from exc
    except (ProviderError, InvalidToken) as exc:
        raise _postpone(row, str(exc)) from exc

    id_token = response.get("id_token")
    id_claims = {}
    if id_token:
        try:
            id_claims = get_provider(row.issuer).decode_jwt(
                id_token,
                audience=oauthbff_settings.CLIENT_ID,
                authorized_party=oauthbff_settings.CLIENT_ID,
            )
        except (InvalidToken, ProviderError) as exc:
            logger.warning("oauthbff: refreshed ID token rejected: %s", exc)
            raise _postpone(row, "The refreshed ID token was invalid.") from exc
        if id_claims.get("sub") != row.subject:
            end_session(row, "refresh_failed")
            raise SessionExpired("The identity provider returned another user.")
    new_expiry = expires_at(response)
    values = {
        "access_lifetime": lifetime(response),
        "access_token": encrypt(response["access_token"]),
        "refresh_token": encrypt(response.get("refresh_token") or refresh_token),
        "id_token": encrypt(id_token) if id_token else row.id_token,
        "access_expires_at": new_expiry,
        "version": F("version") + 1,
        "last_used_at": timezone.now(),
    }
    # Role changes at the provider reach the session with the next refresh, not the next sign-in.
    backend = signed_in_backend(request)
    roles = sorted(refreshed_roles(backend, response["access_token"], id_claims, row.subject))
    changed_roles = roles != row.claims.get("roles")
    if changed_roles:
        values["claims"] = {**row.claims, "roles": roles}
    # Compare-and-set on the version and on the refresh token spent (an upstream's grant may have
    # rotated it).
    updated = (
        OIDCSession.objects.active()
        .filter(pk=row.pk, version=row.version, refresh_token=row.refresh_token)
        .update(**values)
    )
    fresh = _reload(row)
    if fresh is None:
        raise SessionExpired("Your session has ended.")
    if updated and changed_roles:
        logger.info("oauthbff: roles changed at refresh for session %s", row.pk)
        backend.update_user(fresh.user, {**row.claims, **id_claims, "roles": roles})
    if updated:
        tokens_refreshed.send(
            sender=OIDCSession, request=request, user=fresh.user, expires_at=new_expiry
        )
    return fresh


def signed_in_backend(request):
    """The backend the user signed in with (its hooks apply at refresh too), else the first
    oauthbff backend in AUTHENTICATION_BACKENDS."""
    session = getattr(request, "session", None)
    path = session.get(BACKEND_SESSION_KEY) if session is not None else None
    if path:
        backend = load_backend(path)
        if isinstance(backend, OIDCBackend):
            return backend
    return first_oidc_backend()


@sensitive_variables()
def refreshed_roles(backend, access_token, id_claims, subject):
    """The roles the provider grants now, read from the first source that carries them: the
    refreshed access token (when it is a JWT for this client), the refreshed ID token, userinfo,
    then introspection. When none does, no roles: a revoked role must not outlive the refresh
    because the access token is opaque or meant for another API."""
    mapper = backend.roles_mapper
    for source, read in (
        ("access token", lambda: access_token_claims(access_token)),
        ("ID token", lambda: id_claims),
        ("userinfo", lambda: fetch_userinfo(access_token)),
        ("introspection", lambda: introspect(access_token)),
    ):
        try:
            claims = read()
        except (InvalidToken, ProviderError, TokenError) as exc:
            logger.info("oauthbff: roles not readable from the refreshed %s (%s)", source, exc)
            continue
        if not claims or claims.get("sub", subject) != subject:
            continue
        if source == "introspection" and claims.get("active") is not True:
            continue
        roles = mapper.roles_from_claims(claims)
        if roles is not None:
            return roles
    logger.info("oauthbff: no source of roles answered at refresh; the session's roles are dropped")
    return []


@sensitive_variables()
def get_access_token(request, *, force=False):
    """The session's current access token, refreshed (single-flight) when close to expiry.

    Raises ``SessionExpired`` when no token can be had; ``RefreshUnavailable`` (a subclass) when the
    provider is only temporarily unreachable and the old token has already expired.
    """
    row = current_session(request)
    if row is None:
        raise SessionExpired("You are not signed in.")
    if force or needs_refresh(row):
        try:
            row = refresh_tokens(row, request=request, force=force)
        except RefreshUnavailable:
            if not force and row.access_expires_at and row.access_expires_at > timezone.now():
                return decrypt(row.access_token)
            raise
        remember_session(request, row)
    token = decrypt(row.access_token)
    if not token:
        raise SessionExpired("Your session has no access token; please sign in again.")
    return token
