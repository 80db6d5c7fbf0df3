"""django-oauth-toolkit's validator, taught FusionAuth's per-application policies."""

import base64
import binascii
import hashlib
from datetime import timedelta
from urllib.parse import quote_plus, unquote_plus

from django.utils import timezone
from oauth2_provider.models import get_refresh_token_model
from oauth2_provider.oauth2_validators import OAuth2Validator

from devidp.config import ONE_TIME_USE, access_token_ttl, issuer, oauth_setting, refresh_policy
from devidp.models import Registration
from devidp.services import canonical_id
from devidp.tokens import session_id

RefreshToken = get_refresh_token_model()


class FusionAuthValidator(OAuth2Validator):
    # Claims are not filtered by scope: FusionAuth's "Compatibility" scope handling.
    oidc_claim_scope = None

    def _load_application(self, client_id, request):
        """Client ids are UUIDs, matched in any letter case as FusionAuth does."""
        return super()._load_application(canonical_id(client_id), request)

    def _extract_basic_auth(self, request):
        """HTTP Basic credentials with the client id in its canonical form (see _load_application).

        The toolkit compares the loaded client's id with the one in the header, so the header's
        id is rewritten before that comparison rather than after.
        """
        auth_string = super()._extract_basic_auth(request)
        if not auth_string:
            return auth_string
        try:
            client_id, secret = base64.b64decode(auth_string).decode("utf-8").split(":", 1)
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return auth_string
        canonical = canonical_id(unquote_plus(client_id))
        if canonical == unquote_plus(client_id):
            return auth_string
        return base64.b64encode(f"{quote_plus(canonical)}:{secret}".encode()).decode()

    def validate_client_id(self, client_id, request, *args, **kwargs):
        """The authorize request carries the canonical id from here on (codes, redirects)."""
        request.client_id = canonical_id(client_id)
        return super().validate_client_id(client_id, request, *args, **kwargs)

    def authenticate_client(self, request, *args, **kwargs):
        """oauthlib compares ``request.client_id`` with the loaded client's: canonicalise it."""
        if request.client_id:
            request.client_id = canonical_id(request.client_id)
        return super().authenticate_client(request, *args, **kwargs)

    def authenticate_client_id(self, client_id, request, *args, **kwargs):
        request.client_id = canonical_id(client_id)
        return super().authenticate_client_id(client_id, request, *args, **kwargs)

    def is_pkce_required(self, client_id, request):
        """oauthConfiguration.proofKeyForCodeExchangePolicy, per application."""
        if request.client is None:
            self._load_application(client_id, request)
        if request.client is None:
            return True
        return oauth_setting(request.client, "proofKeyForCodeExchangePolicy", "NotRequired") == (
            "Required"
        )

    def validate_grant_type(self, client_id, grant_type, client, request, *args, **kwargs):
        """oauthConfiguration.enabledGrants decides which grants a client may use."""
        enabled = oauth_setting(client, "enabledGrants", ["authorization_code", "refresh_token"])
        return grant_type in enabled and super().validate_grant_type(
            client_id, grant_type, client, request, *args, **kwargs
        )

    def rotate_refresh_token(self, request):
        """OneTimeUse rotates the refresh token; Reusable (FusionAuth's default) keeps it."""
        return refresh_policy(request.client) == ONE_TIME_USE

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs):
        """Lock the token row first, so two concurrent one-time uses cannot both succeed.

        The token endpoint runs in a transaction: the second request waits here until the
        first has committed the rotation, then sees the token revoked (invalid_grant).
        """
        checksum = hashlib.sha256(refresh_token.encode("utf-8")).hexdigest()
        list(RefreshToken.objects.select_for_update().filter(token_checksum=checksum))
        return super().validate_refresh_token(refresh_token, client, request, *args, **kwargs)

    def _create_refresh_token(self, request, refresh_token_code, access_token, previous):
        """A new sign-in's refresh token takes the session's ``sid`` as its stable id."""
        refresh = super()._create_refresh_token(request, refresh_token_code, access_token, previous)
        if previous is None and getattr(request, "devidp_sid", None):
            refresh.token_family = request.devidp_sid
            refresh.save(update_fields=["token_family"])
        return refresh

    def validate_silent_login(self, request):
        """prompt=none: the authorize view itself answers login_required when nobody is signed in."""
        return True

    def validate_silent_authorization(self, request):
        """Clients never need consent here (FusionAuth has no consent screen for first parties)."""
        return True

    def get_id_token_dictionary(self, token, token_handler, request):
        """ID tokens live as long as access tokens, as in FusionAuth (jwtConfiguration TTL)."""
        claims, _expires = super().get_id_token_dictionary(token, token_handler, request)
        expires = timezone.now() + timedelta(seconds=access_token_ttl(request.client))
        claims["exp"] = int(expires.timestamp())
        return claims, expires

    def get_oidc_issuer_endpoint(self, request):
        return issuer()

    def get_additional_claims(self, request):
        user = request.user
        claims = {
            "email": user.email,
            "email_verified": user.verified,
            "preferred_username": user.username or user.email,
        }
        if user.first_name:
            claims["given_name"] = user.first_name
        if user.last_name:
            claims["family_name"] = user.last_name
        if user.get_full_name():
            claims["name"] = user.get_full_name()
        if request.client is not None and request.client.tenant_id:
            claims["tid"] = str(request.client.tenant_id)
        if request.grant_type in ("authorization_code", "refresh_token"):
            claims["sid"] = session_id(request)
        return claims

    def get_userinfo_claims(self, request):
        """Userinfo adds the application's roles, as FusionAuth does for registered users."""
        claims = super().get_userinfo_claims(request)
        registration = Registration.objects.filter(
            user=request.user, application=request.client
        ).first()
        if registration is not None:
            claims["applicationId"] = request.client.client_id
            claims["roles"] = list(registration.roles)
        return claims
