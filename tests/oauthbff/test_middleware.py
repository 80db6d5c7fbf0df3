"""oauthbff.middleware: which requests it leaves alone (URL names, not written-out paths)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from oauthbff.models import OIDCSession
from tests.oauthbff.fakeop import sign_in

pytestmark = pytest.mark.django_db


def sign_in_with_a_dead_refresh_token(client, op):
    sign_in(client, op)
    op.refresh_tokens.clear()
    OIDCSession.objects.update(access_expires_at=timezone.now() - timedelta(seconds=5))


def test_its_own_exempt_views_run_whatever_the_token(client, op):
    sign_in_with_a_dead_refresh_token(client, op)
    page = client.get("/auth/logout/")
    assert page.status_code == 200 and "Sign out?" in page.content.decode()
    assert op.grants == ["authorization_code"]


def test_exempt_urls_are_url_names_or_paths(client, op, settings):
    sign_in_with_a_dead_refresh_token(client, op)
    settings.OAUTHBFF = {**settings.OAUTHBFF, "EXEMPT_URLS": ["oauthbff:sessions", "/health/"]}
    assert client.get("/auth/sessions/").status_code == 200
    assert op.grants == ["authorization_code"]
    settings.OAUTHBFF = {**settings.OAUTHBFF, "EXEMPT_URLS": ["no-such-url-name"]}
    response = client.get("/auth/sessions/")
    assert response.status_code == 302 and response["Location"].startswith("/auth/login/")
    assert OIDCSession.objects.get().end_reason == "refresh_failed"
