"""oauthbff.backends: a project's subclass is the backend everywhere (checks, sign-in, refresh)."""

from datetime import timedelta

import pytest
from django.contrib.auth import BACKEND_SESSION_KEY
from django.utils import timezone

from oauthbff.checks import check_oauthbff_settings
from oauthbff.models import OIDCSession
from tests.oauthbff.fakeop import sign_in
from tests.oauthbff.hooks import NicknameBackend, SubclassedBackend

pytestmark = pytest.mark.django_db


def ids(settings_):
    return {m.id for m in check_oauthbff_settings(None)}


def test_sign_in_uses_the_configured_backend(client, op, oidc_backend):
    response, _ = sign_in(client, op)
    assert response.status_code == 302
    assert client.session[BACKEND_SESSION_KEY] == oidc_backend
    assert client.get("/auth/user/").json()["authenticated"] is True


def test_checks_accept_subclasses_and_refuse_other_classes(settings):
    settings.AUTHENTICATION_BACKENDS = [
        "django.contrib.auth.backends.ModelBackend",
        SubclassedBackend.path,
    ]
    assert "oauthbff.E013" not in ids(settings)
    settings.AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
    assert "oauthbff.E013" in ids(settings)
    settings.AUTHENTICATION_BACKENDS = ["no.such.Backend"]
    assert "oauthbff.E013" in ids(settings)


def test_update_user_hook_holds_at_sign_in_and_at_refresh(client, op, settings):
    settings.AUTHENTICATION_BACKENDS = ["tests.oauthbff.hooks.NicknameBackend"]
    NicknameBackend.calls.clear()
    op.id_claims_override = {"nickname": "Ada"}
    sign_in(client, op)
    user = OIDCSession.objects.get().user
    assert user.first_name == "Ada"
    assert NicknameBackend.calls == [("update_user", user.pk, ["customer"])]

    op.roles = ["admin", "customer"]
    OIDCSession.objects.update(access_expires_at=timezone.now() - timedelta(seconds=5))
    assert client.get("/auth/user/").json()["user"]["roles"] == ["admin", "customer"]
    assert NicknameBackend.calls[-1] == ("update_user", user.pk, ["admin", "customer"])
    user.refresh_from_db()
    assert user.is_staff and user.first_name == "Ada"
