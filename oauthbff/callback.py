"""The provider's redirect back to us: the checks before the code is exchanged, and signing in.

``check_authorization_response`` refuses what must never reach the token endpoint (an error answer,
an unknown, used or stale ``state``, an RFC 9207 ``iss`` from another provider); mozilla-django-oidc's
callback then lets the backend exchange the code and validate the tokens, and ``complete_sign_in``
logs the user in with the backend that authenticated them and indexes the session.
"""

import hashlib
import logging
import time

from django.conf import settings
from django.contrib import auth
from django.core.cache import cache
from django.core.exceptions import SuspiciousOperation

from oauthbff.backends import LOGIN_RESULT_ATTR
from oauthbff.conf import oauthbff_settings
from oauthbff.exceptions import InvalidToken, ProviderError, TokenError
from oauthbff.models import OIDCSession
from oauthbff.provider import get_provider
from oauthbff.sessions import current_session, end_session, start_session
from oauthbff.signals import user_signed_in

logger = logging.getLogger(__name__)

STATES_SESSION_KEY = "oidc_states"  # where mozilla-django-oidc keeps pending sign-ins
NEXT_SESSION_KEY = "oidc_login_next"
# Pending sign-ins live in the cache, named by a signed cookie, not in the session table.
PENDING_COOKIE = "oauthbff_signin"
PENDING_SALT = "oauthbff.callback.pending"
MAX_PENDING_PER_BROWSER = 5

PROVIDER_DOWN = (
    "Sign-in unavailable",
    "We could not reach the identity provider. Please try again in a moment.",
)


class SignInFailed(Exception):
    """A sign-in that cannot complete, with the page the person sees (title, message, status)."""

    def __init__(self, title, message, status=400):
        super().__init__(message)
        self.title, self.message, self.status = title, message, status


def pop_state(request, state):
    """Forget a pending sign-in: a ``state`` is good for one answer only."""
    states = request.session.get(STATES_SESSION_KEY) or {}
    if state in states:
        del states[state]
        request.session[STATES_SESSION_KEY] = states


def _pending_key(state):
    return f"oauthbff:sign-in:{hashlib.sha256(state.encode()).hexdigest()}"


def _pending_lifetime():
    # A little longer than STATE_MAX_AGE: the exact age is checked (and told) at the callback.
    return max(int(oauthbff_settings.STATE_MAX_AGE), 0) + 60


def pending_cookie_name():
    """``oauthbff_signin``, with the ``__Host-`` prefix when the session cookie is Secure (the
    browser then keeps it only for this host, over HTTPS, for every path)."""
    prefix = "__Host-" if settings.SESSION_COOKIE_SECURE else ""
    return prefix + PENDING_COOKIE


def _pending_states(request):
    """The states this browser started, newest last, from its signed cookie ([] when none)."""
    value = request.get_signed_cookie(
        pending_cookie_name(), default="", salt=PENDING_SALT, max_age=_pending_lifetime()
    )
    return [state for state in value.split(",") if state]


def _set_pending_cookie(response, states):
    if not states:
        response.delete_cookie(pending_cookie_name(), path="/", samesite="Lax")
        return
    response.set_signed_cookie(
        pending_cookie_name(),
        ",".join(states),
        salt=PENDING_SALT,
        max_age=_pending_lifetime(),
        path="/",
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",  # sent on the provider's top-level redirect back
    )


def pending_sign_in(state):
    """The pending sign-in ``state`` names (nonce, PKCE verifier, next), or None: unknown, used or
    expired."""
    entry = cache.get(_pending_key(state)) if state else None
    return entry if isinstance(entry, dict) else None


def stash_pending_sign_in(request, response):
    """Move the sign-in mozilla-django-oidc just put in the session to the cache.

    An anonymous ``GET /auth/login/`` then writes no session row: the pending state, nonce, PKCE
    verifier and ``next`` wait in the cache for STATE_MAX_AGE, named by a signed, HttpOnly cookie
    that keeps this browser's last MAX_PENDING_PER_BROWSER sign-ins (older ones are forgotten).
    """
    session = request.session
    pending = session.pop(STATES_SESSION_KEY, None) or {}
    next_url = session.pop(NEXT_SESSION_KEY, None)
    if not isinstance(pending, dict) or not pending:
        return response
    states = _pending_states(request)
    for state, entry in pending.items():
        if isinstance(entry, dict) and state.isalnum():
            cache.set(_pending_key(state), {**entry, "next": next_url}, _pending_lifetime())
            states = [s for s in states if s != state] + [state]
    dropped, states = states[:-MAX_PENDING_PER_BROWSER], states[-MAX_PENDING_PER_BROWSER:]
    if dropped:
        cache.delete_many([_pending_key(state) for state in dropped])
    _set_pending_cookie(response, states)
    return response


def restore_pending_sign_in(request):
    """Put the pending sign-in this callback answers back where mozilla-django-oidc reads it.

    Only a state this browser started is looked up, and it is taken from the cache exactly once
    (``cache.delete`` is atomic): a replayed or stolen ``state`` finds nothing.
    """
    state = request.GET.get("state", "")
    if not state or state not in _pending_states(request):
        return
    key = _pending_key(state)
    entry = cache.get(key)
    if not isinstance(entry, dict) or not cache.delete(key):
        return
    next_url = entry.pop("next", None)
    request.session[STATES_SESSION_KEY] = {state: entry}
    if next_url:
        request.session[NEXT_SESSION_KEY] = next_url


def finish_pending_sign_in(request, response):
    """After the callback: drop its state from the cookie, and leave no session row behind for a
    sign-in that failed."""
    state = request.GET.get("state", "")
    states = _pending_states(request)
    if state in states:
        _set_pending_cookie(response, [s for s in states if s != state])
    session = request.session
    session.pop(STATES_SESSION_KEY, None)
    user = getattr(request, "user", None)
    if not (user is not None and user.is_authenticated):
        session.pop(NEXT_SESSION_KEY, None)
        if session.is_empty() or not list(session.keys()):
            session.flush()
    return response


def check_authorization_response(request):
    """Raise SignInFailed unless the redirect carries a code for a fresh, pending sign-in from the
    configured provider."""
    state = request.GET.get("state", "")
    states = request.session.get(STATES_SESSION_KEY) or {}
    error = request.GET.get("error")
    if error:
        pop_state(request, state)
        if error == "access_denied":
            raise SignInFailed(
                "Sign-in cancelled",
                "The identity provider did not sign you in (access was denied).",
                status=403,
            )
        raise SignInFailed("Sign-in failed", "The identity provider could not sign you in.")
    if not state or state not in states or not request.GET.get("code"):
        raise SignInFailed(
            "Sign-in link expired", "This sign-in link is invalid, expired or was already used."
        )
    entry = states[state]
    added_on = entry.get("added_on", 0) if isinstance(entry, dict) else 0
    if time.time() - added_on > oauthbff_settings.STATE_MAX_AGE:
        pop_state(request, state)
        raise SignInFailed(
            "Sign-in link expired", "This sign-in took too long; please start again."
        )
    provider = get_provider()
    iss = request.GET.get("iss")
    # RFC 9207 §2.4: required when the provider says it sends one, and always under FAPI 2.0.
    iss_required = provider.metadata.get("authorization_response_iss_parameter_supported") or (
        str(oauthbff_settings.PROFILE).lower() == "fapi2"
    )
    if (iss is not None and iss != provider.issuer) or (iss is None and iss_required):
        pop_state(request, state)
        raise SignInFailed(
            "Sign-in failed", "The sign-in response came from an unexpected identity provider."
        )


def failure_for(exc):
    """The SignInFailed a failure of the code exchange or token validation becomes (logged)."""
    if isinstance(exc, SignInFailed):
        return exc
    if isinstance(exc, ProviderError):
        logger.warning("oauthbff: sign-in failed, provider problem: %s", exc)
        return SignInFailed(*PROVIDER_DOWN, status=502)
    if isinstance(exc, TokenError):
        logger.warning("oauthbff: sign-in failed, token endpoint said %s", exc.error)
        return SignInFailed(
            "Sign-in failed", "The identity provider refused to complete this sign-in."
        )
    logger.warning("oauthbff: sign-in failed, token rejected: %s", exc)
    return SignInFailed("Sign-in failed", "We could not verify the identity provider's answer.")


# What the code exchange and token validation may raise; each becomes a clear page.
SIGN_IN_ERRORS = (SignInFailed, ProviderError, TokenError, InvalidToken, SuspiciousOperation)


def complete_sign_in(request, user):
    """Log ``user`` in (replacing any earlier session), index the session and announce it.

    ``user`` comes from ``auth.authenticate``, so ``user.backend`` is the configured backend (or
    subclass) that signed them in; Django records it in the session for later requests.
    """
    result = getattr(request, LOGIN_RESULT_ATTR)
    previous = current_session(request)
    if previous is not None:
        end_session(previous, "replaced", delete_django_session=False)
    # A new key for every sign-in: Django keeps the key when the same user signs in again, and the
    # replaced session's row still holds its hash.
    request.session.cycle_key()
    auth.login(request, user)
    request.session.pop(NEXT_SESSION_KEY, None)
    row = start_session(
        request,
        user,
        result["token_response"],
        result["claims"],
        result["access_claims"],
        roles=result["roles"],
        dpop_key=result.get("dpop_key"),
    )
    user_signed_in.send(
        sender=OIDCSession,
        request=request,
        user=user,
        claims=result["claims"],
        access_claims=result["access_claims"],
        expires_at=row.access_expires_at,
    )
    return row
