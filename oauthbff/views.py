"""Thin views over mozilla-django-oidc's, with the checks and answers it lacks."""

import logging
from urllib.parse import parse_qsl, urlencode, urlsplit

from django.contrib import auth, messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.timesince import timesince
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.generic import View
from mozilla_django_oidc.views import (
    OIDCAuthenticationCallbackView,
    OIDCAuthenticationRequestView,
    OIDCLogoutView,
)

from oauthbff.backends import new_sign_in_dpop_key, oidc_setting
from oauthbff.callback import (
    NEXT_SESSION_KEY,
    PROVIDER_DOWN,
    SIGN_IN_ERRORS,
    check_authorization_response,
    complete_sign_in,
    failure_for,
    finish_pending_sign_in,
    restore_pending_sign_in,
    stash_pending_sign_in,
)
from oauthbff.conf import oauthbff_settings
from oauthbff.devices import describe
from oauthbff.exceptions import (
    InvalidToken,
    ProviderError,
    RefreshUnavailable,
    RequestRefused,
    SessionExpired,
)
from oauthbff.keys import KeyFileError, client_keys, key_paths, public_jwks
from oauthbff.logout import (
    backchannel_logout,
    end_other_session,
    end_other_sessions,
    post_logout_redirect_url,
    sign_out,
)
from oauthbff.models import OIDCSession
from oauthbff.oidc_client import dpop_enabled
from oauthbff.par import pushed_authorization_url, uses_par
from oauthbff.provider import get_provider
from oauthbff.refresh import get_access_token
from oauthbff.responses import error_page, json_error, login_url
from oauthbff.sessions import current_session, session_roles
from oauthbff.upstreams import sign_in_resources

logger = logging.getLogger(__name__)

PROMPT_VALUES = {"none", "login", "consent", "select_account", "create"}
SIGN_IN_REFUSED = (
    "Sign-in unavailable",
    "The identity provider refused to start the sign-in this site asked for. The site's "
    "configuration needs a look; please try again later.",
)


@method_decorator(never_cache, name="dispatch")
class LoginView(OIDCAuthenticationRequestView):
    """Starts the code flow with one-time state, nonce and PKCE S256, pushed (RFC 9126) when PAR
    applies; with the RFC 8707 resources (RESOURCE and the upstreams') the grant is to cover."""

    def __init__(self, **kwargs):
        View.__init__(self, **kwargs)  # the parent would resolve endpoints here, before dispatch
        self.OIDC_RP_CLIENT_ID = oauthbff_settings.CLIENT_ID

    @staticmethod
    def get_settings(attr, *args):
        return oidc_setting(attr, *args)

    @property
    def OIDC_OP_AUTH_ENDPOINT(self):  # noqa: N802 - the parent's attribute name
        return get_provider().authorization_endpoint

    def dispatch(self, request, *args, **kwargs):
        try:
            # Never send the browser to a provider known to be down: say so here instead.
            get_provider().ensure_reachable()
        except ProviderError as exc:
            logger.warning("oauthbff: sign-in could not start: %s", exc)
            return error_page(request, *PROVIDER_DOWN, status=503)
        return stash_pending_sign_in(request, super().dispatch(request, *args, **kwargs))

    def get_extra_params(self, request):
        params = {}
        prompt = request.GET.get("prompt", "")
        if prompt and set(prompt.split()) <= PROMPT_VALUES:
            params["prompt"] = prompt
        login_hint = request.GET.get("login_hint", "")
        if login_hint and len(login_hint) <= 255:
            params["login_hint"] = login_hint
        if oauthbff_settings.AUDIENCE:
            params["audience"] = oauthbff_settings.AUDIENCE
        return params

    def get(self, request):
        try:
            response = super().get(request)
            url = response["Location"]
            resources = sign_in_resources()
            if resources:
                # RFC 8707 §2.1: one resource parameter per API the grant is to cover.
                url += "&" + urlencode([("resource", uri) for uri in resources])
            provider = get_provider()
            dpop_key = None
            if dpop_enabled():
                state = dict(parse_qsl(urlsplit(url).query)).get("state", "")
                dpop_key = new_sign_in_dpop_key(request, state)
            if uses_par(provider):
                # The push carries a proof by the key: the provider binds the code to it.
                url = pushed_authorization_url(url, provider, dpop_key=dpop_key)
            elif dpop_key is not None:
                url += "&" + urlencode({"dpop_jkt": dpop_key.thumbprint})
            return HttpResponseRedirect(url)
        except RequestRefused as exc:
            # Up, and refusing what this site asks for (a resource it does not know, a scope):
            # not "unreachable", and not worth a retry by the person.
            logger.warning("oauthbff: sign-in could not start: %s", exc)
            return error_page(request, *SIGN_IN_REFUSED, status=502)
        except ProviderError as exc:
            logger.warning("oauthbff: sign-in could not start: %s", exc)
            return error_page(request, *PROVIDER_DOWN, status=503)


@method_decorator(never_cache, name="dispatch")
class CallbackView(OIDCAuthenticationCallbackView):
    """The provider's redirect back: checked (``oauthbff.callback``), then mozilla-django-oidc's
    flow, which has the configured backend exchange the code and validate the tokens."""

    @staticmethod
    def get_settings(attr, *args):
        return oidc_setting(attr, *args)

    def dispatch(self, request, *args, **kwargs):
        restore_pending_sign_in(request)
        return finish_pending_sign_in(request, super().dispatch(request, *args, **kwargs))

    def get(self, request):
        try:
            check_authorization_response(request)
            self.next_url = request.session.get(NEXT_SESSION_KEY)
            return super().get(request)
        except SIGN_IN_ERRORS as exc:
            failure = failure_for(exc)
            return error_page(request, failure.title, failure.message, status=failure.status)

    def login_failure(self):
        return error_page(
            self.request, "Sign-in failed", "Your account could not be signed in here.", status=403
        )

    def login_success(self):
        complete_sign_in(self.request, self.user)
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
        return signed_out_response(request, sign_out(request))


def signed_out_response(request, url):
    """Off to ``url`` (the provider's sign-out, or home); when the provider is down, a page that
    says the sign-out happened here only."""
    if url is not None:
        return HttpResponseRedirect(url)
    context = {
        "title": "Signed out here",
        "message": "You are signed out of this site. We could not reach the identity provider, so "
        "you may still be signed in there; please sign out there again once it is back.",
        "retry_url": post_logout_redirect_url(),
        "retry_label": "Continue",
    }
    return render(request, "oauthbff/error.html", context)


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


def _ago(moment):
    seconds = (timezone.now() - moment).total_seconds()
    return "just now" if seconds < 60 else f"{timesince(moment, depth=1)} ago"


@never_cache
@login_required
def sessions_view(request):
    """The user's own sessions, each with its device, address and times; POST signs out one of
    the others (``session``) or all of them (``action=end_others``)."""
    if request.method == "POST":
        if request.POST.get("action") == "end_others":
            ended = end_other_sessions(request)
            if ended:
                messages.success(
                    request,
                    ngettext(
                        "Signed out %(count)d other session.",
                        "Signed out %(count)d other sessions.",
                        ended,
                    )
                    % {"count": ended},
                )
            else:
                messages.info(request, "You had no other session to sign out.")
        elif end_other_session(request, request.POST.get("session")):
            messages.success(request, "Signed out that session.")
        else:
            messages.error(request, "That session was already signed out, or is not yours.")
        return redirect("oauthbff:sessions")
    row = current_session(request)
    sessions = [
        {
            "row": session,
            "device": describe(session.user_agent),
            "current": row is not None and session.pk == row.pk,
            "last_used": _ago(session.last_used_at),
        }
        for session in OIDCSession.objects.active().filter(user=request.user)
    ]
    sessions.sort(key=lambda item: not item["current"])  # this one first, then by last use
    return render(
        request,
        "oauthbff/sessions.html",
        {"sessions": sessions, "others": [s for s in sessions if not s["current"]]},
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


@never_cache
@require_http_methods(["GET", "POST"])
def admin_logout_view(request):
    """/admin/logout/: the admin's "Log out" does what /auth/logout/ does (revoke the refresh token,
    end the session here and at the provider); a GET asks for confirmation there."""
    if request.method == "GET":
        return redirect("oauthbff:logout")
    return signed_out_response(request, sign_out(request))


@require_GET
def jwks_view(request):
    """This client's public keys (RFC 7517), for providers that read its ``jwks_uri`` to check
    private_key_jwt assertions; 404 when it has none configured."""
    if not key_paths(oauthbff_settings.CLIENT_PRIVATE_KEY_FILE):
        return json_error("not_found", "This client publishes no keys.", status=404)
    try:
        keys = client_keys()
    except KeyFileError as exc:
        logger.error("oauthbff: %s", exc)
        return json_error("temporarily_unavailable", "The keys cannot be read.", status=503)
    return JsonResponse(
        public_jwks(keys),
        content_type="application/jwk-set+json",
        headers={"Cache-Control": "public, max-age=300"},
    )
