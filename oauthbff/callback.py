"""The provider's redirect back to us: the checks before the code is exchanged, and signing in.

``check_authorization_response`` refuses what must never reach the token endpoint (an error answer,
an unknown, used or stale ``state``, an RFC 9207 ``iss`` from another provider); mozilla-django-oidc's
callback then lets the backend exchange the code and validate the tokens, and ``complete_sign_in``
logs the user in with the backend that authenticated them and indexes the session.
"""

import logging
import time

from django.contrib import auth
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
    iss_required = provider.metadata.get("authorization_response_iss_parameter_supported")
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
