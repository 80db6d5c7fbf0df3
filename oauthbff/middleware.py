"""Keeps a signed-in session's access token fresh, on every request method.

Refreshes shortly before expiry (single-flight, see ``oauthbff.refresh``). When refresh is impossible
the local session ends: HTML requests are sent to sign in again with ``next``, JSON requests get 401.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib import auth
from django.http import HttpResponseRedirect
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils import timezone

from oauthbff.conf import oauthbff_settings
from oauthbff.exceptions import RefreshUnavailable, SessionExpired
from oauthbff.models import OIDCSession
from oauthbff.refresh import get_access_token, needs_refresh
from oauthbff.responses import json_error, login_url, wants_json
from oauthbff.sessions import SESSION_KEY, current_session, end_session

logger = logging.getLogger(__name__)

# The views that must run whatever the token's state: finishing a sign-in, and signing out.
EXEMPT_URL_NAMES = ("oauthbff:callback", "oauthbff:logout", "oauthbff:backchannel_logout")

_exempt_paths = {}


def exempt_paths():
    """The path prefixes the middleware leaves alone: oauthbff's own exempt views, EXEMPT_URLS
    (URL names or paths) and STATIC_URL; computed once per URL conf and settings."""
    extra = tuple(oauthbff_settings.EXEMPT_URLS)
    key = (get_urlconf(), get_script_prefix(), extra, settings.STATIC_URL)
    paths = _exempt_paths.get(key)
    if paths is None:
        paths = []
        for name in (*EXEMPT_URL_NAMES, *extra):
            if name.startswith("/"):
                paths.append(name)
                continue
            try:
                paths.append(reverse(name))
            except NoReverseMatch:
                logger.debug("oauthbff: exempt URL %r is not in this URL conf", name)
        if settings.STATIC_URL:
            static = str(settings.STATIC_URL)
            paths.append(static if static.startswith(("/", "http")) else f"/{static}")
        paths = _exempt_paths[key] = tuple(paths)
    return paths


class TokenRefreshMiddleware:
    """Place after AuthenticationMiddleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.process(request)
        return response if response is not None else self.get_response(request)

    def process(self, request):
        user = getattr(request, "user", None)
        if user is None or request.path.startswith(exempt_paths()):
            return None
        if not user.is_authenticated:
            self.end_orphaned_session(request)
            return None
        row = current_session(request)
        if row is None:
            if request.session.get(SESSION_KEY):
                # Its index row was ended (back-channel logout, revoked by staff) but the Django
                # session could not be deleted: it is over all the same.
                auth.logout(request)
            return None
        self.touch(row)
        if not needs_refresh(row):
            return None
        try:
            get_access_token(request)
        except RefreshUnavailable:
            # The provider is briefly unreachable: keep the session, let the view decide.
            logger.warning("oauthbff: token refresh postponed, provider unavailable")
            return None
        except SessionExpired:
            row = current_session(request, reload=True) or row
            end_session(row, "refresh_failed", delete_django_session=False)
            auth.logout(request)
            return self.signed_out(request)
        return None

    def end_orphaned_session(self, request):
        """A signed-in session whose user is no longer let in (deactivated, deleted): end its index
        row, revoke its refresh token and forget the session, so reactivating the user later does
        not bring it back."""
        session = getattr(request, "session", None)
        pk = session.get(SESSION_KEY) if session is not None else None
        if not pk:
            return
        row = OIDCSession.objects.active().filter(pk=pk).first()
        if row is not None:
            end_session(row, "user_inactive", revoke=True, delete_django_session=False)
        session.flush()

    def touch(self, row):
        now = timezone.now()
        if now - row.last_used_at > timedelta(seconds=oauthbff_settings.TOUCH_INTERVAL):
            OIDCSession.objects.filter(pk=row.pk).update(last_used_at=now)
            row.last_used_at = now

    def signed_out(self, request):
        if wants_json(request):
            return json_error(
                "session_expired",
                "Your session has expired; please sign in again.",
                status=401,
                login_url=login_url(),
            )
        return HttpResponseRedirect(login_url(request.get_full_path()))
