"""This client's calls to the provider: the token, PAR, revocation, userinfo and introspection
endpoints.

Client authentication (``client_secret_basic``, ``client_secret_post`` or ``private_key_jwt``) is
written once, in ``client_auth``; so is DPoP (RFC 9449): given the session's key, every call carries
a fresh proof and is retried once with the nonce the provider asks for. Every call goes through the
provider session (pooled, with timeouts) and turns a network failure or a malformed answer into
``ProviderError`` with a message that is safe to show.
"""

import logging
from datetime import timedelta

import requests
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables
from requests.auth import HTTPBasicAuth

from oauthbff.conf import oauthbff_settings
from oauthbff.dpop import nonce_for, remember_nonce
from oauthbff.exceptions import InvalidToken, ProviderError, RequestRefused, TokenError
from oauthbff.http import provider_session
from oauthbff.keys import KeyFileError, assertion_params, client_keys
from oauthbff.provider import get_provider

logger = logging.getLogger(__name__)

TOKEN_RESPONSE_STRINGS = ("access_token", "refresh_token", "id_token", "refresh_token_id")


@sensitive_variables()
def client_auth(data):
    """``(form data, auth)`` for a request to an endpoint that authenticates this client.

    private_key_jwt makes a new one-time assertion each call, addressed to the issuer identifier
    (what FAPI 2.0 and RFC 7523bis ask for, and every endpoint of the provider accepts).
    """
    data = dict(data)
    method = oauthbff_settings.TOKEN_AUTH_METHOD
    if method == "private_key_jwt":
        try:
            keys = client_keys()
        except KeyFileError as exc:
            logger.error("oauthbff: %s", exc)
            raise ProviderError("This client's private key is unavailable.") from exc
        data.update(
            assertion_params(
                keys, client_id=oauthbff_settings.CLIENT_ID, audience=get_provider().issuer
            )
        )
        return data, None
    if method == "client_secret_post":
        data.update(
            client_id=oauthbff_settings.CLIENT_ID, client_secret=oauthbff_settings.CLIENT_SECRET
        )
        return data, None
    return data, HTTPBasicAuth(oauthbff_settings.CLIENT_ID, oauthbff_settings.CLIENT_SECRET)


def dpop_enabled():
    """DPoP is on: OIDC_DPOP, or the FAPI 2.0 profile (which requires sender-constrained tokens)."""
    return bool(oauthbff_settings.DPOP) or str(oauthbff_settings.PROFILE).lower() == "fapi2"


@sensitive_variables()
def dpop_request(method, url, *, dpop_key, access_token=None, prepare=None, **kwargs):
    """Send a request with a DPoP proof by ``dpop_key`` (and ``ath`` for ``access_token``); once
    more, with a fresh proof, when the server asks for its nonce. ``prepare()`` gives the request's
    keyword arguments anew for each attempt (a client assertion is good for one use only)."""
    response = None
    for _attempt in range(2):
        request_kwargs = prepare() if prepare is not None else dict(kwargs)
        headers = dict(request_kwargs.pop("headers", None) or {})
        headers["DPoP"] = dpop_key.proof(
            method, url, access_token=access_token, nonce=nonce_for(url)
        )
        if access_token is not None:
            headers["Authorization"] = f"DPoP {access_token}"
        response = provider_session.request(method, url, headers=headers, **request_kwargs)
        if not remember_nonce(url, response):
            break
    return response


@sensitive_variables()
def _post(endpoint, data, what, *, dpop_key=None, issuer=None):
    def prepare():
        form, auth = client_auth(data)
        return {"data": form, "auth": auth, "headers": {"Accept": "application/json"}}

    provider = get_provider(issuer)
    try:
        if dpop_key is not None:
            response = dpop_request("POST", endpoint, dpop_key=dpop_key, prepare=prepare)
        else:
            response = provider_session.post(endpoint, **prepare())
    except requests.RequestException as exc:
        logger.warning("oauthbff: %s unreachable: %s", what, type(exc).__name__)
        provider.noted_reply(None)
        raise ProviderError("The identity provider could not be reached.") from exc
    provider.noted_reply(response.status_code)
    return response


def _json_object(response):
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


@sensitive_variables()
def token_request(data, *, dpop_key=None):
    """POST ``data`` (a grant) to the token endpoint; the JSON token response.

    With ``dpop_key`` the tokens are to be bound to it (RFC 9449 §5): an answer whose token_type is
    not DPoP is refused (InvalidToken), since an unbound token is exactly what DPoP is to prevent.
    Raises TokenError when the provider refuses with an OAuth error (RFC 6749 §5.2), ProviderError
    for anything else that is not a usable token response.
    """
    response = _post(get_provider().token_endpoint, data, "token endpoint", dpop_key=dpop_key)
    body = _json_object(response)
    if response.status_code != 200:
        error = body.get("error") if body else None
        logger.warning(
            "oauthbff: token endpoint (%s) answered %s %s",
            data.get("grant_type"),
            response.status_code,
            error or "",
        )
        if error:
            error = str(error)[:64]
            raise TokenError(
                f"The identity provider refused the token request ({error}).",
                error=error,
                status=response.status_code,
            )
        raise ProviderError(
            f"The identity provider's token endpoint answered {response.status_code}."
        )
    if not body or not body.get("access_token"):
        raise ProviderError("The identity provider's token response has no access token.")
    for name in TOKEN_RESPONSE_STRINGS:
        if body.get(name) is not None and not isinstance(body[name], str):
            raise ProviderError(f"The identity provider's token response has a malformed {name}.")
    if dpop_key is not None and str(body.get("token_type", "")).lower() != "dpop":
        raise InvalidToken(
            "The identity provider returned an unbound token although DPoP was asked."
        )
    return body


@sensitive_variables()
def push_authorization_request(params, *, dpop_key=None):
    """Push the authorization request's parameters (RFC 9126 §2); the ``request_uri`` to send the
    browser with. A refusal (RequestRefused, an OAuth error) or an unusable answer is
    ProviderError: no sign-in can start."""
    endpoint = get_provider().endpoint("pushed_authorization_request_endpoint")
    response = _post(endpoint, params, "pushed authorization request", dpop_key=dpop_key)
    body = _json_object(response)
    if response.status_code not in (200, 201):
        error = str((body or {}).get("error") or response.status_code)[:64]
        logger.warning("oauthbff: the pushed authorization request was refused (%s)", error)
        message = f"The identity provider refused the sign-in request ({error})."
        if 400 <= response.status_code < 500 and (body or {}).get("error"):
            raise RequestRefused(message, error=error)
        raise ProviderError(message)
    request_uri = (body or {}).get("request_uri")
    if not isinstance(request_uri, str) or not request_uri or len(request_uri) > 2048:
        raise ProviderError("The identity provider's PAR answer has no usable request_uri.")
    return request_uri


def lifetime(token_response):
    """Seconds the response's access token lives (``expires_in``, one hour when absent)."""
    try:
        seconds = int(token_response.get("expires_in") or 3600)
    except (TypeError, ValueError, OverflowError):
        seconds = 3600
    return min(max(seconds, 0), 10 * 365 * 86400)


def expires_at(token_response):
    """When the response's access token expires (``expires_in``, one hour when absent)."""
    return timezone.now() + timedelta(seconds=lifetime(token_response))


@sensitive_variables()
def revoke_token(token, *, issuer=None, hint="refresh_token", dpop_key=None):
    """Revoke ``token`` (RFC 7009) when the provider has a revocation endpoint; True if it did.

    With the session's ``dpop_key`` the call carries a proof too, as a token bound to it may need."""
    if not token:
        return False
    try:
        endpoint = get_provider(issuer).revocation_endpoint
        if not endpoint:
            return False
        response = _post(
            endpoint,
            {"token": token, "token_type_hint": hint},
            "token revocation",
            dpop_key=dpop_key,
            issuer=issuer,
        )
    except ProviderError:
        return False
    if response.status_code != 200:
        logger.warning("oauthbff: token revocation answered %s", response.status_code)
        return False
    return True


@sensitive_variables()
def fetch_userinfo(access_token, *, dpop_key=None):
    """The userinfo endpoint's claims for ``access_token`` ({} when the provider has none); a
    DPoP-bound token goes as ``Authorization: DPoP`` with a proof by ``dpop_key`` (RFC 9449 §7)."""
    endpoint = get_provider().userinfo_endpoint
    if not endpoint:
        return {}
    try:
        if dpop_key is not None:
            response = dpop_request("GET", endpoint, dpop_key=dpop_key, access_token=access_token)
        else:
            response = provider_session.get(
                endpoint, headers={"Authorization": f"Bearer {access_token}"}
            )
    except requests.RequestException as exc:
        raise ProviderError("The identity provider's userinfo endpoint failed.") from exc
    if response.status_code != 200:
        raise ProviderError("The identity provider's userinfo endpoint refused the token.")
    try:
        data = response.json()
    except ValueError as exc:
        raise ProviderError("The identity provider's userinfo is not JSON.") from exc
    return data if isinstance(data, dict) else {}


@sensitive_variables()
def introspect(token):
    """The provider's introspection answer (RFC 7662) for an opaque access token.

    Raises TokenError when the provider says the token is not this client's (FusionAuth answers
    401 then), ProviderError when it cannot answer.
    """
    provider = get_provider()
    endpoint = provider.introspection_endpoint or f"{provider.issuer.rstrip('/')}/oauth2/introspect"
    # client_id is a parameter of FusionAuth's endpoint besides the client's authentication.
    data = {
        "token": token,
        "token_type_hint": "access_token",
        "client_id": oauthbff_settings.CLIENT_ID,
    }
    response = _post(endpoint, data, "token introspection")
    if response.status_code == 401:
        raise TokenError("The token was issued for another client.")
    claims = _json_object(response) if response.status_code == 200 else None
    if claims is None:
        logger.warning("oauthbff: token introspection answered %s", response.status_code)
        raise ProviderError("The identity provider's introspection failed.")
    return claims


@sensitive_variables()
def access_token_claims(access_token):
    """The verified claims of an access token issued to this client, or None when it is opaque.

    Roles live in the access token (FusionAuth, Keycloak); it is checked like an ID token, against
    this client as its audience. Raises InvalidToken when it is a JWT meant for someone else.
    """
    if isinstance(access_token, str) and access_token.count(".") == 2:
        return get_provider().decode_jwt(
            access_token, audience=oauthbff_settings.CLIENT_ID, require=("exp", "sub")
        )
    return None
