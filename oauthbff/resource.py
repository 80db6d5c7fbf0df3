"""Protecting our own JSON APIs: the BFF session, or an access token verified without a round trip.

A request is let in by (in this order) an ``Authorization: Bearer`` (or ``DPoP``) header, the
signed-in BFF session,
or the ``ACCESS_TOKEN_COOKIE`` cookie when one is configured. JWTs are verified against the
provider's cached JWKS; opaque tokens are checked by introspection (RFC 7662) when
INTROSPECT_OPAQUE_TOKENS is on. Failures follow RFC 6750: 401 with ``WWW-Authenticate: Bearer`` and a JSON body, 403 for a
missing role. Ambient credentials (session, cookie) keep Django's CSRF protection on unsafe methods;
a bearer header cannot be sent by a forged cross-site request, so it is exempt. A DPoP-bound token
(RFC 9449: ``cnf.jkt``) is accepted only as ``Authorization: DPoP`` with a valid proof by its key,
each proof once (the jti replay set lives in Django's cache, shared by every process on Redis).
"""

import logging
import time
from dataclasses import dataclass, field
from functools import wraps

from django.middleware.csrf import CsrfViewMiddleware
from django.views.decorators.csrf import csrf_exempt

from oauthbff.conf import oauthbff_settings
from oauthbff.dpop import ALGORITHMS as DPOP_ALGORITHMS
from oauthbff.dpop import InvalidProof, verify_proof
from oauthbff.exceptions import InvalidToken, ProviderError, SessionExpired, TokenError
from oauthbff.oidc_client import introspect
from oauthbff.provider import get_provider
from oauthbff.refresh import get_access_token
from oauthbff.responses import json_error
from oauthbff.roles import get_roles_mapper
from oauthbff.sessions import session_roles

logger = logging.getLogger(__name__)

REALM = "api"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


@dataclass(frozen=True)
class Principal:
    """Who is calling an API, how they proved it, and the roles they hold."""

    via: str  # "header", "cookie" or "session"
    roles: frozenset
    subject: str = ""
    claims: dict = field(default_factory=dict, repr=False)
    user: object = None

    def has_any_role(self, roles):
        return not roles or bool(self.roles.intersection(roles))


class MissingToken(TokenError):
    """No credentials at all: RFC 6750 §3.1 says to send the challenge without an error code."""

    error = "unauthorized"


class InsufficientRole(TokenError):
    status = 403
    error = "insufficient_scope"


def temporarily_unavailable():
    return TokenError(
        "The token cannot be verified right now; try again shortly.",
        error="temporarily_unavailable",
        status=503,
    )


# --- finding and verifying the token ---------------------------------------------------------------
class InvalidDPoPProof(TokenError):
    """A DPoP-bound token without a good proof: challenged with the DPoP scheme (RFC 9449 §7.1)."""

    error = "invalid_dpop_proof"
    scheme = "DPoP"


def get_request_token(request):
    """(token, via) from the Authorization header (Bearer or DPoP) or the ACCESS_TOKEN_COOKIE
    cookie; (None, None) when neither."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header:
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        if scheme.lower() not in ("bearer", "dpop") or not token or " " in token:
            raise TokenError(
                'The Authorization header must be "Bearer <access token>" or "DPoP <access token>".',
                error="invalid_request",
            )
        return token, "header"
    cookie = oauthbff_settings.ACCESS_TOKEN_COOKIE
    token = request.COOKIES.get(cookie, "").strip() if cookie else ""
    if token:
        return token, "cookie"
    return None, None


def api_audiences():
    """The audiences an API token may name: OIDC_API_AUDIENCE, or this client's own id."""
    configured = oauthbff_settings.API_AUDIENCE
    if isinstance(configured, str):
        configured = [a.strip() for a in configured.split(",") if a.strip()]
    return list(configured) or [oauthbff_settings.CLIENT_ID]


def looks_like_jwt(token):
    return token.count(".") == 2


# Claims only ID tokens and logout tokens carry: neither may stand in for an access token.
_NOT_ACCESS_TOKEN_CLAIMS = ("nonce", "at_hash", "c_hash", "events")


def decode_access_token(token, *, audience):
    """Verify a JWT access token with the provider's checks and cached JWKS; return its claims.

    ``Provider.decode_access_token`` does every check (alg allowlist, signature, iss, aud,
    exp/nbf/iat; a token seen in the last minute is not checked twice); an access token must also
    not be an ID or logout token replayed at the API.
    """
    claims = get_provider().decode_access_token(token, audience=audience)
    if any(name in claims for name in _NOT_ACCESS_TOKEN_CLAIMS):
        raise InvalidToken("The token is not an access token.")
    return claims


def verify_access_token(token):
    """The verified claims of an access token, or TokenError. JWTs are checked locally."""
    if looks_like_jwt(token):
        try:
            return decode_access_token(token, audience=api_audiences())
        except InvalidToken as exc:
            raise TokenError(str(exc)) from exc
        except ProviderError as exc:
            raise temporarily_unavailable() from exc
    if oauthbff_settings.INTROSPECT_OPAQUE_TOKENS:
        return introspect_token(token)
    raise TokenError("The access token is not a signed JWT.")


def introspect_token(token):
    """Ask the provider whether an opaque token is active (RFC 7662); one round trip per call."""
    try:
        claims = introspect(token)
    except ProviderError as exc:
        logger.warning("oauthbff: token introspection failed: %s", exc)
        raise temporarily_unavailable() from exc
    return check_introspection_claims(claims, issuer=get_provider().issuer)


def check_introspection_claims(claims, *, issuer):
    """The checks a JWT gets locally, applied to an introspection answer."""
    if claims.get("active") is not True:
        raise TokenError("The token is not active.")
    leeway = oauthbff_settings.CLOCK_SKEW
    exp = claims.get("exp")
    if isinstance(exp, int | float):
        if exp > 1e11:  # FusionAuth's documented example uses milliseconds.
            exp = exp / 1000
        if exp < time.time() - leeway:
            raise TokenError("The token has expired.")
    if claims.get("iss") and claims["iss"] != issuer:
        raise TokenError("The token was issued by another issuer.")
    aud = claims.get("aud")
    if aud is not None:
        token_audiences = aud if isinstance(aud, list) else [aud]
        if not set(token_audiences).intersection(api_audiences()):
            raise TokenError("The token was issued for another audience.")
    return claims


DPOP_PROOF_MAX_AGE = 60  # seconds a proof is good for (and its jti remembered)
DPOP_PROOF_LEEWAY = 10  # seconds of clock difference allowed on its iat


def check_sender_constraint(request, token, claims):
    """A DPoP-bound token must come as ``Authorization: DPoP`` with one proof for this request by
    the key the token is bound to (RFC 9449 §7.1, §7.2); an unbound one must not claim to be."""
    cnf = claims.get("cnf")
    jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme = header.strip().partition(" ")[0].lower()
    if jkt is None:
        if scheme == "dpop":
            raise InvalidDPoPProof("The token is not DPoP-bound; send it as a Bearer token.")
        return
    if scheme != "dpop":
        raise InvalidDPoPProof('The token is DPoP-bound: send it as "DPoP <token>" with a proof.')
    proof = request.META.get("HTTP_DPOP", "")
    if not proof or "," in proof:
        raise InvalidDPoPProof("Exactly one DPoP proof must come with a DPoP-bound token.")
    try:
        verify_proof(
            proof,
            method=request.method,
            url=request.build_absolute_uri(),
            access_token=token,
            jkt=jkt,
            max_age=DPOP_PROOF_MAX_AGE,
            leeway=DPOP_PROOF_LEEWAY,
        )
    except InvalidProof as exc:
        raise InvalidDPoPProof(str(exc)) from exc


def roles_from_claims(claims):
    """The roles a bearer token grants, read by the same ROLES_MAPPER as at sign-in and refresh."""
    return frozenset(get_roles_mapper().roles_from_claims(claims) or ())


def session_principal(request):
    """The signed-in user's principal, or None. Ends in TokenError when the session has expired."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    try:
        get_access_token(request)
    except SessionExpired as exc:
        # A provider outage (exc.temporary) does not end the local session, and roles are local.
        if not exc.temporary:
            raise TokenError(
                "Your session has ended; sign in again.", error="session_expired"
            ) from exc
    roles = frozenset(session_roles(request))
    identity = getattr(user, "oidc_identity", None)
    subject = getattr(identity, "subject", "") or str(user.pk)
    return Principal(via="session", roles=roles, subject=subject, user=user)


def authenticate(request, *, allow_session=True):
    """The caller's Principal: bearer header first, then the BFF session, then the cookie."""
    token, via = get_request_token(request)
    if via != "header" and allow_session:
        principal = session_principal(request)
        if principal is not None:
            return principal
    if token is None:
        raise MissingToken("Sign in, or send an access token as a Bearer token.")
    claims = verify_access_token(token)
    check_sender_constraint(request, token, claims)
    return Principal(
        via=via, roles=roles_from_claims(claims), subject=str(claims.get("sub", "")), claims=claims
    )


def authorize(principal, roles):
    """Raise InsufficientRole unless the principal holds at least one of ``roles``."""
    if not principal.has_any_role(roles):
        raise InsufficientRole("You do not have a role that allows this.")


# --- responses -------------------------------------------------------------------------------------
def _quote(value):
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def error_response(exc):
    """The JSON answer for a TokenError, with the RFC 6750 challenge where one applies."""
    headers = {}
    if isinstance(exc, InvalidDPoPProof):
        headers["WWW-Authenticate"] = (
            f'DPoP realm={_quote(REALM)}, error="invalid_dpop_proof", '
            f"error_description={_quote(exc.description)}, algs={_quote(' '.join(DPOP_ALGORITHMS))}"
        )
    elif exc.status == 401:
        params = [f"realm={_quote(REALM)}"]
        if not isinstance(exc, MissingToken):
            code = (
                exc.error if exc.error in ("invalid_request", "invalid_token") else "invalid_token"
            )
            params += [f"error={_quote(code)}", f"error_description={_quote(exc.description)}"]
        headers["WWW-Authenticate"] = "Bearer " + ", ".join(params)
    elif exc.status == 403:
        headers["WWW-Authenticate"] = (
            f'Bearer realm={_quote(REALM)}, error="insufficient_scope", '
            f"error_description={_quote(exc.description)}"
        )
    elif exc.status == 503:
        headers["Retry-After"] = "5"
    return json_error(exc.error, exc.description, status=exc.status, headers=headers)


class _CsrfCheck(CsrfViewMiddleware):
    def _reject(self, request, reason):
        return reason


def csrf_failure_reason(request):
    """Django's own CSRF verdict for a request (None when it passes)."""
    check = _CsrfCheck(lambda req: None)
    check.process_request(request)
    return check.process_view(request, None, (), {})


def check_request(request, roles=(), *, allow_session=True):
    """Authenticate, apply CSRF to ambient credentials, authorise; return the Principal."""
    principal = authenticate(request, allow_session=allow_session)
    if principal.via != "header" and request.method not in SAFE_METHODS:
        reason = csrf_failure_reason(request)
        if reason:
            raise TokenError(
                "This request needs a valid CSRF token.", error="csrf_failed", status=403
            )
    authorize(principal, roles)
    return principal


def require_token(roles=(), *, allow_session=True):
    """Decorator for JSON API views: let in the session or a valid access token holding any of ``roles``.

    The view finds the caller in ``request.principal``. CSRF is checked here (for the session and the
    cookie only), so the view itself is marked exempt from the CSRF middleware.
    """
    if isinstance(roles, str):
        roles = (roles,)
    roles = frozenset(roles)

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            try:
                request.principal = check_request(request, roles, allow_session=allow_session)
            except TokenError as exc:
                return error_response(exc)
            return view(request, *args, **kwargs)

        return csrf_exempt(wrapped)

    return decorator


class TokenRequiredMixin:
    """The class-based-view form of ``require_token``: set ``required_roles`` on the view."""

    required_roles = ()
    allow_session = True

    @classmethod
    def as_view(cls, **initkwargs):
        return csrf_exempt(super().as_view(**initkwargs))

    def dispatch(self, request, *args, **kwargs):
        roles = (
            (self.required_roles,) if isinstance(self.required_roles, str) else self.required_roles
        )
        try:
            request.principal = check_request(
                request, frozenset(roles), allow_session=self.allow_session
            )
        except TokenError as exc:
            return error_response(exc)
        return super().dispatch(request, *args, **kwargs)
