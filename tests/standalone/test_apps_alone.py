"""The reusable apps in a bare project (tests/standalone/settings.py): they need nothing of the demo."""

import pytest
import responses
from django.conf import settings
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client

from oauthbff.models import OIDCSession
from oauthbff.provider import reset_providers
from tests.oauthbff.fakeop import FakeOP, sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def op():
    cache.clear()
    reset_providers()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakeOP(rsps)
    reset_providers()


def test_these_are_the_standalone_settings():
    assert settings.ROOT_URLCONF == "tests.standalone.urls"
    assert not any(app in settings.INSTALLED_APPS for app in ("changebank", "devidp"))


def test_system_checks_pass_with_the_apps_alone():
    call_command("check", fail_level="WARNING")


def test_sign_in_and_out_with_the_apps_own_templates(op):
    client = Client()
    response, _ = sign_in(client, op)
    assert response.status_code == 302
    user = client.get("/auth/user/").json()
    assert user["authenticated"] is True and user["user"]["roles"] == ["customer"]
    page = client.get("/auth/logout/")
    assert page.status_code == 200
    assert [t.name for t in page.templates][:2] == [
        "oauthbff/logout_confirm.html",
        "oauthbff/base.html",
    ]
    assert "Sign out?" in page.content.decode() and "ChangeBank" not in page.content.decode()
    sessions = client.get("/auth/sessions/")
    assert sessions.status_code == 200 and "This session" in sessions.content.decode()
    assert "ChangeBank" not in sessions.content.decode()
    assert client.post("/auth/logout/").status_code == 302
    assert OIDCSession.objects.get().end_reason == "logout"


def test_error_pages_are_the_apps_own(client):
    page = client.get("/auth/callback/", {"code": "x", "state": "unknown"})
    assert page.status_code == 400
    body = page.content.decode()
    assert "Sign-in link expired" in body and "ChangeBank" not in body
    assert "oauthbff/base.html" in [t.name for t in page.templates]


def test_the_admin_pages_render_from_the_apps_own_templates(op):
    """The admins' change pages, conflict table and history come from the wheel, not the demo."""
    from django.contrib.auth import get_user_model

    from userdata.models import SyncEvent, UserData

    customer = Client()
    sign_in(customer, op)
    ada = get_user_model().objects.get(email=op.email)
    row, _ = UserData.objects.update_or_create(
        user=ada,
        defaults={
            "subject": op.sub,
            "email": op.email,
            "data": {"userData": "local text"},
            "pending": True,
            "conflict_remote_data": {"userData": "remote text"},
            "conflict_remote_version": 1_700_000_000_000,
            "conflict_at": ada.date_joined,
        },
    )
    SyncEvent.objects.create(userdata=row, kind="conflict", message="Conflict.")
    staff = Client()
    staff.force_login(get_user_model().objects.create_superuser("boss", "b@example.com", "x"))
    session = OIDCSession.objects.get(user=ada)
    pages = {
        f"/admin/userdata/userdata/{row.pk}/change/": "admin/userdata/userdata/change_form.html",
        f"/admin/oauthbff/oidcsession/{session.pk}/change/": (
            "admin/oauthbff/oidcsession/change_form.html"
        ),
        f"/admin/auth/user/{ada.pk}/change/": "admin/oauthbff/labelled_change_form.html",
        f"/admin/auth/user/{ada.pk}/history/": "admin/oauthbff/labelled_object_history.html",
        "/admin/auth/user/": "admin/oauthbff/noted_change_list.html",
    }
    for url, template in pages.items():
        page = staff.get(url)
        assert page.status_code == 200, url
        assert template in [t.name for t in page.templates], url
        assert "ChangeBank" not in page.content.decode()
    conflict = staff.get(f"/admin/userdata/userdata/{row.pk}/change/").content.decode()
    assert "<mark>local</mark>" in conflict and "<mark>remote</mark>" in conflict
    assert "userdata/admin.css" in conflict and "oauthbff/admin.css" in conflict
