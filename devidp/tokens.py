"""FusionAuth-shaped JWT access tokens (django-oauth-toolkit's ACCESS_TOKEN_GENERATOR hook).

The token is a signed JWT, and the toolkit still stores it (hashed), so introspection,
revocation and userinfo keep working on it.
"""

import json
import time
import uuid
from datetime import UTC, datetime

from jwcrypto import jwt
from oauth2_provider.models import get_access_token_model, set_token_value

from devidp.config import DEFAULT_ACCESS_TOKEN_TTL, access_token_ttl, issuer
from devidp.keys import jwk_for_key, signing_key_for
from devidp.models import Key, Registration

AccessToken = get_access_token_model()
BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"


def sign(application, claims, typ="JWT", extra_header=None):
    """Sign claims with the application's RS256 key; the header names the key by thumbprint."""
    return sign_with(signing_key_for(application), claims, typ, extra_header)


def sign_with(stored_key, claims, typ="JWT", extra_header=None):
    key = jwk_for_key(stored_key)
    header = {"alg": "RS256", "typ": typ, "kid": key.thumbprint(), **(extra_header or {})}
    token = jwt.JWT(
        header=json.dumps(header, separators=(",", ":")),
        claims=json.dumps(claims, separators=(",", ":")),
    )
    token.make_signed_token(key)
    return token.serialize()


def session_id(request):
    """The ``sid``: the refresh token's stable id (its family), fresh for a new sign-in."""
    sid = getattr(request, "devidp_sid", None)
    if sid:
        return sid
    refresh = getattr(request, "refresh_token_instance", None)
    if request.grant_type == "refresh_token" and refresh is not None and refresh.token_family:
        sid = str(refresh.token_family)
    else:
        sid = str(uuid.uuid4())
    request.devidp_sid = sid
    return sid


def access_token_claims(application, user, *, authentication_type, scope="", sid=None):
    """FusionAuth's access-token claims; ``roles`` and ``applicationId`` only when registered."""
    now = int(time.time())
    claims = {
        "aud": application.client_id,
        "exp": now + access_token_ttl(application),
        "iat": now,
        "iss": issuer(),
        "sub": str(user.pk),
        "jti": str(uuid.uuid4()),
        "authenticationType": authentication_type,
        "email": user.email,
        "email_verified": user.verified,
        "auth_time": int(user.last_login.timestamp()) if user.last_login else now,
    }
    if scope:
        claims["scope"] = scope
    if sid:
        claims["sid"] = sid
    if application.tenant_id:
        claims["tid"] = str(application.tenant_id)
    registration = Registration.objects.filter(user=user, application=application).first()
    if registration is not None:
        claims["applicationId"] = application.client_id
        claims["roles"] = sorted(registration.roles)
    return claims


def generate_access_token(request):
    """oauthlib token generator: called once per issued access token with the oauthlib request."""
    claims = access_token_claims(
        request.client,
        request.user,
        authentication_type="REFRESH_TOKEN"
        if request.grant_type == "refresh_token"
        else "PASSWORD",
        scope=" ".join(request.scopes or []),
        sid=session_id(request),
    )
    return sign(request.client, claims, extra_header={"gty": [request.grant_type]})


def login_api_token(application, user):
    """POST /api/login's JWT, stored like any other access token (so it can be introspected).

    Without an application (FusionAuth's ``applicationId`` is optional) the user is signed in to
    the tenant: the JWT has no audience, roles or applicationId, is signed with the tenant's key
    and lives as long as the tenant says; no client can introspect it, so it is not stored.
    """
    if application is None:
        return _tenant_token(user)
    claims = access_token_claims(application, user, authentication_type="PASSWORD")
    token = sign(application, claims, extra_header={"gty": ["password"]})
    access_token = AccessToken(
        user=user,
        application=application,
        scope="",
        expires=datetime.fromtimestamp(claims["exp"], tz=UTC),
    )
    set_token_value(access_token, token)
    access_token.save()
    return token, claims["exp"] * 1000


def backchannel_logout_token(application, sub=None, sid=None):
    """An OIDC back-channel logout token (dev-only helper for testing the BFF's receiver)."""
    now = int(time.time())
    claims = {
        "iss": issuer(),
        "aud": application.client_id,
        "iat": now,
        "exp": now + 120,
        "jti": str(uuid.uuid4()),
        "events": {BACKCHANNEL_LOGOUT_EVENT: {}},
    }
    if sub:
        claims["sub"] = sub
    if sid:
        claims["sid"] = sid
    return sign(application, claims, typ="logout+jwt")


def _tenant_token(user):
    tenant_jwt = (user.tenant.config if user.tenant else {}).get("jwtConfiguration", {})
    now = int(time.time())
    try:
        ttl = max(1, int(tenant_jwt.get("timeToLiveInSeconds") or DEFAULT_ACCESS_TOKEN_TTL))
    except (TypeError, ValueError):
        ttl = DEFAULT_ACCESS_TOKEN_TTL
    claims = {
        "exp": now + ttl,
        "iat": now,
        "iss": issuer(),
        "sub": str(user.pk),
        "jti": str(uuid.uuid4()),
        "authenticationType": "PASSWORD",
        "email": user.email,
        "email_verified": user.verified,
    }
    if user.tenant_id:
        claims["tid"] = str(user.tenant_id)
    key = Key.objects.filter(pk=tenant_jwt.get("accessTokenKeyId"), algorithm=Key.RS256).first()
    key = key or Key.objects.filter(algorithm=Key.RS256).order_by("insert_instant").first()
    return sign_with(key, claims, extra_header={"gty": ["password"]}), claims["exp"] * 1000
