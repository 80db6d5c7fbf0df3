"""Hostile back-channel logout requests: only a logout token the IdP signed may end a session.

Garbage, forged signatures, `alg: none`, HMAC tokens keyed with the client secret and tokens with the
right key id but another key are all refused with a 400 JSON answer; every session stays as it was.
"""

import base64
import json
import time
import uuid

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import given
from hypothesis import strategies as st

from oauthbff.models import OIDCSession
from tests.hostile.conftest import HOSTILE, assert_safe

URL = "/auth/backchannel-logout/"
EVENT = "http://schemas.openid.net/event/backchannel-logout"
ATTACKER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)

pytestmark = pytest.mark.django_db


@pytest.fixture
def victim(signed_in_client):
    client = signed_in_client("customer@example.com")
    assert "Hi, customer@example.com!" in client.get("/").content.decode()
    return client


def sessions():
    return list(
        OIDCSession.objects.order_by("pk").values_list("pk", "ended_at", "session_key_hash")
    )


def logout_claims(devidp, sub):
    return {
        "iss": devidp.url,
        "aud": devidp.client_id,
        "iat": int(time.time()),
        "exp": int(time.time()) + 120,
        "jti": str(uuid.uuid4()),
        "sub": sub,
        "events": {EVENT: {}},
    }


def raw_rs256(claims, key, kid):
    """Sign any JSON as RS256 by hand: PyJWT refuses to encode some hostile claim values."""

    def part(value):
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=")

    signing_input = part({"alg": "RS256", "typ": "JWT", "kid": kid}) + b"." + part(claims)
    signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return (signing_input + b"." + base64.urlsafe_b64encode(signature).rstrip(b"=")).decode()


def idp_kid(devidp):
    keys = requests.get(f"{devidp.url}/.well-known/jwks.json", timeout=5).json()["keys"]
    return keys[0].get("kid")


def still_signed_in(client):
    return "Hi, customer@example.com!" in client.get("/").content.decode()


@HOSTILE
@given(
    token=st.one_of(
        st.text(max_size=400),
        st.from_regex(
            r"[A-Za-z0-9_-]{2,60}\.[A-Za-z0-9_-]{2,200}\.[A-Za-z0-9_-]{0,80}", fullmatch=True
        ),
        st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
    )
)
def test_garbage_logout_tokens_are_refused_and_end_nothing(client, victim, token):
    before = sessions()
    response = client.post(URL, {"logout_token": token})
    assert_safe(response, allowed={400})
    assert response.json()["error"] == "invalid_request"
    assert sessions() == before


def test_forged_logout_tokens_are_refused_and_end_nothing(client, victim, devidp):
    sub = devidp.user_id("customer@example.com")
    kid = idp_kid(devidp)
    claims = logout_claims(devidp, sub)
    forged = {
        "attacker key, IdP's kid": jwt.encode(claims, ATTACKER_KEY, "RS256", headers={"kid": kid}),
        "attacker key, new kid": jwt.encode(claims, ATTACKER_KEY, "RS256", headers={"kid": "x1"}),
        "alg none": jwt.encode(claims, None, "none"),
        "HMAC with the client secret": jwt.encode(claims, devidp.client_secret, "HS256"),
        "HMAC with the public key id": jwt.encode(
            claims, kid or "k", "HS256", headers={"kid": kid}
        ),
    }
    before = sessions()
    for name, token in forged.items():
        response = client.post(URL, {"logout_token": token})
        assert response.status_code == 400, name
        assert_safe(response)
        assert sessions() == before, name
    assert still_signed_in(victim)


@HOSTILE
@given(
    changes=st.dictionaries(
        st.sampled_from(["iss", "aud", "iat", "jti", "sub", "sid", "events", "nonce", "exp"]),
        st.one_of(
            st.none(),
            st.integers(),
            st.text(max_size=30),
            st.just({}),
            st.just({EVENT: []}),
            st.just(["x"]),
        ),
        min_size=1,
        max_size=3,
    )
)
def test_well_signed_but_wrong_claims_are_refused(client, victim, devidp, changes):
    """Signed with a key the IdP does not own; whatever the claims say, nothing ends."""
    claims = {**logout_claims(devidp, devidp.user_id("customer@example.com")), **changes}
    claims = {k: v for k, v in claims.items() if v is not None}
    token = raw_rs256(claims, ATTACKER_KEY, idp_kid(devidp))
    before = sessions()
    response = client.post(URL, {"logout_token": token})
    assert_safe(response, allowed={400})
    assert sessions() == before


@pytest.mark.smoke
@pytest.mark.parametrize("data", [{}, {"logout_token": ""}, {"token": "x"}])
def test_missing_logout_token_is_a_400(client, data):
    response = client.post(URL, data)
    assert_safe(response, allowed={400})
    assert response.json()["error"] == "invalid_request"


@pytest.mark.smoke
def test_get_is_not_allowed(client):
    assert_safe(client.get(URL), allowed={405})
