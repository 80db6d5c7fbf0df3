"""oauthbff.upstream_tokens: a token per upstream API, and what the proxy answers when none can be had.

The provider is the `responses` fake, for the faults and odd replies a live one cannot be made to
give (the real grants, rotation and DPoP are proven against node-oidc-provider in
tests/nodeop/test_upstream_tokens.py).
"""

import json
import re
from datetime import timedelta

import pytest
import requests
import responses
from django.utils import timezone

from oauthbff.client import UpstreamNotGranted, upstream_client
from oauthbff.crypto import decrypt
from oauthbff.models import OIDCSession, UpstreamToken
from tests.changebank.fakes import request_for
from tests.oauthbff.fakeop import sign_in

pytestmark = pytest.mark.django_db

BANK = "https://bank.example.test/"
BANK_API = "https://bank.example.test/v1"
PLAIN_API = "https://plain.example.test"


@pytest.fixture
def bank(op, settings):
    """Two upstreams: bank (a resource and scope of its own) and plain (the session's token)."""
    settings.OAUTHBFF = {
        **settings.OAUTHBFF,
        "UPSTREAMS": {
            "bank": {"url": BANK_API, "resource": BANK, "scope": "accounts"},
            "plain": PLAIN_API,
        },
    }
    op.seen = []

    def api(request):
        op.seen.append((request.url.split("/")[2], request.headers.get("Authorization")))
        return 200, {"Content-Type": "application/json"}, json.dumps({"ok": True})

    op.rsps.add_callback(
        responses.GET, re.compile(r"https://(bank|plain)\.example\.test/.*"), callback=api
    )
    return op


def call(client, name="bank"):
    return client.get(f"/bff/api/{name}/accounts", HTTP_X_CSRF="1")


def upstream_grants(op):
    return [
        r["lists"]
        for r in op.token_requests
        if r["form"]["grant_type"] == "refresh_token" and ("resource" in r["lists"])
    ]


def test_the_sign_in_asks_for_the_resource_and_scope_and_the_grant_narrows_to_them(client, bank):
    _, params = sign_in(client, bank)
    assert params["resource"] == BANK and "accounts" in params["scope"].split()
    main_token = decrypt(OIDCSession.objects.get().access_token)
    assert call(client).status_code == 200 and call(client, "plain").status_code == 200
    (grant,) = upstream_grants(bank)
    assert grant["resource"] == [BANK] and grant["scope"] == ["accounts"]
    (bank_seen, plain_seen) = bank.seen
    assert plain_seen == ("plain.example.test", f"Bearer {main_token}")
    assert bank_seen[0] == "bank.example.test" and bank_seen[1] != f"Bearer {main_token}"
    # The fake provider rotated the refresh token: the session holds the new one.
    row = OIDCSession.objects.get()
    assert decrypt(row.refresh_token) in bank.refresh_tokens and row.version == 0


def test_a_stored_token_for_another_target_is_not_reused(client, bank, settings):
    sign_in(client, bank)
    assert call(client).status_code == 200
    upstreams = settings.OAUTHBFF["UPSTREAMS"]
    settings.OAUTHBFF = {
        **settings.OAUTHBFF,
        "UPSTREAMS": {**upstreams, "bank": {**upstreams["bank"], "scope": "accounts transfers"}},
    }
    assert call(client).status_code == 200
    assert [g["scope"] for g in upstream_grants(bank)] == [["accounts"], ["accounts transfers"]]
    assert UpstreamToken.objects.get().target.endswith("accounts transfers")


def test_server_side_code_gets_the_upstreams_own_token_too(client, bank):
    sign_in(client, bank)
    row = OIDCSession.objects.get()
    response = upstream_client(request_for(client, row.user), "bank").get("accounts")
    assert response.status_code == 200
    assert bank.seen[-1][1] == f"Bearer {decrypt(UpstreamToken.objects.get().access_token)}"


@pytest.mark.parametrize("error", ["invalid_target", "invalid_scope"])
def test_a_refused_target_is_a_502_and_never_the_main_token(client, bank, error):
    sign_in(client, bank)
    bank.token_override = lambda form: (400, {"error": error}) if "resource" in form else None
    response = call(client)
    assert response.status_code == 502
    assert response.json()["error"] == "upstream_token_refused"
    assert bank.seen == [] and not UpstreamToken.objects.exists()
    assert OIDCSession.objects.get().ended_at is None


def test_a_dead_grant_is_a_401_and_ends_the_session(client, bank):
    sign_in(client, bank)
    bank.token_override = lambda form: (
        (400, {"error": "invalid_grant"}) if "resource" in form else None
    )
    response = call(client)
    assert response.status_code == 401 and response.json()["error"] == "session_expired"
    assert bank.seen == []
    assert OIDCSession.objects.get().end_reason == "refresh_failed"


def _unreachable(form):
    if "resource" in form:
        raise requests.ConnectionError("connection refused")
    return None


@pytest.mark.parametrize(
    "override",
    [
        lambda form: (503, {"error": "temporarily_unavailable"}) if "resource" in form else None,
        lambda form: (500, {}) if "resource" in form else None,
        lambda form: (200, {"token_type": "Bearer"}) if "resource" in form else None,
        _unreachable,
    ],
    ids=["503", "500", "no-access-token", "unreachable"],
)
def test_provider_trouble_is_a_503_and_keeps_the_session(client, bank, override):
    sign_in(client, bank)
    bank.token_override = override
    response = call(client)
    assert response.status_code == 503, response.content[:200]
    assert response.json()["error"] == "temporarily_unavailable" and response["Retry-After"]
    assert bank.seen == [] and not UpstreamToken.objects.exists()
    assert OIDCSession.objects.get().ended_at is None
    bank.token_override = None
    assert call(client).status_code == 200  # once the provider is back


def test_an_upstream_configured_after_the_sign_in_asks_for_a_new_one(client, bank, settings):
    sign_in(client, bank)
    settings.OAUTHBFF = {
        **settings.OAUTHBFF,
        "UPSTREAMS": {
            **settings.OAUTHBFF["UPSTREAMS"],
            "ledger": {"url": "https://plain.example.test/ledger", "resource": "https://ledger/"},
        },
    }
    response = call(client, "ledger")
    assert response.status_code == 401 and response.json()["error"] == "sign_in_required"
    assert upstream_grants(bank) == [] and bank.seen == []
    row = OIDCSession.objects.get()
    with pytest.raises(UpstreamNotGranted):
        upstream_client(request_for(client, row.user), "ledger").get("x")
    # A new sign-in covers it.
    sign_in(client, bank)
    assert call(client, "ledger").status_code == 200


def test_near_expiry_renews_and_sign_out_deletes(client, bank):
    bank.access_ttl = 300
    sign_in(client, bank)
    assert call(client).status_code == 200 and call(client).status_code == 200
    assert len(upstream_grants(bank)) == 1
    UpstreamToken.objects.update(expires_at=timezone.now() + timedelta(seconds=10))
    assert call(client).status_code == 200
    assert len(upstream_grants(bank)) == 2
    assert client.post("/auth/logout/").status_code == 302
    assert not UpstreamToken.objects.exists()


def test_the_tokens_are_deleted_with_the_session_row(client, bank):
    sign_in(client, bank)
    assert call(client).status_code == 200
    OIDCSession.objects.all().delete()
    assert not UpstreamToken.objects.exists()


def test_a_stored_token_that_no_longer_decrypts_is_replaced(client, bank):
    sign_in(client, bank)
    assert call(client).status_code == 200
    UpstreamToken.objects.update(access_token="gAAAAA-not-a-fernet-token")
    assert call(client).status_code == 200
    assert len(upstream_grants(bank)) == 2
    assert decrypt(UpstreamToken.objects.get().access_token)
