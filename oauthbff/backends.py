"""The authentication backend: mozilla-django-oidc's flow, with our provider, checks and identity.

Overrides only its seams: settings come from ``bff_settings`` and discovery, the token request and ID
token verification go through ``oauthbff.provider``, users are found by (issuer, sub), and roles map
to groups and staff/superuser flags.
"""

import hashlib
import logging

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group
from django.core.exceptions import SuspiciousOperation
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import import_from_settings

from oauthbff.conf import bff_settings
from oauthbff.models import OIDCIdentity
from oauthbff.provider import InvalidToken, ProviderError, get_provider, http
from oauthbff.tokens import token_request

logger = logging.getLogger(__name__)

LOGIN_RESULT_ATTR = "_oauthbff_login"


def oidc_setting(attr, *args):
    """mozilla-django-oidc's OIDC_* settings, answered from OAUTHBFF and discovery."""
    provider = get_provider
    mapping = {
        "OIDC_RP_CLIENT_ID": lambda: bff_settings.CLIENT_ID,
        "OIDC_RP_CLIENT_SECRET": lambda: bff_settings.CLIENT_SECRET,
        "OIDC_RP_SCOPES": lambda: bff_settings.SCOPES,
        "OIDC_OP_AUTHORIZATION_ENDPOINT": lambda: provider().authorization_endpoint,
        "OIDC_OP_TOKEN_ENDPOINT": lambda: provider().token_endpoint,
        "OIDC_OP_USER_ENDPOINT": lambda: provider().userinfo_endpoint,
        "OIDC_OP_JWKS_ENDPOINT": lambda: provider().jwks_uri,
        "OIDC_RP_SIGN_ALGO": lambda: bff_settings.ALLOWED_ALGORITHMS[0],
        "OIDC_USE_PKCE": lambda: bff_settings.USE_PKCE,
        "OIDC_USE_NONCE": lambda: bff_settings.USE_NONCE,
        "OIDC_PKCE_CODE_CHALLENGE_METHOD": lambda: "S256",
        "OIDC_AUTHENTICATION_CALLBACK_URL": lambda: "oauthbff:callback",
        "OIDC_TIMEOUT": lambda: bff_settings.HTTP_TIMEOUT,
        "OIDC_CREATE_USER": lambda: bff_settings.CREATE_USERS,
        "OIDC_STORE_ACCESS_TOKEN": lambda: False,
        "OIDC_STORE_ID_TOKEN": lambda: False,
        "OIDC_ALLOW_UNSECURED_JWT": lambda: False,
        "OIDC_REDIRECT_ALLOWED_HOSTS": lambda: [],
        "OIDC_AUTH_REQUEST_EXTRA_PARAMS": lambda: {},
        "LOGIN_REDIRECT_URL_FAILURE": lambda: "/",
    }
    if attr in mapping:
        return mapping[attr]()
    return import_from_settings(attr, *args)


def roles_from(claims):
    """The role names at OAUTHBFF ROLES_CLAIM (a dotted path, e.g. ``realm_access.roles``)."""
    value = claims
    for part in bff_settings.ROLES_CLAIM.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if not isinstance(value, list):
        return None
    return [str(role) for role in value if isinstance(role, str | int)]


@sensitive_variables()
def access_token_claims(access_token):
    """Roles live in the access token (FusionAuth); verify it like an ID token when it is a JWT."""
    if isinstance(access_token, str) and access_token.count(".") == 2:
        return get_provider().decode_jwt(
            access_token, audience=bff_settings.CLIENT_ID, require=("exp", "sub")
        )
    return None


@sensitive_variables()
def refreshed_roles(access_token, subject):
    """The roles a refreshed access token grants, or None when it cannot tell: an opaque token, one
    not meant for this client, or one for another subject. Then the session keeps its roles."""
    try:
        claims = access_token_claims(access_token)
    except (InvalidToken, ProviderError) as exc:
        logger.info("oauthbff: refreshed access token not readable here (%s); roles kept", exc)
        return None
    if claims is None or claims.get("sub") != subject:
        return None
    return roles_from(claims)


def apply_roles(user, roles):
    """Map roles to the user's groups and staff / superuser flags."""
    roles = set(roles)
    flags = {
        "is_staff": bool(roles & set(bff_settings.STAFF_ROLES + bff_settings.SUPERUSER_ROLES)),
        "is_superuser": bool(roles & set(bff_settings.SUPERUSER_ROLES)),
    }
    changed = [name for name, value in flags.items() if getattr(user, name) != value]
    for name in changed:
        setattr(user, name, flags[name])
    if changed:
        user.save(update_fields=changed)
    user.groups.set([Group.objects.get_or_create(name=role[:150])[0] for role in sorted(roles)])


def username_for(issuer, subject):
    """A stable username from the identity (never the e-mail address)."""
    if issuer == bff_settings.ISSUER and len(subject) <= 150:
        return subject
    return "oidc-" + hashlib.sha256(f"{issuer}|{subject}".encode()).hexdigest()[:40]


class OIDCBackend(OIDCAuthenticationBackend):
    """Signs users in with the authorization code flow; identity is (issuer, sub)."""

    def __init__(self, *args, **kwargs):
        # The parent reads every endpoint here; Django builds a backend per request (get_user), so
        # endpoints are resolved lazily instead, when a sign-in actually needs them.
        ModelBackend.__init__(self, *args, **kwargs)
        self.UserModel = get_user_model()
        self.OIDC_RP_CLIENT_ID = bff_settings.CLIENT_ID
        self.OIDC_RP_CLIENT_SECRET = bff_settings.CLIENT_SECRET

    def get_user(self, user_id):
        """The session's user, with OAUTHBFF USER_SELECT_RELATED joined in: Django calls this on
        every request, so relations every page reads come in the same query."""
        try:
            return self.UserModel._default_manager.select_related(
                *bff_settings.USER_SELECT_RELATED
            ).get(pk=user_id)
        except self.UserModel.DoesNotExist:
            return None

    @staticmethod
    def get_settings(attr, *args):
        return oidc_setting(attr, *args)

    @property
    def OIDC_OP_TOKEN_ENDPOINT(self):  # noqa: N802 - the parent's attribute name
        return get_provider().token_endpoint

    @property
    def OIDC_OP_USER_ENDPOINT(self):  # noqa: N802
        return get_provider().userinfo_endpoint

    def authenticate(self, request, **kwargs):
        """Only answer the callback (code + state); other callers fall through to other backends."""
        if request is None or "code" not in request.GET or "nonce" not in kwargs:
            return None
        return super().authenticate(request, **kwargs)

    @sensitive_variables()
    def get_token(self, payload):
        """Exchange the code with client_secret_basic or client_secret_post (ours, with timeouts)."""
        payload = {k: v for k, v in payload.items() if k not in ("client_id", "client_secret")}
        response = token_request(payload)
        if not response.get("id_token"):
            raise InvalidToken("The identity provider returned no ID token.")
        self.token_response = response
        return response

    @sensitive_variables()
    def verify_token(self, token, **kwargs):
        """Full ID token validation: signature, alg allowlist, iss, aud, azp, exp, iat, nonce."""
        nonce = kwargs.get("nonce")
        if bff_settings.USE_NONCE and not nonce:
            raise InvalidToken("The sign-in has no nonce.")
        return get_provider().decode_jwt(
            token,
            audience=bff_settings.CLIENT_ID,
            nonce=nonce,
            authorized_party=bff_settings.CLIENT_ID,
        )

    def store_tokens(self, access_token, id_token):
        """Tokens are stored by the callback view after the session key is cycled, not here."""

    @sensitive_variables()
    def get_userinfo(self, access_token, id_token, payload):
        """The verified ID token claims, plus the roles from the access token or userinfo."""
        try:
            access_claims = access_token_claims(access_token)
        except InvalidToken as exc:
            # Not meant for us (e.g. another API audience): ask the provider instead.
            logger.info("oauthbff: access token not readable here (%s); using userinfo", exc)
            access_claims = None
        userinfo = {}
        if access_claims is None:
            access_claims = userinfo = self.fetch_userinfo(access_token)
        if access_claims.get("sub", payload["sub"]) != payload["sub"]:
            raise SuspiciousOperation("The access token belongs to another subject.")
        # A certified provider puts profile claims (email, name) only in userinfo when the ID token
        # comes from the token endpoint (OIDC Core §5.4); they count only with the ID token's exact
        # sub (§5.3.4), and the verified ID token wins where both say.
        if userinfo.get("sub") != payload["sub"]:
            userinfo = {}
        profile = {**userinfo, **payload}
        claims = dict(profile)
        roles = roles_from(access_claims)
        claims["roles"] = roles if roles is not None else (roles_from(payload) or [])
        setattr(
            self.request,
            LOGIN_RESULT_ATTR,
            {
                "token_response": self.token_response,
                "claims": profile,
                "access_claims": access_claims,
                "roles": claims["roles"],
            },
        )
        return claims

    @sensitive_variables()
    def fetch_userinfo(self, access_token):
        endpoint = get_provider().userinfo_endpoint
        if not endpoint:
            return {}
        try:
            response = http.get(
                endpoint,
                headers={"Authorization": f"Bearer {access_token}"},
                timeout=bff_settings.HTTP_TIMEOUT,
            )
        except Exception as exc:
            raise ProviderError("The identity provider's userinfo endpoint failed.") from exc
        if response.status_code != 200:
            raise ProviderError("The identity provider's userinfo endpoint refused the token.")
        try:
            data = response.json()
        except ValueError as exc:
            raise ProviderError("The identity provider's userinfo is not JSON.") from exc
        return data if isinstance(data, dict) else {}

    def verify_claims(self, claims):
        return bool(claims.get("sub")) and bool(claims.get("iss"))

    def filter_users_by_claims(self, claims):
        return self.UserModel.objects.filter(
            oidc_identity__issuer=claims["iss"], oidc_identity__subject=claims["sub"]
        )

    def create_user(self, claims):
        username = username_for(claims["iss"], claims["sub"])
        if self.UserModel.objects.filter(username=username).exists():
            username = "oidc-" + hashlib.sha256(f"{claims['iss']}|{claims['sub']}".encode())
            username = username.hexdigest()[:40]
        try:
            with transaction.atomic():
                user = self.UserModel.objects.create_user(username, email=claims.get("email", ""))
                user.set_unusable_password()
                user.save(update_fields=["password"])
                OIDCIdentity.objects.create(user=user, issuer=claims["iss"], subject=claims["sub"])
        except IntegrityError:
            # Two first sign-ins of the same person raced: the other one created the user.
            user = self.filter_users_by_claims(claims).get()
        return self.update_user(user, claims)

    def update_user(self, user, claims):
        """Copy profile claims and map roles to groups and the staff / superuser flags."""
        fields = {
            "email": claims.get("email", user.email) or "",
            "first_name": (claims.get("given_name") or user.first_name or "")[:150],
            "last_name": (claims.get("family_name") or user.last_name or "")[:150],
        }
        changed = [name for name, value in fields.items() if getattr(user, name) != value]
        for name in changed:
            setattr(user, name, fields[name])
        if changed:
            user.save(update_fields=changed)
        apply_roles(user, claims.get("roles", []))
        OIDCIdentity.objects.filter(user=user).update(last_login_at=timezone.now())
        return user
