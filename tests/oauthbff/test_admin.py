import pytest
from django.test import Client

from oauthbff.models import OIDCSession
from tests.oauthbff.fakeop import sign_in

pytestmark = pytest.mark.django_db


def test_staff_see_and_revoke_sessions(op):
    customer = Client()
    sign_in(customer, op)
    op.sub, op.email, op.roles = "admin-sub", "admin@example.com", ["admin"]
    admin = Client()
    sign_in(admin, op)
    listing = admin.get("/admin/oauthbff/oidcsession/")
    assert listing.status_code == 200
    body = listing.content.decode()
    assert "eyJ" not in body and "rt-" not in body
    target = OIDCSession.objects.get(subject="user-sub-1")
    detail = admin.get(f"/admin/oauthbff/oidcsession/{target.pk}/change/")
    assert detail.status_code == 200 and "eyJ" not in detail.content.decode()
    response = admin.post(
        "/admin/oauthbff/oidcsession/",
        {"action": "revoke_sessions", "_selected_action": [target.pk]},
    )
    assert response.status_code == 302
    assert customer.get("/auth/user/").status_code == 401
    assert admin.get("/auth/user/").status_code == 200
    assert OIDCSession.objects.get(pk=target.pk).end_reason == "revoked"
    assert op.calls["revoke"] == 1
    assert admin.get("/admin/oauthbff/oidcidentity/").status_code == 200


def test_clearbffsessions_command(op):
    from datetime import timedelta
    from io import StringIO

    from django.contrib.sessions.models import Session
    from django.core.cache import cache
    from django.core.management import call_command
    from django.utils import timezone

    gone, kept = Client(), Client()
    sign_in(gone, op)
    sign_in(kept, op)
    gone_row = OIDCSession.objects.for_session_key(gone.session.session_key).get()
    Session.objects.filter(session_key=gone.session.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    cache.clear()
    out = StringIO()
    call_command("clearbffsessions", stdout=out)
    assert "Ended 1 expired" in out.getvalue()
    assert OIDCSession.objects.get(pk=gone_row.pk).end_reason == "expired"
    assert kept.get("/auth/user/").status_code == 200
    OIDCSession.objects.filter(pk=gone_row.pk).update(ended_at=timezone.now() - timedelta(days=40))
    call_command("clearbffsessions", stdout=out)
    assert not OIDCSession.objects.filter(pk=gone_row.pk).exists()


SECRET_LOOKUPS = (
    "session_key_hash__startswith",
    "sealed_session_key__startswith",
    "access_token__startswith",
    "refresh_token__startswith",
    "id_token__startswith",
    "claims__icontains",
)


@pytest.mark.parametrize("lookup", SECRET_LOOKUPS)
def test_staff_cannot_filter_sessions_by_their_secrets(op, lookup):
    """A prefix lookup answers one character per request: the list refuses it (400)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    sign_in(Client(), op)
    viewer = get_user_model().objects.create_user("viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_oidcsession"))
    staff = Client()
    staff.force_login(viewer)
    assert staff.get("/admin/oauthbff/oidcsession/").status_code == 200
    response = staff.get(f"/admin/oauthbff/oidcsession/?{lookup}=e")
    assert response.status_code == 400
    assert staff.get("/admin/oauthbff/oidcsession/?end_reason=").status_code == 200


def test_the_index_keeps_no_usable_session_key(op):
    """The index holds a keyed hash of the session key; the key itself only encrypted."""
    from django.forms.models import model_to_dict

    browser = Client()
    sign_in(browser, op)
    key = browser.session.session_key
    row = OIDCSession.objects.for_session_key(key).get()
    stored = " ".join(str(value) for value in model_to_dict(row, exclude=()).values())
    stored += row.session_key_hash + row.sealed_session_key
    assert key not in stored
    assert not OIDCSession.objects.filter(session_key_hash__startswith=key[:8]).exists()
    assert OIDCSession.objects.for_session_key(key + "x").count() == 0
