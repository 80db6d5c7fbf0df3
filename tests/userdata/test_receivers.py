"""userdata/receivers.py: oauthbff's sign-in signal links the mirror row and pulls."""

import pytest
from django.contrib.auth import get_user_model

from oauthbff.signals import session_ended, user_signed_in
from userdata import mirror, pull, push
from userdata.models import UserData

pytestmark = pytest.mark.django_db


def sign_in(user, sub="sub-new"):
    user_signed_in.send(
        sender=None,
        request=None,
        user=user,
        claims={"sub": sub, "iss": "http://idp.test", "email": user.email},
        access_claims={},
        expires_at=0,
    )


def test_sign_in_links_bulk_pulled_row_and_pulls(memory_store):
    memory_store.set("sub-new", {"userData": "from the IdP"}, "new@example.com")
    pull.pull_all()
    user = get_user_model().objects.create_user("new@example.com", "new@example.com")
    memory_store.set("sub-new", {"userData": "changed since"})
    sign_in(user)
    row = UserData.objects.get(subject="sub-new")
    assert row.user == user and row.issuer == "http://idp.test"
    assert row.data == {"userData": "changed since"}
    assert UserData.objects.count() == 1


def test_sign_in_with_idp_down_still_signs_in(memory_store):
    memory_store.down = True
    user = get_user_model().objects.create_user("d@example.com", "d@example.com")
    sign_in(user, "sub-d")
    row = UserData.objects.get(user=user)
    assert row.subject == "sub-d" and "unreachable" in row.last_error


def test_session_end_delivers_waiting_edit(memory_store):
    memory_store.set("sub-e", {})
    user = get_user_model().objects.create_user("e@example.com", "e@example.com")
    sign_in(user, "sub-e")
    memory_store.down = True
    row = mirror.save_edit(user, "left waiting")
    push.push(row)
    memory_store.down = False
    UserData.objects.filter(pk=row.pk).update(next_push_at=None)
    session_ended.send(sender=None, user=user, session_key="k", reason="logout")
    assert memory_store.users["sub-e"].data == {"userData": "left waiting"}
