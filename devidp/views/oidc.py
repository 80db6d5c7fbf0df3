"""OpenID Connect at FusionAuth's paths, on django-oauth-toolkit's machinery."""

import base64
import copy
import hashlib
import json
from urllib.parse import unquote_plus

from django.contrib.auth import authenticate, login, logout
from django.db import transaction
from django.db.models import F
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters
from jwcrypto import jwt as jwcrypto_jwt
from jwcrypto.common import JWException
from oauth2_provider import views as dot_views
from oauth2_provider.exceptions import OAuthToolkitError
from oauth2_provider.models import (
    get_access_token_model,
    get_refresh_token_model,
    refresh_token_expire_timedelta,
)
from oauth2_provider.views.mixins import OAuthLibMixin
from oauthlib.common import add_params_to_uri

from devidp.config import ONE_TIME_USE, issuer, oauth_setting, refresh_policy
from devidp.keys import jwk_for_key, public_jwks, signing_key_for
from devidp.models import Registration, TokenCall, now_ms
from devidp.services import find_application

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()
FORM = "application/x-www-form-urlencoded"


def error_page(request, title, message, reason="", status=400):
    """People get a page, never a redirect to an unverified URL."""
    return render(
        request,
        "devidp/error.html",
        {"title": title, "message": message, "reason": reason},
        status=status,
    )


def oauth_error(error, description, status=400, reason=None):
    body = {"error": error, "error_description": description}
    if reason:
        body["error_reason"] = reason
    return JsonResponse(body, status=status)


def discovery(request, tenant_id=None):
    """/.well-known/openid-configuration (issuer = the IdP's base URL)."""
    base = issuer()
    response = JsonResponse(
        {
            "issuer": base,
            "authorization_endpoint": f"{base}/oauth2/authorize",
            "token_endpoint": f"{base}/oauth2/token",
            "userinfo_endpoint": f"{base}/oauth2/userinfo",
            "jwks_uri": f"{base}/.well-known/jwks.json",
            "end_session_endpoint": f"{base}/oauth2/logout",
            "introspection_endpoint": f"{base}/oauth2/introspect",
            "revocation_endpoint": f"{base}/oauth2/revoke",
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "scopes_supported": ["openid", "offline_access", "profile", "email"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
                "none",
            ],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": [
                "at_hash",
                "aud",
                "auth_time",
                "email",
                "email_verified",
                "exp",
                "family_name",
                "given_name",
                "iat",
                "iss",
                "jti",
                "name",
                "nonce",
                "preferred_username",
                "sid",
                "sub",
                "tid",
            ],
            "frontchannel_logout_supported": True,
            "backchannel_logout_supported": False,
        }
    )
    response["Access-Control-Allow-Origin"] = "*"
    return response


def jwks(request):
    """/.well-known/jwks.json: the public half of every RSA signing key."""
    response = JsonResponse(public_jwks())
    response["Access-Control-Allow-Origin"] = "*"
    response["Cache-Control"] = "public, max-age=300"
    return response


def sign_in_problem(user, application):
    """Why this user may not sign in to this application, or an empty string."""
    if not user.is_active:
        return "This account is locked."
    registered = Registration.objects.filter(user=user, application=application).exists()
    if oauth_setting(application, "requireRegistration", False) and not registered:
        return "You are not registered for this application."
    return ""


def record_login(user, application):
    Registration.objects.filter(user=user, application=application).update(
        last_login_instant=now_ms()
    )


@method_decorator(sensitive_post_parameters("password"), name="post")
class AuthorizeView(OAuthLibMixin, View):
    """GET /oauth2/authorize shows a plain login form; POST signs in and redirects with a code.

    An invalid client or redirect URI is an error page, never a redirect.
    """

    template_name = "devidp/login.html"

    def get(self, request):
        checked = self.checked_request(request)
        if not isinstance(checked, tuple):
            return checked
        scopes, credentials, application = checked
        prompt = request.GET.get("prompt", "").split()
        signed_in = request.user.is_authenticated and "login" not in prompt
        if signed_in and not sign_in_problem(request.user, application):
            return self.issue_code(request, scopes, credentials, application)
        if "none" in prompt:
            return self.redirect_error(credentials, "login_required", "The user is not signed in.")
        return self.form(request, application, request.GET.get("login_hint", ""))

    def post(self, request):
        auth_request = copy.copy(request)
        auth_request.method = "GET"
        checked = self.checked_request(auth_request)
        if not isinstance(checked, tuple):
            return checked
        scopes, credentials, application = checked
        email = request.POST.get("loginId", "").strip()
        password = request.POST.get("password", "")
        user = authenticate(request, username=email.lower(), password=password)
        if user is None:
            return self.form(request, application, email, "Invalid login credentials.", 200)
        problem = sign_in_problem(user, application)
        if problem:
            return self.form(request, application, email, problem, 200)
        login(request, user)
        auth_request.user = user
        return self.issue_code(auth_request, scopes, credentials, application)

    def checked_request(self, request):
        try:
            scopes, credentials = self.validate_authorization_request(request)
        except OAuthToolkitError as error:
            oauthlib_error = error.oauthlib_error
            redirect_uri = oauthlib_error.redirect_uri
            application = find_application(request.GET.get("client_id", ""))
            if (
                redirect_uri
                and application is not None
                and application.redirect_uri_allowed(redirect_uri)
            ):
                params = [("error", oauthlib_error.error)]
                if oauthlib_error.description:
                    params.append(("error_description", oauthlib_error.description))
                if request.GET.get("state"):
                    params.append(("state", request.GET["state"]))
                return HttpResponseRedirect(add_params_to_uri(redirect_uri, params))
            return error_page(
                request,
                "This sign-in request is invalid",
                oauthlib_error.description or oauthlib_error.error,
                reason=_reason(oauthlib_error),
            )
        application = find_application(credentials["client_id"])
        credentials["client_id"] = application.client_id
        return scopes, credentials, application

    def form(self, request, application, login_id, error="", status=200):
        context = {"application": application, "login_id": login_id, "error": error}
        return render(request, self.template_name, context, status=status)

    def issue_code(self, request, scopes, credentials, application):
        try:
            uri, _headers, _body, _status = self.create_authorization_response(
                request=request, scopes=" ".join(scopes), credentials=credentials, allow=True
            )
        except OAuthToolkitError as error:
            return error_page(request, "Sign-in failed", error.oauthlib_error.description or "")
        record_login(request.user, application)
        return HttpResponseRedirect(
            add_params_to_uri(uri, [("locale", "en"), ("userState", "Authenticated")])
        )

    def redirect_error(self, credentials, error, description):
        params = [("error", error), ("error_description", description)]
        if credentials.get("state"):
            params.append(("state", credentials["state"]))
        return HttpResponseRedirect(add_params_to_uri(credentials["redirect_uri"], params))


def _reason(oauthlib_error):
    description = (oauthlib_error.description or "").lower()
    if "redirect" in description:
        return "invalid_redirect_uri"
    if "client" in description:
        return "invalid_client_id"
    return ""


def count_token_call(grant_type):
    grant_type = (grant_type or "unknown")[:100]
    updated = TokenCall.objects.filter(grant_type=grant_type).update(count=F("count") + 1)
    if not updated:
        TokenCall.objects.get_or_create(grant_type=grant_type)
        TokenCall.objects.filter(grant_type=grant_type).update(count=F("count") + 1)


ERROR_REASONS = {
    ("invalid_client", "authorization_code"): "invalid_client_authentication",
    ("invalid_client", "refresh_token"): "invalid_client_authentication",
    ("invalid_grant", "authorization_code"): "auth_code_not_found",
    ("invalid_grant", "refresh_token"): "refresh_token_not_found",
}


@method_decorator(csrf_exempt, name="dispatch")
class TokenView(dot_views.TokenView):
    """POST /oauth2/token: form-encoded only; answers shaped like FusionAuth's."""

    def post(self, request, *args, **kwargs):
        if request.content_type != FORM:
            return oauth_error(
                "invalid_request",
                "The token endpoint takes application/x-www-form-urlencoded bodies only.",
            )
        if request.GET:
            return oauth_error(
                "invalid_request", "Send the parameters in the form body, not in the query string."
            )
        grant_type = request.POST.get("grant_type", "")
        with transaction.atomic():
            count_token_call(grant_type)
            response = super().post(request, *args, **kwargs)
            if response.status_code == 200:
                return self.fusionauth_shape(response, grant_type)
        return self.with_reason(response, grant_type)

    def fusionauth_shape(self, response, grant_type):
        body = json.loads(response.content)
        claims = _unverified_claims(body["access_token"])
        application = find_application(claims.get("aud", ""))
        body["userId"] = claims.get("sub")
        scopes = body.get("scope", "").split()
        if "refresh_token" in body:
            keep = (
                "offline_access" in scopes
                and oauth_setting(application, "generateRefreshTokens", True)
                and "refresh_token"
                in oauth_setting(application, "enabledGrants", ["refresh_token"])
            )
            if grant_type == "authorization_code" and not keep:
                RefreshToken.objects.filter(token_family=claims.get("sid")).delete()
                del body["refresh_token"]
            elif grant_type == "refresh_token" and refresh_policy(application) != ONE_TIME_USE:
                del body["refresh_token"]
            else:
                body["refresh_token_id"] = claims.get("sid")
        result = JsonResponse(body)
        result["Cache-Control"] = "no-store"
        result["Pragma"] = "no-cache"
        return result

    def with_reason(self, response, grant_type):
        try:
            body = json.loads(response.content)
        except ValueError:
            return response
        reason = ERROR_REASONS.get((body.get("error"), grant_type))
        if (
            body.get("error") == "invalid_grant"
            and "verifier" in body.get("error_description", "").lower()
        ):
            reason = "invalid_pkce_code_verifier"
        if reason:
            body["error_reason"] = reason
        result = JsonResponse(body, status=response.status_code)
        for header in ("WWW-Authenticate", "Cache-Control", "Pragma"):
            if header in response:
                result[header] = response[header]
        return result


def _unverified_claims(token):
    """Claims of a JWT this IdP has just signed itself (never used for an incoming token)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


@method_decorator(csrf_exempt, name="dispatch")
class RevokeView(dot_views.RevokeTokenView):
    """POST /oauth2/revoke (RFC 7009); revoking an access token also revokes its refresh token."""


@method_decorator(csrf_exempt, name="dispatch")
class IntrospectView(OAuthLibMixin, View):
    """POST /oauth2/introspect, FusionAuth style: ``client_id`` (or Basic auth) and ``token``."""

    def post(self, request):
        if request.content_type != FORM:
            return oauth_error("invalid_request", "Form-encoded bodies only.")
        token = request.POST.get("token", "")
        if "HTTP_AUTHORIZATION" in request.META:
            if not self.authenticate_client(request):
                return oauth_error("invalid_client", "Client authentication failed.", 401)
            client_id = _basic_client_id(request)
        else:
            client_id = request.POST.get("client_id", "")
            if not client_id:
                return oauth_error("invalid_request", "client_id is required.")
        application = find_application(client_id)
        if application is None:
            return oauth_error("invalid_client", "Unknown client_id.", 401)
        if not token:
            return oauth_error("invalid_request", "token is required.")
        hint = request.POST.get("token_type_hint", "")
        lookups = [_introspect_refresh, _introspect_access]
        if hint != "refresh_token":
            lookups.reverse()
        for lookup in lookups:
            found = lookup(token)
            if found is None:
                continue
            owner, claims = found
            if owner.client_id != application.client_id:
                return oauth_error("invalid_client", "The token was issued to another client.", 401)
            return JsonResponse({"active": True, **claims})
        return JsonResponse({"active": False})


def _basic_client_id(request):
    try:
        raw = base64.b64decode(request.META["HTTP_AUTHORIZATION"].split(" ", 1)[1]).decode()
    except (IndexError, ValueError):
        return ""
    return unquote_plus(raw.split(":", 1)[0])


def _checksum(token):
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _introspect_access(token):
    found = (
        AccessToken.objects.select_related("application")
        .filter(token_checksum=_checksum(token))
        .first()
    )
    if found is None or found.is_expired():
        return None
    try:
        claims = _verified_claims(token, found.application)
    except (JWException, ValueError):
        claims = {"exp": int(found.expires.timestamp()), "sub": str(found.user_id)}
    return found.application, claims


def _introspect_refresh(token):
    found = (
        RefreshToken.objects.select_related("application", "access_token")
        .filter(token_checksum=_checksum(token), revoked__isnull=True)
        .first()
    )
    if found is None or found.access_token is None:
        return None
    lifetime = refresh_token_expire_timedelta()
    expires = found.created + lifetime if lifetime else None
    claims = {
        "aud": found.application.client_id,
        "iss": issuer(),
        "sub": str(found.user_id),
        "sid": str(found.token_family),
        "token_type": "refresh_token",
    }
    if expires:
        claims["exp"] = int(expires.timestamp())
    return found.application, claims


def _verified_claims(token, application, check_expiry=True):
    key = jwk_for_key(signing_key_for(application))
    check = None if check_expiry else {}
    return json.loads(jwcrypto_jwt.JWT(key=key, jwt=token, check_claims=check).claims)


@method_decorator(csrf_exempt, name="dispatch")
class LogoutView(View):
    """GET or POST /oauth2/logout: ends the IdP session and returns to a registered URL.

    ``post_logout_redirect_uri`` must be one of the application's authorizedRedirectURLs
    (FusionAuth has no separate list); ``state`` is passed back.
    """

    def get(self, request):
        return self.logout(request, request.GET)

    def post(self, request):
        return self.logout(request, request.POST)

    def logout(self, request, params):
        application = None
        if params.get("client_id"):
            application = find_application(params["client_id"])
            if application is None:
                return error_page(
                    request, "Sign-out failed", "Unknown client_id.", "invalid_client_id"
                )
        elif params.get("id_token_hint"):
            application = _application_from_hint(params["id_token_hint"])
            if application is None:
                return error_page(
                    request,
                    "Sign-out failed",
                    "The id_token_hint is not valid.",
                    "invalid_id_token_hint",
                )
        target = params.get("post_logout_redirect_uri", "")
        if target:
            allowed = (
                oauth_setting(application, "authorizedRedirectURLs", []) if application else []
            )
            if target not in allowed:
                return error_page(
                    request,
                    "Sign-out failed",
                    "post_logout_redirect_uri is not registered for this application.",
                    "invalid_post_logout_redirect_uri",
                )
            if params.get("state"):
                target = add_params_to_uri(target, [("state", params["state"])])
        elif application is not None and oauth_setting(application, "logoutURL"):
            target = oauth_setting(application, "logoutURL")
        logout(request)
        if not target:
            return render(request, "devidp/logged_out.html")
        return HttpResponseRedirect(target)


def _application_from_hint(hint):
    """The audience of an ID token this IdP signed (expired ones are accepted, as FusionAuth does)."""
    try:
        claims = _unverified_claims(hint)
        audience = claims.get("aud")
        audience = audience[0] if isinstance(audience, list) else audience
        application = find_application(audience or "")
        if application is None:
            return None
        _verified_claims(hint, application, check_expiry=False)
        return application
    except (JWException, ValueError, IndexError, TypeError, AttributeError):
        return None


class UserInfoView(dot_views.UserInfoView):
    """GET/POST /oauth2/userinfo with a Bearer access token."""
