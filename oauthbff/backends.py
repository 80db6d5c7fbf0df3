"""The authentication backend: mozilla-django-oidc's flow, with our provider, checks and identity.

It overrides only that library's seams, and those are the hooks a project subclasses:
``filter_users_by_claims``, ``create_user``, ``update_user`` (also called when a token refresh brings
new roles), ``get_userinfo`` and ``verify_claims``; roles are read and applied by ``roles_mapper``
(the ROLES_MAPPER class). Set the subclass in AUTHENTICATION_BACKENDS; the checks and the callback
take it from there.
"""

import hashlib
import logging

from django.contrib import auth
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import SuspiciousOperation
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.functional import cached_property
from django.views.decorators.debug import sensitive_variables
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import import_from_settings

from oauthbff.conf import oauthbff_settings
from oauthbff.crypto import decrypt, encrypt
from oauthbff.dpop import DPoPKey
from oauthbff.exceptions import InvalidToken, ProviderError
from oauthbff.models import OIDCIdentity
from oauthbff.oidc_client import access_token_claims, dpop_enabled, fetch_userinfo, token_request
from oauthbff.provider import get_provider
from oauthbff.roles import get_roles_mapper
from oauthbff.upstreams import as_list, sign_in_scope

logger = logging.getLogger(__name__)

# Where the backend leaves what the callback needs to index the session (the tokens, the claims).
LOGIN_RESULT_ATTR = "_oauthbff_login"


def oidc_setting(attr, *args):
    """mozilla-django-oidc's OIDC_* settings, answered from OAUTHBFF and discovery."""
    provider = get_provider
    mapping = {
        "OIDC_RP_CLIENT_ID": lambda: oauthbff_settings.CLIENT_ID,
        "OIDC_RP_CLIENT_SECRET": lambda: oauthbff_settings.CLIENT_SECRET,
        "OIDC_RP_SCOPES": sign_in_scope,
        "OIDC_OP_AUTHORIZATION_ENDPOINT": lambda: provider().authorization_endpoint,
        "OIDC_OP_TOKEN_ENDPOINT": lambda: provider().token_endpoint,
        "OIDC_OP_USER_ENDPOINT": lambda: provider().userinfo_endpoint,
        "OIDC_OP_JWKS_ENDPOINT": lambda: provider().jwks_uri,
        "OIDC_RP_SIGN_ALGO": lambda: oauthbff_settings.ALLOWED_ALGORITHMS[0],
        "OIDC_USE_PKCE": lambda: oauthbff_settings.USE_PKCE,
        "OIDC_USE_NONCE": lambda: oauthbff_settings.USE_NONCE,
        "OIDC_PKCE_CODE_CHALLENGE_METHOD": lambda: "S256",
        "OIDC_AUTHENTICATION_CALLBACK_URL": lambda: "oauthbff:callback",
        "OIDC_TIMEOUT": lambda: oauthbff_settings.HTTP_TIMEOUT,
        "OIDC_CREATE_USER": lambda: oauthbff_settings.CREATE_USERS,
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


def hashed_username(issuer, subject):
    return "oidc-" + hashlib.sha256(f"{issuer}|{subject}".encode()).hexdigest()[:40]


def username_for(issuer, subject):
    """A stable username from the identity (never the e-mail address)."""
    if issuer == oauthbff_settings.ISSUER and len(subject) <= 150:
        return subject
    return hashed_username(issuer, subject)


DPOP_KEYS_SESSION_KEY = "_oauthbff_dpop_keys"
PENDING_DPOP_KEYS = 5


def new_sign_in_dpop_key(request, state):
    """A DPoP key for the sign-in with ``state``, kept encrypted in the session until its callback:
    the authorization code is bound to it (RFC 9449 §10), so a stolen code is useless elsewhere.
    One per pending sign-in (several tabs may sign in at once); the oldest are dropped."""
    key = DPoPKey.generate()
    keys = dict(
        list((request.session.get(DPOP_KEYS_SESSION_KEY) or {}).items())[-(PENDING_DPOP_KEYS - 1) :]
    )
    keys[state] = encrypt(key.to_json())
    request.session[DPOP_KEYS_SESSION_KEY] = keys
    return key


def pop_sign_in_dpop_key(request, state):
    """The key ``new_sign_in_dpop_key`` made for ``state`` (forgotten now), or None."""
    keys = request.session.get(DPOP_KEYS_SESSION_KEY) or {}
    stored = keys.pop(state, None) if state else None
    request.session[DPOP_KEYS_SESSION_KEY] = keys
    if not stored:
        return None
    try:
        return DPoPKey.from_json(decrypt(stored))
    except ValueError:
        return None


class OIDCBackend(OIDCAuthenticationBackend):
    """Signs users in with the authorization code flow; identity is (issuer, sub)."""

    def __init__(self, *args, **kwargs):
        # The parent reads every endpoint here; Django builds a backend per request (get_user), so
        # endpoints are resolved lazily instead, when a sign-in actually needs them.
        ModelBackend.__init__(self, *args, **kwargs)
        self.UserModel = get_user_model()
        self.OIDC_RP_CLIENT_ID = oauthbff_settings.CLIENT_ID
        self.OIDC_RP_CLIENT_SECRET = oauthbff_settings.CLIENT_SECRET

    @cached_property
    def roles_mapper(self):
        """Reads roles from claims and applies them to users (OAUTHBFF ROLES_MAPPER)."""
        return get_roles_mapper()

    def get_user(self, user_id):
        """The session's active user, with OAUTHBFF USER_SELECT_RELATED joined in: Django calls this
        on every request, so relations every page reads come in the same query."""
        try:
            user = self.UserModel._default_manager.select_related(
                *oauthbff_settings.USER_SELECT_RELATED
            ).get(pk=user_id)
        except self.UserModel.DoesNotExist:
            return None
        # As ModelBackend does: a deactivated user is signed out on their next request (pages,
        # APIs, refresh and the proxy alike), whatever their session says.
        return user if self.user_can_authenticate(user) else None

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
        """Exchange the code with the configured client authentication (ours, with timeouts) for
        the RESOURCE the access token is for; with DPoP, the session's new key pair proves
        possession and the tokens are bound to it."""
        payload = {k: v for k, v in payload.items() if k not in ("client_id", "client_secret")}
        resources = as_list(oauthbff_settings.RESOURCE)
        if resources:
            # RFC 8707 §2.2: the token is for these; upstreams' own come by refresh grant later.
            payload["resource"] = resources
        self.dpop_key = None
        if dpop_enabled():
            state = self.request.GET.get("state", "")
            self.dpop_key = pop_sign_in_dpop_key(self.request, state) or DPoPKey.generate()
        response = token_request(payload, dpop_key=self.dpop_key)
        if not response.get("id_token"):
            raise InvalidToken("The identity provider returned no ID token.")
        self.token_response = response
        return response

    @sensitive_variables()
    def verify_token(self, token, **kwargs):
        """Full ID token validation: signature, alg allowlist, iss, aud, azp, exp, iat, nonce."""
        nonce = kwargs.get("nonce")
        if oauthbff_settings.USE_NONCE and not nonce:
            raise InvalidToken("The sign-in has no nonce.")
        return get_provider().decode_jwt(
            token,
            audience=oauthbff_settings.CLIENT_ID,
            nonce=nonce,
            authorized_party=oauthbff_settings.CLIENT_ID,
        )

    def store_tokens(self, access_token, id_token):
        """Tokens are stored by the callback after the session key is cycled, not here."""

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
            try:
                access_claims = userinfo = fetch_userinfo(access_token, dpop_key=self.dpop_key)
            except ProviderError:
                if not (oauthbff_settings.RESOURCE or oauthbff_settings.AUDIENCE):
                    raise
                # A token for an API (RFC 8707 resource, Auth0 audience) may be refused at
                # userinfo (node-oidc-provider refuses any with an audience): the verified ID
                # token's claims are then all there is.
                logger.info("oauthbff: userinfo refused the API's access token; ID token only")
                access_claims = userinfo = {}
        if access_claims.get("sub", payload["sub"]) != payload["sub"]:
            raise SuspiciousOperation("The access token belongs to another subject.")
        # A certified provider puts profile claims (email, name) only in userinfo when the ID token
        # comes from the token endpoint (OIDC Core §5.4); they count only with the ID token's exact
        # sub (§5.3.4), and the verified ID token wins where both say.
        if userinfo.get("sub") != payload["sub"]:
            userinfo = {}
        profile = {**userinfo, **payload}
        claims = dict(profile)
        roles = self.roles_mapper.roles_from_claims(access_claims)
        if roles is None:
            roles = self.roles_mapper.roles_from_claims(payload) or []
        claims["roles"] = roles
        setattr(
            self.request,
            LOGIN_RESULT_ATTR,
            {
                "token_response": self.token_response,
                "claims": profile,
                "access_claims": access_claims,
                "dpop_key": self.dpop_key,
                "roles": roles,
            },
        )
        return claims

    def verify_claims(self, claims):
        return bool(claims.get("sub")) and bool(claims.get("iss"))

    def filter_users_by_claims(self, claims):
        return self.UserModel.objects.filter(
            oidc_identity__issuer=claims["iss"], oidc_identity__subject=claims["sub"]
        )

    def get_or_create_user(self, access_token, id_token, payload):
        """The parent's lookup, then the identity's last sign-in time."""
        user = super().get_or_create_user(access_token, id_token, payload)
        if user is not None:
            OIDCIdentity.objects.filter(user=user).update(last_login_at=timezone.now())
        return user

    def create_user(self, claims):
        """A new user for a first sign-in, with its (issuer, sub) identity; then ``update_user``."""
        username = username_for(claims["iss"], claims["sub"])
        if self.UserModel.objects.filter(username=username).exists():
            username = hashed_username(claims["iss"], claims["sub"])
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
        """Copy profile claims and apply ``claims["roles"]``; at sign-in and at each refresh that
        changes the session's roles."""
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
        self.roles_mapper.apply(user, claims.get("roles", []))
        return user


def oidc_backends():
    """The configured authentication backends that are OIDCBackend or a subclass of it."""
    return [backend for backend in auth.get_backends() if isinstance(backend, OIDCBackend)]


def first_oidc_backend():
    """The first configured oauthbff backend, or a plain OIDCBackend when none is configured."""
    backends = oidc_backends()
    return backends[0] if backends else OIDCBackend()
