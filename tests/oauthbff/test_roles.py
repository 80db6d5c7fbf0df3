"""oauthbff.roles: one reader of the role claim and one mapper hook, at sign-in, refresh and APIs."""

import json
from datetime import timedelta

import pytest
from django.http import JsonResponse
from django.test import RequestFactory
from django.utils import timezone

from oauthbff.models import OIDCSession
from oauthbff.resource import require_token
from oauthbff.roles import RolesMapper
from tests.changebank.fakes import use_local_issuer
from tests.oauthbff.fakeop import sign_in

pytestmark = pytest.mark.django_db

MAPPER = "tests.oauthbff.hooks.PermissionsMapper"


@require_token()
def roles_view(request):
    return JsonResponse({"roles": sorted(request.principal.roles)})


def bearer_roles(token):
    request = RequestFactory().get("/x", HTTP_AUTHORIZATION=f"Bearer {token}")
    response = roles_view(request)
    assert response.status_code == 200, response.content
    return json.loads(response.content)["roles"]


@pytest.mark.parametrize(
    ("claim", "claims", "roles"),
    [
        ("roles", {"roles": ["a", 7, None, True]}, ["a", "7"]),
        ("roles", {"roles": "teller"}, ["teller"]),
        ("roles", {"roles": {"a": 1}}, None),
        ("roles", {}, None),
        ("realm_access.roles", {"realm_access": {"roles": ["admin"]}}, ["admin"]),
        ("realm_access.roles", {"realm_access": ["admin"]}, None),
    ],
)
def test_one_reader_of_the_roles_claim(settings, claim, claims, roles):
    settings.OAUTHBFF = {**settings.OAUTHBFF, "ROLES_CLAIM": claim}
    assert RolesMapper().roles_from_claims(claims) == roles


def test_bearer_tokens_follow_a_dotted_roles_claim(settings):
    """Keycloak-style ``realm_access.roles``: API callers with bearer tokens get their roles."""
    issuer = use_local_issuer(settings, ROLES_CLAIM="realm_access.roles")
    token = issuer.mint(roles=None, realm_access={"roles": ["teller"]})
    assert bearer_roles(token) == ["teller"]


def test_a_custom_mapper_holds_at_sign_in_and_at_refresh(client, op, settings):
    settings.OAUTHBFF = {**settings.OAUTHBFF, "ROLES_MAPPER": MAPPER}
    original = op.access_token
    permissions = ["read"]
    op.access_token = lambda **extra: original(
        **{"https://example.com/permissions": list(permissions)}, **extra
    )
    sign_in(client, op)
    user = OIDCSession.objects.get().user
    assert client.get("/auth/user/").json()["user"]["roles"] == ["perm:read"]
    assert [g.name for g in user.groups.all()] == ["perm:read"] and not user.is_staff

    permissions.append("admin")
    OIDCSession.objects.update(access_expires_at=timezone.now() - timedelta(seconds=5))
    assert client.get("/auth/user/").json()["user"]["roles"] == ["perm:admin", "perm:read"]
    user.refresh_from_db()
    assert user.is_staff and not user.is_superuser


def test_a_custom_mapper_holds_for_bearer_tokens(settings):
    issuer = use_local_issuer(settings, ROLES_MAPPER=MAPPER)
    token = issuer.mint(**{"https://example.com/permissions": ["write"]})
    assert bearer_roles(token) == ["perm:write"]


def test_a_mapper_that_is_not_a_roles_mapper_fails_the_checks(settings):
    from oauthbff.checks import check_oauthbff_settings

    settings.OAUTHBFF = {**settings.OAUTHBFF, "ROLES_MAPPER": "collections.OrderedDict"}
    assert "oauthbff.E017" in {m.id for m in check_oauthbff_settings(None)}
    settings.OAUTHBFF = {**settings.OAUTHBFF, "ROLES_MAPPER": "no.such.Mapper"}
    assert "oauthbff.E017" in {m.id for m in check_oauthbff_settings(None)}
    settings.OAUTHBFF = {**settings.OAUTHBFF, "ROLES_MAPPER": MAPPER}
    assert "oauthbff.E017" not in {m.id for m in check_oauthbff_settings(None)}
