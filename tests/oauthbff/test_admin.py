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


FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)


def result_list(response):
    """The changelist's table alone (the header names the signed-in staff member too)."""
    html = response.content.decode()
    start = html.find('id="result_list"')
    return html[start : html.find("</table>", start)] if start >= 0 else ""


@pytest.fixture
def signed_in(op):
    """A customer signed in from Firefox on Windows and an admin, both through the provider."""
    customer = Client(HTTP_USER_AGENT=FIREFOX)
    op.id_claims_override = {"given_name": "Ada", "family_name": "Lovelace"}
    sign_in(customer, op)
    op.sub, op.email, op.roles = "admin-sub", "admin@example.com", ["admin"]
    op.id_claims_override = {}
    staff = Client(HTTP_USER_AGENT=IPHONE)
    sign_in(staff, op)
    from django.contrib.auth import get_user_model

    ada = get_user_model().objects.get(email="ada@example.com")
    return customer, staff, ada


def test_people_are_named_by_name_and_email_not_username(signed_in):
    _, staff, ada = signed_in
    sessions = staff.get("/admin/oauthbff/oidcsession/").content.decode()
    assert "Ada Lovelace (ada@example.com)" in sessions
    assert "Firefox 133 on Windows 10" in sessions
    assert ada.username not in sessions
    users = staff.get("/admin/auth/user/").content.decode()
    assert "Ada Lovelace (ada@example.com)" in users and f">{ada.username}<" not in users
    assert "People are added at the identity provider" in users
    row = OIDCSession.objects.get(user=ada)
    detail = staff.get(f"/admin/oauthbff/oidcsession/{row.pk}/change/").content.decode()
    assert "<h2>Ada Lovelace (ada@example.com) · Firefox 133 on Windows 10</h2>" in detail
    assert "› Ada Lovelace (ada@example.com)" in detail.replace("&rsaquo;", "›")
    identities = staff.get("/admin/oauthbff/oidcidentity/").content.decode()
    assert "Ada Lovelace (ada@example.com)" in identities


def test_end_reason_filter_speaks_words(signed_in):
    customer, staff, ada = signed_in
    row = OIDCSession.objects.get(user=ada)
    staff.post(
        "/admin/oauthbff/oidcsession/",
        {"action": "revoke_sessions", "_selected_action": [row.pk]},
        follow=True,
    )
    listing = staff.get("/admin/oauthbff/oidcsession/").content.decode()
    assert "Signed out by staff" in listing and "Provider refused to renew" in listing
    assert "refresh_failed" not in listing.replace('state=refresh_failed"', "")
    ended = result_list(staff.get("/admin/oauthbff/oidcsession/", {"state": "revoked"}))
    assert "ada@example.com" in ended and "admin@example.com" not in ended
    active = result_list(staff.get("/admin/oauthbff/oidcsession/", {"state": "active"}))
    assert "ada@example.com" not in active and "admin@example.com" in active


def test_revoke_message_is_worded_for_the_count(signed_in):
    _, staff, ada = signed_in
    row = OIDCSession.objects.get(user=ada)
    page = staff.post(
        "/admin/oauthbff/oidcsession/",
        {"action": "revoke_sessions", "_selected_action": [row.pk]},
        follow=True,
    ).content.decode()
    assert "Signed out 1 session." in page


def test_provider_owned_user_is_read_only_where_the_provider_decides(signed_in):
    from django.contrib.auth.models import Group

    _, staff, ada = signed_in
    url = f"/admin/auth/user/{ada.pk}/change/"
    page = staff.get(url).content.decode()
    assert "owns their e-mail address, name, roles" in page
    assert "password/" not in page and "Set password" not in page
    assert f"/admin/auth/user/{ada.pk}/delete/" not in page
    assert 'name="groups"' not in page and 'name="email"' not in page
    assert "customer" in page  # the role-mapped group, shown read-only
    admins = Group.objects.get(name="admin")
    response = staff.post(
        url,
        {"groups": [admins.pk], "email": "evil@example.com", "is_staff": "on", "is_active": "on"},
    )
    assert response.status_code == 302
    ada.refresh_from_db()
    assert ada.email == "ada@example.com" and not ada.is_staff
    assert list(ada.groups.values_list("name", flat=True)) == ["customer"]
    changed = staff.get(response["Location"]).content.decode()
    assert "Ada Lovelace (ada@example.com)" in changed
    password = staff.get(f"/admin/auth/user/{ada.pk}/password/", follow=True)
    assert "their password is set there" in password.content.decode()
    assert staff.post(f"/admin/auth/user/{ada.pk}/delete/", {"post": "yes"}).status_code == 403
    assert staff.get("/admin/auth/user/add/").status_code == 403
    from django.contrib.auth import get_user_model

    assert get_user_model().objects.filter(pk=ada.pk).exists()


def test_a_local_account_keeps_django_user_admin(signed_in):
    from django.contrib.auth import get_user_model

    _, staff, _ = signed_in
    local = get_user_model().objects.create_user("ops-robot", "robot@example.com", "pw")
    page = staff.get(f"/admin/auth/user/{local.pk}/change/").content.decode()
    assert "password/" in page and 'name="groups"' in page
    assert f"/admin/auth/user/{local.pk}/delete/" in page
    assert "Local account" in staff.get("/admin/auth/user/").content.decode()


def test_staff_sign_a_session_out_from_its_page_and_never_delete_it(signed_in, op):
    import re

    customer, staff, ada = signed_in
    row = OIDCSession.objects.get(user=ada)
    page = staff.get(f"/admin/oauthbff/oidcsession/{row.pk}/change/").content.decode()
    assert "Sign out this session" in page and "/delete/" not in page
    assert f"/admin/oauthbff/oidcsession/{row.pk}/sign-out/" in page
    assert staff.get(f"/admin/oauthbff/oidcsession/{row.pk}/sign-out/").status_code == 405
    assert (
        staff.post(f"/admin/oauthbff/oidcsession/{row.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    listing = staff.get("/admin/oauthbff/oidcsession/").content.decode()
    assert "delete_selected" not in listing
    strict = Client(enforce_csrf_checks=True)
    strict.cookies = staff.cookies
    url = f"/admin/oauthbff/oidcsession/{row.pk}/sign-out/"
    assert strict.post(url).status_code == 403
    assert OIDCSession.objects.get(pk=row.pk).is_active
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    done = strict.post(url, {"csrfmiddlewaretoken": token}, follow=True).content.decode()
    assert "Signed out Ada Lovelace (ada@example.com) · Firefox 133 on Windows 10." in done
    assert "Sign out this session" not in done
    assert OIDCSession.objects.get(pk=row.pk).end_reason == "revoked"
    assert customer.get("/auth/user/").status_code == 401


def test_deactivating_a_person_signs_them_out(signed_in, op):
    customer, staff, ada = signed_in
    page = staff.post(f"/admin/auth/user/{ada.pk}/change/", {"is_active": ""}, follow=True)
    assert "Signed Ada Lovelace (ada@example.com) out of 1 session." in page.content.decode()
    assert customer.get("/auth/user/").status_code == 401
    assert OIDCSession.objects.get(user=ada).end_reason == "revoked"
    assert staff.get("/auth/user/").status_code == 200


def test_history_names_the_person(signed_in):
    _, staff, ada = signed_in
    staff.post(f"/admin/auth/user/{ada.pk}/change/", {"is_active": ""})
    history = staff.get(f"/admin/auth/user/{ada.pk}/history/").content.decode()
    assert "Change history: Ada Lovelace (ada@example.com)" in history
    assert ada.username not in history
    index = staff.get("/admin/").content.decode()
    assert "Ada Lovelace (ada@example.com)" in index  # recent actions


def test_groups_are_the_providers_roles(signed_in):
    from django.contrib.auth.models import Group

    _, staff, ada = signed_in
    listing = staff.get("/admin/auth/group/").content.decode()
    assert "Each group is a role at the identity provider" in listing
    group = Group.objects.get(name="customer")
    url = f"/admin/auth/group/{group.pk}/change/"
    page = staff.get(url).content.decode()
    assert 'name="name"' not in page and "rename the role at the provider" in page
    staff.post(url, {"name": "renamed", "permissions": []})
    group.refresh_from_db()
    assert group.name == "customer"
    assert ada.groups.filter(name="customer").exists()


SECRET_LOOKUPS = (
    "session_key_hash__startswith",
    "sealed_session_key__startswith",
    "access_token__startswith",
    "refresh_token__startswith",
    "id_token__startswith",
    "claims__icontains",
    "dpop_key__startswith",
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


def test_a_sessions_page_names_its_api_tokens_never_shows_them(signed_in):
    from datetime import timedelta

    from django.utils import timezone

    from oauthbff.crypto import encrypt
    from oauthbff.models import UpstreamToken

    _, staff, ada = signed_in
    row = OIDCSession.objects.get(user=ada)
    UpstreamToken.objects.create(
        session=row,
        upstream="bank",
        target="https://bank/||accounts",
        access_token=encrypt("the-bank-token"),
        expires_at=timezone.now() + timedelta(minutes=5),
        lifetime=300,
    )
    page = staff.get(f"/admin/oauthbff/oidcsession/{row.pk}/change/").content.decode()
    assert "Tokens for APIs" in page and "bank (until " in page
    assert "the-bank-token" not in page
    probe = staff.get("/admin/oauthbff/oidcsession/", {"upstream_tokens__access_token__gt": "a"})
    assert probe.status_code in (302, 400)  # a lookup through the tokens is refused
