"""This client's calls to the provider: the token, revocation, userinfo and introspection endpoints.

Client authentication (``client_secret_basic`` or ``client_secret_post``) is written once, in
``client_auth``; every call goes through the provider session (pooled, with timeouts) and turns a
network failure or a malformed answer into ``ProviderError`` with a message that is safe to show.
"""

import logging
from datetime import timedelta

import requests
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables
from requests.auth import HTTPBasicAuth

from oauthbff.conf import oauthbff_settings
from oauthbff.exceptions import ProviderError, TokenError
from oauthbff.http import provider_session
from oauthbff.provider import get_provider

logger = logging.getLogger(__name__)

TOKEN_RESPONSE_STRINGS = ("access_token", "refresh_token", "id_token", "refresh_token_id")


@sensitive_variables()
def client_auth(data):
    """``(form data, auth)`` for a request to an endpoint that authenticates this client."""
    data = dict(data)
    if oauthbff_settings.TOKEN_AUTH_METHOD == "client_secret_post":
        data.update(
            client_id=oauthbff_settings.CLIENT_ID, client_secret=oauthbff_settings.CLIENT_SECRET
        )
        return data, None
    return data, HTTPBasicAuth(oauthbff_settings.CLIENT_ID, oauthbff_settings.CLIENT_SECRET)


@sensitive_variables()
def _post(endpoint, data, what, issuer=None):
    data, auth = client_auth(data)
    provider = get_provider(issuer)
    try:
        response = provider_session.post(
            endpoint, data=data, auth=auth, headers={"Accept": "application/json"}
        )
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
def token_request(data):
    """POST ``data`` (a grant) to the token endpoint; the JSON token response.

    Raises TokenError when the provider refuses with an OAuth error (RFC 6749 §5.2), ProviderError
    for anything else that is not a usable token response.
    """
    response = _post(get_provider().token_endpoint, data, "token endpoint")
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
    return body


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
def revoke_token(token, *, issuer=None, hint="refresh_token"):
    """Revoke ``token`` (RFC 7009) when the provider has a revocation endpoint; True if it did."""
    if not token:
        return False
    try:
        endpoint = get_provider(issuer).revocation_endpoint
        if not endpoint:
            return False
        response = _post(
            endpoint, {"token": token, "token_type_hint": hint}, "token revocation", issuer
        )
    except ProviderError:
        return False
    if response.status_code != 200:
        logger.warning("oauthbff: token revocation answered %s", response.status_code)
        return False
    return True


@sensitive_variables()
def fetch_userinfo(access_token):
    """The userinfo endpoint's claims for ``access_token`` ({} when the provider has none)."""
    endpoint = get_provider().userinfo_endpoint
    if not endpoint:
        return {}
    try:
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
    endpoint = provider.introspection_endpoint or f"{provider.issuer}/oauth2/introspect"
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
