"""Keeps a signed-in session's access token fresh, on every request method.

Refreshes shortly before expiry (single-flight, see ``oauthbff.tokens``). When refresh is impossible
the local session ends: HTML requests are sent to sign in again with ``next``, JSON requests get 401.
"""

import logging
from datetime import timedelta

from django.contrib import auth
from django.http import HttpResponseRedirect
from django.utils import timezone

from oauthbff.conf import bff_settings
from oauthbff.models import OIDCSession
from oauthbff.responses import json_error, login_url, wants_json
from oauthbff.tokens import (
    RefreshUnavailable,
    SessionExpired,
    current_session,
    end_session,
    get_access_token,
    needs_refresh,
)

logger = logging.getLogger(__name__)

EXEMPT_PATHS = ("/auth/logout/", "/auth/backchannel-logout/", "/auth/callback/", "/static/")


class TokenRefreshMiddleware:
    """Place after AuthenticationMiddleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.process(request)
        return response if response is not None else self.get_response(request)

    def process(self, request):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or request.path.startswith(EXEMPT_PATHS):
            return None
        row = current_session(request)
        if row is None:
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

    def touch(self, row):
        now = timezone.now()
        if now - row.last_used_at > timedelta(seconds=bff_settings.TOUCH_INTERVAL):
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
