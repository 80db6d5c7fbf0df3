"""Tokens per API: an access token minted for one upstream, kept for one session.

An upstream whose UPSTREAMS entry names a ``resource`` (RFC 8707), an ``audience`` (Auth0) or a
``scope`` gets a token of its own, never the session's main one: the session's refresh token is
spent on a refresh grant that asks for exactly that target (RFC 8707 §2.2 "downscoping"), and the
answer is kept encrypted in an ``UpstreamToken`` row until shortly before it expires. The grant
runs under the session's refresh lock (``oauthbff.refresh.single_flight``), so concurrent first
calls make one grant, and a refresh token the provider rotates on it is written back under that
same lock. With DPoP the grant carries the session's proof, so the token is bound to its key too.
"""

import logging
from datetime import timedelta

from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from oauthbff.conf import oauthbff_settings
from oauthbff.crypto import decrypt, encrypt
from oauthbff.exceptions import (
    InvalidToken,
    ProviderError,
    RefreshUnavailable,
    SessionExpired,
    TokenError,
    UpstreamNotGranted,
    UpstreamTokenRefused,
)
from oauthbff.models import OIDCSession, UpstreamToken
from oauthbff.oidc_client import expires_at, lifetime, token_request
from oauthbff.refresh import (
    GRANT_ENDED_ERRORS,
    active_row,
    remember_failure,
    single_flight,
)
from oauthbff.sessions import current_session, end_session, remember_session, session_dpop_key

logger = logging.getLogger(__name__)

# What the token endpoint answers when it will not mint a token for this target, though the
# session itself is fine (RFC 8707 §2, RFC 6749 §5.2): a configuration problem, not the user's.
TARGET_REFUSED_ERRORS = ("invalid_target", "invalid_scope", "unauthorized_client", "access_denied")


def usable(token, upstream):
    """True when ``token`` (a row or None) was minted for ``upstream``'s current target and lives
    beyond the refresh leeway (REFRESH_LEEWAY, at most half its lifetime)."""
    if token is None or token.target != upstream.target:
        return False
    leeway = min(float(oauthbff_settings.REFRESH_LEEWAY), token.lifetime / 2)
    return token.expires_at > timezone.now() + timedelta(seconds=leeway)


def _stored(row, upstream):
    return UpstreamToken.objects.filter(session_id=row.pk, upstream=upstream.name).first()


def _failure_key(row, upstream, stale):
    stamp = stale.expires_at.timestamp() if stale is not None else 0
    return f"oauthbff:upstream-token-failed:{row.pk}:{upstream.name}:{stamp}"


def grant_form(refresh_token, upstream):
    """The refresh grant that asks for ``upstream``'s token: its resource(s), audience and scope."""
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    if upstream.resources:
        form["resource"] = list(upstream.resources)
    if upstream.audience:
        form["audience"] = upstream.audience
    if upstream.scope:
        form["scope"] = upstream.scope
    return form


@sensitive_variables()
def _mint_locked(row, upstream, failure_key, *, retried=False):
    """The grant, under the session's refresh lock; the stored UpstreamToken."""
    refresh_token = decrypt(row.refresh_token)
    if not refresh_token:
        end_session(row, "refresh_failed")
        raise SessionExpired("Your session has no refresh token; please sign in again.")
    try:
        response = token_request(
            grant_form(refresh_token, upstream), dpop_key=session_dpop_key(row)
        )
    except TokenError as exc:
        if exc.error in TARGET_REFUSED_ERRORS:
            logger.warning(
                "oauthbff: no token for upstream %r (%s); check its resource, audience and scope",
                upstream.name,
                exc.error,
            )
            raise UpstreamTokenRefused(upstream.name, exc.error) from exc
        if exc.error in GRANT_ENDED_ERRORS:
            fresh = OIDCSession.objects.active().filter(pk=row.pk).first()
            if fresh is not None and fresh.refresh_token != row.refresh_token and not retried:
                # Rotated meanwhile (the lock had expired): once more with the new one.
                return _mint_locked(fresh, upstream, failure_key, retried=True)
            end_session(fresh or row, "refresh_failed")
            raise SessionExpired("Your session has ended at the identity provider.") from exc
        remember_failure(failure_key)
        raise _unavailable(exc) from exc
    except (ProviderError, InvalidToken) as exc:
        remember_failure(failure_key)
        raise _unavailable(exc) from exc
    rotated = response.get("refresh_token")
    if rotated and rotated != refresh_token:
        # The old refresh token is spent: the new one must be the session's before the lock goes.
        updated = (
            OIDCSession.objects.active()
            .filter(pk=row.pk, refresh_token=row.refresh_token)
            .update(refresh_token=encrypt(rotated))
        )
        if not updated:
            logger.warning("oauthbff: session %s changed while its refresh token rotated", row.pk)
            raise SessionExpired("Your session has ended.")
    token, _ = UpstreamToken.objects.update_or_create(
        session_id=row.pk,
        upstream=upstream.name,
        defaults={
            "target": upstream.target,
            "access_token": encrypt(response["access_token"]),
            "expires_at": expires_at(response),
            "lifetime": lifetime(response),
            "created_at": timezone.now(),
        },
    )
    return token


def _unavailable(exc):
    logger.warning("oauthbff: the provider could not mint an upstream token: %s", exc)
    return RefreshUnavailable("The identity provider could not issue a token for this API.")


@sensitive_variables()
def _readable(token, upstream):
    """The plain text of a stored token that may be sent to ``upstream`` now, or "" (none, expiring,
    for another target, or encrypted with a key since rotated away)."""
    return decrypt(token.access_token) if usable(token, upstream) else ""


@sensitive_variables()
def upstream_access_token(request, upstream):
    """The request's session's access token for ``upstream`` (an ``oauthbff.upstreams.Upstream``
    with a target of its own): the stored one while it lives, else a new one, single-flight.

    Raises SessionExpired when the session must sign in again, RefreshUnavailable (a subclass) when
    the provider is down for now, UpstreamTokenRefused when it will not mint a token for that target,
    UpstreamNotGranted when the session's sign-in did not ask for its resource.
    """
    row = current_session(request)
    if row is None:
        raise SessionExpired("You are not signed in.")
    stored = _stored(row, upstream)
    token = _readable(stored, upstream)
    if token:
        return token
    if not set(upstream.resources) <= set(row.resources):
        raise UpstreamNotGranted(upstream.name)
    failure_key = _failure_key(row, upstream, stored)

    def locked():
        fresh = active_row(row)
        token = _readable(_stored(fresh, upstream), upstream)
        if token:
            return token
        token = decrypt(_mint_locked(fresh, upstream, failure_key).access_token)
        remember_session(request, active_row(fresh))
        return token

    def ready():
        return _readable(_stored(row, upstream), upstream) or None

    return single_flight(row, locked=locked, ready=ready, failure_key=failure_key)
