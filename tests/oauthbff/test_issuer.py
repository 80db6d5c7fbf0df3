"""Issuers are compared as exact strings (OIDC Core §3.1.3.7, Discovery §4.3): a trailing "/" counts.

Every case runs twice, for an issuer with the slash (Auth0's form) and one without (FusionAuth's);
each time the other spelling is refused wherever an ``iss`` arrives.
"""

import time

import pytest
import requests
import responses
from django.core.cache import cache
from django.test import Client

from oauthbff.checks import check_discovery
from oauthbff.exceptions import ProviderError
from oauthbff.models import OIDCSession
from oauthbff.provider import get_provider, reset_providers
from oauthbff.resource import TokenError, check_introspection_claims, verify_access_token
from tests.oauthbff.fakeop import CLIENT_ID, CLIENT_SECRET, FakeOP, sign_in

pytestmark = pytest.mark.django_db

BASE = "https://tenant.op.example.test"
DISCOVERY = f"{BASE}/.well-known/openid-configuration"


def other_spelling(issuer):
    return issuer[:-1] if issuer.endswith("/") else issuer + "/"


@pytest.fixture(params=[f"{BASE}/", BASE], ids=["slashed", "slashless"])
def exact_op(request, settings):
    issuer = request.param
    settings.OAUTHBFF = {
        **settings.OAUTHBFF,
        "ISSUER": issuer,
        "CLIENT_ID": CLIENT_ID,
        "CLIENT_SECRET": CLIENT_SECRET,
    }
    cache.clear()
    reset_providers()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakeOP(rsps, issuer=issuer)
    cache.clear()
    reset_providers()


def test_the_issuer_is_kept_as_configured_and_discovery_found_without_a_double_slash(exact_op):
    provider = get_provider()
    assert provider.issuer == exact_op.issuer
    assert provider.token_endpoint == f"{BASE}/oauth2/token"
    assert exact_op.calls["discovery"] == 1


def test_sign_in_refresh_and_logout_with_the_exact_issuer(client, exact_op):
    response, _ = sign_in(client, exact_op, extra_callback={"iss": exact_op.issuer})
    assert response.status_code == 302, response.content[:300]
    row = OIDCSession.objects.get()
    assert row.issuer == exact_op.issuer
    assert client.post("/auth/refresh/").status_code == 200
    token = exact_op.logout_token(sid="sso-session-1")
    assert Client().post("/auth/backchannel-logout/", {"logout_token": token}).status_code == 200
    assert client.get("/auth/user/").status_code == 401


def test_discovery_naming_the_other_spelling_is_refused(client, exact_op):
    exact_op.metadata["issuer"] = other_spelling(exact_op.issuer)
    with pytest.raises(ProviderError, match="different issuer"):
        get_provider().metadata  # noqa: B018 - the property fetches
    response = client.get("/auth/login/")
    assert response.status_code == 503


def test_an_id_token_from_the_other_spelling_is_refused(client, exact_op):
    exact_op.id_claims_override = {"iss": other_spelling(exact_op.issuer)}
    response, _ = sign_in(client, exact_op)
    assert response.status_code == 400
    assert "_auth_user_id" not in client.session
    assert not OIDCSession.objects.exists()


def test_an_iss_parameter_in_the_other_spelling_is_refused(client, exact_op):
    """RFC 9207 §2.4: the ``iss`` authorization-response parameter is compared exactly too."""
    response, _ = sign_in(client, exact_op, extra_callback={"iss": other_spelling(exact_op.issuer)})
    assert response.status_code == 400
    assert "unexpected identity provider" in response.content.decode()


def test_a_logout_token_from_the_other_spelling_is_refused(exact_op):
    browser = Client()
    sign_in(browser, exact_op)
    token = exact_op.logout_token(iss=other_spelling(exact_op.issuer))
    response = Client().post("/auth/backchannel-logout/", {"logout_token": token})
    assert response.status_code == 400
    assert browser.get("/auth/user/").status_code == 200


def test_an_access_token_from_the_other_spelling_is_refused(exact_op):
    assert verify_access_token(exact_op.access_token())["sub"] == exact_op.sub
    with pytest.raises(TokenError, match="another issuer"):
        verify_access_token(exact_op.access_token(iss=other_spelling(exact_op.issuer)))


def test_an_introspection_answer_from_the_other_spelling_is_refused(exact_op):
    claims = {"active": True, "exp": int(time.time()) + 60, "aud": CLIENT_ID}
    issuer = exact_op.issuer
    assert check_introspection_claims({**claims, "iss": issuer}, issuer=issuer)
    with pytest.raises(TokenError, match="another issuer"):
        check_introspection_claims({**claims, "iss": other_spelling(issuer)}, issuer=issuer)


# --- the start-up check ------------------------------------------------------------------------------
@pytest.fixture
def configured(settings):
    def configure(issuer):
        settings.OAUTHBFF = {**settings.OAUTHBFF, "ISSUER": issuer}

    return configure


@pytest.mark.parametrize("issuer", [f"{BASE}/", BASE])
def test_the_check_refuses_an_issuer_spelled_unlike_discovery(configured, issuer):
    configured(issuer)
    with responses.RequestsMock() as rsps:
        rsps.get(DISCOVERY, json={"issuer": other_spelling(issuer)})
        (error,) = check_discovery(None)
    assert error.id == "oauthbff.E030" and "\n" not in error.msg
    assert repr(issuer) in error.msg and repr(other_spelling(issuer)) in error.msg


@pytest.mark.parametrize("issuer", [f"{BASE}/", BASE])
def test_the_check_passes_the_exact_issuer(configured, issuer):
    configured(issuer)
    with responses.RequestsMock() as rsps:
        rsps.get(DISCOVERY, json={"issuer": issuer})
        assert check_discovery(None) == []


@pytest.mark.parametrize(
    "answer",
    [
        {"body": requests.ConnectionError("down")},
        {"status": 503, "body": "maintenance"},
        {"body": "not json"},
        {"json": ["not", "an", "object"]},
    ],
    ids=["unreachable", "5xx", "not-json", "not-an-object"],
)
def test_the_check_is_silent_when_discovery_cannot_be_read(configured, answer):
    """A provider that is down at start-up is not a configuration error; sign-in says so later."""
    configured(BASE)
    with responses.RequestsMock() as rsps:
        rsps.get(DISCOVERY, **answer)
        assert check_discovery(None) == []
