"""require_token and DPoP-bound tokens (RFC 9449 §7): a bound token is nothing without its proof."""

import time

import pytest
from django.core.cache import cache

from oauthbff.dpop import DPoPKey
from tests.changebank.fakes import use_local_issuer

pytestmark = pytest.mark.django_db

PATH = "/api/make-change?total=3.24"
URL = "http://testserver/api/make-change"


@pytest.fixture
def issuer(settings):
    cache.clear()
    return use_local_issuer(settings)


@pytest.fixture(scope="module")
def key():
    return DPoPKey.generate()


@pytest.fixture
def bound(issuer, key):
    return issuer.mint(roles=["customer"], cnf={"jkt": key.thumbprint})


def dpop(token, proof):
    headers = {"HTTP_AUTHORIZATION": f"DPoP {token}"}
    if proof is not None:
        headers["HTTP_DPOP"] = proof
    return headers


def assert_dpop_refusal(response, token):
    assert response.status_code == 401
    challenge = response["WWW-Authenticate"]
    assert challenge.startswith('DPoP realm="api", error="invalid_dpop_proof"')
    assert 'algs="ES256 PS256"' in challenge
    assert response.json()["error"] == "invalid_dpop_proof"
    assert token not in response.content.decode() and token not in challenge
    return response.json()["message"]


def test_a_bound_token_with_its_proof_is_accepted_once_per_proof(client, bound, key):
    proof = key.proof("GET", URL, access_token=bound)
    response = client.get(PATH, **dpop(bound, proof))
    assert response.status_code == 200 and response.json()["nickels"] == 64
    assert "already used" in assert_dpop_refusal(client.get(PATH, **dpop(bound, proof)), bound)
    again = client.get(PATH, **dpop(bound, key.proof("GET", URL, access_token=bound)))
    assert again.status_code == 200


def test_a_bound_token_sent_as_bearer_is_refused(client, bound):
    """RFC 9449 §7.2: a stolen bound token must not be usable as a plain bearer token."""
    response = client.get(PATH, HTTP_AUTHORIZATION=f"Bearer {bound}")
    assert "DPoP-bound" in assert_dpop_refusal(response, bound)


def test_a_bound_token_in_the_cookie_is_refused(client, bound):
    client.cookies["app.at"] = bound
    assert_dpop_refusal(client.get(PATH), bound)


def test_an_unbound_token_cannot_claim_the_dpop_scheme(client, issuer, key):
    plain = issuer.mint(roles=["customer"])
    response = client.get(PATH, **dpop(plain, key.proof("GET", URL, access_token=plain)))
    assert "not DPoP-bound" in assert_dpop_refusal(response, plain)


BAD = {
    "no proof": (lambda k, t: None, "Exactly one"),
    "two proofs": (
        lambda k, t: (
            k.proof("GET", URL, access_token=t) + "," + k.proof("GET", URL, access_token=t)
        ),
        "Exactly one",
    ),
    "another method": (lambda k, t: k.proof("POST", URL, access_token=t), "another HTTP method"),
    "another URL": (lambda k, t: k.proof("GET", URL + "x", access_token=t), "another URL"),
    "another host": (
        lambda k, t: k.proof("GET", "http://evil.example/api/make-change", access_token=t),
        "another URL",
    ),
    "another token": (
        lambda k, t: k.proof("GET", URL, access_token="other"),
        "another access token",
    ),
    "another key": (
        lambda k, t: DPoPKey.generate().proof("GET", URL, access_token=t),
        "another key",
    ),
    "stale": (lambda k, t: k.proof("GET", URL, access_token=t, now=time.time() - 300), "too old"),
    "garbage": (lambda k, t: "not-a-proof", "not a signed JWT"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_proofs_are_a_clear_401(client, bound, key, case):
    make, reason = BAD[case]
    message = assert_dpop_refusal(client.get(PATH, **dpop(bound, make(key, bound))), bound)
    assert reason in message


def test_a_bound_token_is_still_checked_as_a_token_first(client, issuer, key):
    expired = issuer.mint(
        roles=["customer"],
        cnf={"jkt": key.thumbprint},
        iat=int(time.time()) - 7200,
        exp=int(time.time()) - 3600,
    )
    response = client.get(PATH, **dpop(expired, key.proof("GET", URL, access_token=expired)))
    assert response.status_code == 401 and "expired" in response.json()["message"]


def test_a_replay_set_that_is_down_is_a_503_not_a_500(client, bound, key, settings):
    """Redis holding the replay set is down: the API says "try again", never 500, never the token."""
    from tests.fixtures.stack import free_port

    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
        },
    }
    client.raise_request_exception = False
    proof = key.proof("GET", URL, access_token=bound)
    response = client.get(PATH, HTTP_ACCEPT="application/json", **dpop(bound, proof))
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["error"] == "temporarily_unavailable"
    assert bound not in response.content.decode()
