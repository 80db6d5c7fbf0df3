"""Thin views over mozilla-django-oidc's, with the checks and answers it lacks."""

import logging
import time

from django.contrib import auth, messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import SuspiciousOperation
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_POST
from django.views.generic import View
from mozilla_django_oidc.views import (
    OIDCAuthenticationCallbackView,
    OIDCAuthenticationRequestView,
    OIDCLogoutView,
)

from oauthbff.backends import LOGIN_RESULT_ATTR, oidc_setting
from oauthbff.conf import bff_settings
from oauthbff.logout import backchannel_logout, end_other_sessions, sign_out
from oauthbff.models import OIDCSession
from oauthbff.provider import InvalidToken, ProviderError, get_provider
from oauthbff.responses import error_page, json_error, login_url
from oauthbff.signals import user_signed_in
from oauthbff.tokens import (
    RefreshUnavailable,
    SessionExpired,
    TokenError,
    current_session,
    end_session,
    get_access_token,
    session_roles,
    start_session,
)

logger = logging.getLogger(__name__)

PROMPT_VALUES = {"none", "login", "consent", "select_account", "create"}

PROVIDER_DOWN = (
    "Sign-in unavailable",
    "We could not reach the identity provider. Please try again in a moment.",
)


@method_decorator(never_cache, name="dispatch")
class LoginView(OIDCAuthenticationRequestView):
    """Starts the code flow with one-time state, nonce and PKCE S256."""

    def __init__(self, **kwargs):
        View.__init__(self, **kwargs)  # the parent would resolve endpoints here, before dispatch
        self.OIDC_RP_CLIENT_ID = bff_settings.CLIENT_ID

    @staticmethod
    def get_settings(attr, *args):
        return oidc_setting(attr, *args)

    @property
    def OIDC_OP_AUTH_ENDPOINT(self):  # noqa: N802 - the parent's attribute name
        return get_provider().authorization_endpoint

    def get_extra_params(self, request):
        params = {}
        prompt = request.GET.get("prompt", "")
        if prompt and set(prompt.split()) <= PROMPT_VALUES:
            params["prompt"] = prompt
        login_hint = request.GET.get("login_hint", "")
        if login_hint and len(login_hint) <= 255:
            params["login_hint"] = login_hint
        return params

    def get(self, request):
        try:
            return super().get(request)
        except ProviderError as exc:
            logger.warning("oauthbff: sign-in could not start: %s", exc)
            return error_page(request, *PROVIDER_DOWN, status=503)


@method_decorator(never_cache, name="dispatch")
class CallbackView(OIDCAuthenticationCallbackView):
    """Checks state (one-time, fresh), RFC 9207 ``iss``, then lets the backend validate everything."""

    @staticmethod
    def get_settings(attr, *args):
        return oidc_setting(attr, *args)

    def _pop_state(self, state):
        states = self.request.session.get("oidc_states") or {}
        if state in states:
            del states[state]
            self.request.session["oidc_states"] = states
        return states

    def get(self, request):
        state = request.GET.get("state", "")
        states = request.session.get("oidc_states") or {}
        if request.GET.get("error"):
            self._pop_state(state)
            if request.GET["error"] == "access_denied":
                return error_page(
                    request,
                    "Sign-in cancelled",
                    "The identity provider did not sign you in (access was denied).",
                    status=403,
                )
            return error_page(
                request,
                "Sign-in failed",
                "The identity provider could not sign you in.",
                status=400,
            )
        if not state or state not in states or not request.GET.get("code"):
            return error_page(
                request,
                "Sign-in link expired",
                "This sign-in link is invalid, expired or was already used.",
                status=400,
            )
        entry = states[state]
        added_on = entry.get("added_on", 0) if isinstance(entry, dict) else 0
        if time.time() - added_on > bff_settings.STATE_MAX_AGE:
            self._pop_state(state)
            return error_page(
                request,
                "Sign-in link expired",
                "This sign-in took too long; please start again.",
                status=400,
            )
        try:
            provider = get_provider()
            iss = request.GET.get("iss")
            iss_required = provider.metadata.get("authorization_response_iss_parameter_supported")
            if (iss is not None and iss != provider.issuer) or (iss is None and iss_required):
                self._pop_state(state)
                return error_page(
                    request,
                    "Sign-in failed",
                    "The sign-in response came from an unexpected identity provider.",
                    status=400,
                )
            self.next_url = request.session.get("oidc_login_next")
            return super().get(request)
        except ProviderError as exc:
            logger.warning("oauthbff: sign-in failed, provider problem: %s", exc)
            return error_page(request, *PROVIDER_DOWN, status=502)
        except TokenError as exc:
            logger.warning("oauthbff: sign-in failed, token endpoint said %s", exc.error)
            return error_page(
                request,
                "Sign-in failed",
                "The identity provider refused to complete this sign-in.",
                status=400,
            )
        except (InvalidToken, SuspiciousOperation) as exc:
            logger.warning("oauthbff: sign-in failed, token rejected: %s", exc)
            return error_page(
                request,
                "Sign-in failed",
                "We could not verify the identity provider's answer.",
                status=400,
            )

    def login_failure(self):
        return error_page(
            self.request,
            "Sign-in failed",
            "Your account could not be signed in here.",
            status=403,
        )

    def login_success(self):
        request = self.request
        result = getattr(request, LOGIN_RESULT_ATTR)
        previous = current_session(request)
        if previous is not None:
            end_session(previous, "replaced", delete_django_session=False)
        auth.login(request, self.user, backend="oauthbff.backends.OIDCBackend")
        request.session.pop("oidc_login_next", None)
        row = start_session(
            request,
            self.user,
            result["token_response"],
            result["claims"],
            result["access_claims"],
            roles=result["roles"],
        )
        user_signed_in.send(
            sender=self.__class__,
            request=request,
            user=self.user,
            claims=result["claims"],
            access_claims=result["access_claims"],
            expires_at=row.access_expires_at,
        )
        return HttpResponseRedirect(self.next_url or "/")


@method_decorator(never_cache, name="dispatch")
class LogoutView(OIDCLogoutView):
    """GET asks for confirmation; POST (CSRF-protected) revokes, ends and goes to the provider."""

    @staticmethod
    def get_settings(attr, *args):
        return oidc_setting(attr, *args)

    def get(self, request):
        if not request.user.is_authenticated:
            return redirect("/")
        return render(request, "oauthbff/logout_confirm.html")

    def post(self, request):
        return HttpResponseRedirect(sign_out(request))


def _iso(value):
    return value.isoformat() if value else None


@never_cache
@require_GET
def user_view(request):
    """The signed-in user's safe claims, session expiry and logout URL, or 401."""
    row = current_session(request) if request.user.is_authenticated else None
    if row is None:
        return JsonResponse(
            {"authenticated": False, "login_url": login_url()},
            status=401,
            headers={"Cache-Control": "no-store"},
        )
    user = request.user
    claims = dict(row.claims)
    claims.pop("sid", None)
    return JsonResponse(
        {
            "authenticated": True,
            "user": {
                "username": user.get_username(),
                "email": user.email,
                "is_staff": user.is_staff,
                "roles": session_roles(request),
            },
            "claims": claims,
            "access_token_expires_at": _iso(row.access_expires_at),
            "session_expires_at": _iso(request.session.get_expiry_date()),
            "logout_url": reverse("oauthbff:logout"),
        },
        headers={"Cache-Control": "no-store"},
    )


@never_cache
@require_POST
def refresh_view(request):
    """Refresh on demand (POST, CSRF-protected); returns the new expiry, never the tokens."""
    if not request.user.is_authenticated or current_session(request) is None:
        return json_error("not_authenticated", "You are not signed in.", status=401)
    try:
        get_access_token(request, force=True)
    except RefreshUnavailable:
        return json_error("provider_unavailable", "Please try again shortly.", status=503)
    except SessionExpired:
        auth.logout(request)
        return json_error("session_expired", "Please sign in again.", status=401)
    row = current_session(request)
    return JsonResponse(
        {"access_token_expires_at": _iso(row.access_expires_at), "version": row.version},
        headers={"Cache-Control": "no-store"},
    )


@csrf_exempt
@never_cache
@require_POST
@sensitive_post_parameters("logout_token")
def backchannel_logout_view(request):
    """OpenID Connect Back-Channel Logout 1.0 (§2.5, §2.8): 200 on success, 400 on a bad token."""
    token = request.POST.get("logout_token", "")
    if not token:
        return json_error("invalid_request", "logout_token is missing.", status=400)
    try:
        backchannel_logout(token)
    except InvalidToken as exc:
        logger.warning("oauthbff: back-channel logout rejected: %s", exc)
        return json_error("invalid_request", str(exc), status=400)
    except ProviderError as exc:
        logger.warning("oauthbff: back-channel logout could not verify: %s", exc)
        return json_error("temporarily_unavailable", str(exc), status=503)
    response = JsonResponse({})
    response["Cache-Control"] = "no-store"
    return response


@never_cache
@login_required
def sessions_view(request):
    """The user's own sessions; POST signs out all the others."""
    if request.method == "POST":
        ended = end_other_sessions(request)
        messages.success(request, f"Signed out {ended} other session(s).")
        return redirect("oauthbff:sessions")
    row = current_session(request)
    sessions = list(OIDCSession.objects.active().filter(user=request.user))
    return render(
        request,
        "oauthbff/sessions.html",
        {
            "sessions": sessions,
            "current_pk": row.pk if row else None,
            "others": [s for s in sessions if not row or s.pk != row.pk],
        },
    )


@never_cache
def admin_login_view(request):
    """/admin/login/: staff sign in through the provider; signed-in non-staff get a friendly page."""
    next_url = request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = reverse("admin:index")
    if request.user.is_authenticated:
        if request.user.is_staff:
            return redirect(next_url)
        return render(request, "oauthbff/admin_denied.html", status=403)
    return redirect(login_url(next_url))
