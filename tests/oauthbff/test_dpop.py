"""DPoP proofs (RFC 9449): what we send is what the RFC says, and what we accept is only that."""

import base64
import hashlib
import json
import os
import time
import uuid

import jwt
import pytest
from django.core.cache import cache
from django.core.cache.backends.redis import RedisCache
from jwcrypto import jwk as jwcrypto_jwk
from jwcrypto import jws as jwcrypto_jws

from oauthbff import dpop
from oauthbff.dpop import (
    DPoPKey,
    InvalidProof,
    access_token_hash,
    target_uri,
    verify_proof,
)
from oauthbff.jwt import jwk_thumbprint

URL = "https://api.example.test/v1/accounts"
TOKEN = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"


@pytest.fixture(autouse=True)
def _fresh_replay_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(scope="module", params=["ES256", "PS256"])
def key(request):
    return DPoPKey.generate(request.param)


def segments(token):
    header, payload, _ = token.split(".")
    decode = lambda s: json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))  # noqa: E731
    return decode(header), decode(payload)


def test_the_rfc_examples():
    """RFC 9449 §7.1's ath, and RFC 7638 §3.1's thumbprint."""
    assert access_token_hash(TOKEN) == "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
    rfc7638 = {
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    }
    assert jwk_thumbprint(rfc7638) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_a_proof_is_what_section_4_2_describes(key):
    proof = key.proof("post", URL + "?page=2#top", access_token=TOKEN, nonce="n-1")
    header, claims = segments(proof)
    assert header["typ"] == "dpop+jwt" and header["alg"] == key.alg
    assert set(header["jwk"]) <= {"kty", "crv", "x", "y", "n", "e"}  # public members only
    assert claims["htm"] == "POST" and claims["htu"] == URL
    assert claims["ath"] == access_token_hash(TOKEN) and claims["nonce"] == "n-1"
    assert abs(claims["iat"] - time.time()) < 5 and len(claims["jti"]) >= 16
    assert segments(key.proof("GET", URL))[1]["jti"] != claims["jti"]
    # An independent implementation agrees on the signature and the thumbprint.
    public = jwcrypto_jwk.JWK(**header["jwk"])
    assert public.thumbprint() == key.thumbprint
    checked = jwcrypto_jws.JWS()
    checked.deserialize(proof)
    checked.verify(public)


def test_a_key_survives_storage_and_still_signs_for_the_same_thumbprint(key):
    again = DPoPKey.from_json(key.to_json())
    assert again.thumbprint == key.thumbprint and again.alg == key.alg
    assert verify_proof(again.proof("GET", URL), method="GET", url=URL)["jkt"] == key.thumbprint


@pytest.mark.parametrize("text", ["", "{}", "not json", '{"alg": "ES256", "kty": "EC"}', "[]"])
def test_an_unreadable_stored_key_is_a_value_error(text):
    with pytest.raises(ValueError, match="unreadable"):
        DPoPKey.from_json(text)


def test_target_uri_normalises_what_rfc_3986_says_is_equal():
    assert target_uri("HTTPS://API.Example.TEST:443/v1?x=1#f") == "https://api.example.test/v1"
    assert target_uri("http://127.0.0.1:8000/api/") == "http://127.0.0.1:8000/api/"
    assert target_uri("http://[::1]:80") == "http://[::1]/"


def test_a_good_proof_with_its_token_passes(key):
    proof = key.proof("POST", URL, access_token=TOKEN)
    claims = verify_proof(proof, method="POST", url=URL, access_token=TOKEN, jkt=key.thumbprint)
    assert claims["jkt"] == key.thumbprint


def forge(key, claims=None, header=None, drop=()):
    """A proof signed by ``key`` with claims and header members replaced or dropped."""
    base_header, base_claims = segments(key.proof("POST", URL, access_token=TOKEN))
    base_claims.update(claims or {})
    base_header.update(header or {})
    for name in drop:
        base_claims.pop(name, None)
    return jwt.encode(base_claims, key._private_key, algorithm=key.alg, headers=base_header)


OTHER = DPoPKey.generate("ES256")

BAD_PROOFS = {
    "another method": (lambda k: k.proof("GET", URL, access_token=TOKEN), "another HTTP method"),
    "another URL": (lambda k: k.proof("POST", URL + "/x", access_token=TOKEN), "another URL"),
    "another host": (
        lambda k: k.proof("POST", URL.replace("api.", "evil."), access_token=TOKEN),
        "another URL",
    ),
    "another token": (lambda k: k.proof("POST", URL, access_token="other"), "another access token"),
    "no ath": (lambda k: k.proof("POST", URL), "another access token"),
    "another key": (lambda k: OTHER.proof("POST", URL, access_token=TOKEN), "another key"),
    "stale": (lambda k: k.proof("POST", URL, access_token=TOKEN, now=time.time() - 600), "too old"),
    "from the future": (
        lambda k: k.proof("POST", URL, access_token=TOKEN, now=time.time() + 600),
        "too old|future|invalid",
    ),
    "typ JWT": (lambda k: forge(k, header={"typ": "JWT"}), "type"),
    "no jti": (lambda k: forge(k, drop=["jti"]), "'jti'"),
    "no htu": (lambda k: forge(k, drop=["htu"]), "'htu'"),
    "short jti": (lambda k: forge(k, claims={"jti": "x"}), "jti"),
    "iat not a number": (lambda k: forge(k, claims={"iat": "now"}), "iat|invalid"),
    "private key in the header": (
        lambda k: forge(k, header={"jwk": {**k.public_jwk, "d": "AAAA"}}),
        "no private one",
    ),
    "no jwk": (lambda k: forge(k, header={"jwk": None}), "public key"),
    "tampered": (
        lambda k: k.proof("POST", URL, access_token=TOKEN)[:-4] + "AAAA",
        "signature|invalid",
    ),
    "alg none": (
        lambda k: jwt.encode(
            segments(k.proof("POST", URL, access_token=TOKEN))[1],
            None,
            algorithm="none",
            headers={"typ": "dpop+jwt", "jwk": k.public_jwk},
        ),
        "algorithm",
    ),
    "HS256 with the public key as secret": (
        lambda k: jwt.encode(
            segments(k.proof("POST", URL, access_token=TOKEN))[1],
            "secret" * 6,
            algorithm="HS256",
            headers={"typ": "dpop+jwt", "jwk": k.public_jwk},
        ),
        "algorithm",
    ),
    "not a JWT": (lambda k: "not-a-proof", "not a signed JWT"),
    "huge": (lambda k: "a." + "b" * 9000 + ".c", "not a signed JWT"),
}


@pytest.mark.parametrize("case", BAD_PROOFS)
def test_bad_proofs_are_refused_with_a_reason(key, case):
    make, reason = BAD_PROOFS[case]
    proof = make(key)
    with pytest.raises(InvalidProof, match=reason) as caught:
        verify_proof(proof, method="POST", url=URL, access_token=TOKEN, jkt=key.thumbprint)
    assert TOKEN not in str(caught.value) and proof not in str(caught.value)


def test_a_proof_signed_by_another_key_than_its_jwk_is_refused(key):
    """Without a bound token to compare with: the signature itself must verify with the jwk."""
    other = DPoPKey.generate(key.alg)
    proof = forge(key, header={"jwk": other.public_jwk})
    with pytest.raises(InvalidProof, match="signature"):
        verify_proof(proof, method="POST", url=URL, access_token=TOKEN)


def test_a_proof_is_accepted_once(key):
    proof = key.proof("POST", URL, access_token=TOKEN)
    verify_proof(proof, method="POST", url=URL, access_token=TOKEN)
    with pytest.raises(InvalidProof, match="already used"):
        verify_proof(proof, method="POST", url=URL, access_token=TOKEN)


def test_a_refused_proof_does_not_use_up_its_jti(key):
    proof = key.proof("POST", URL, access_token=TOKEN)
    with pytest.raises(InvalidProof):
        verify_proof(proof, method="GET", url=URL, access_token=TOKEN)
    assert verify_proof(proof, method="POST", url=URL, access_token=TOKEN)


def test_the_server_nonce_is_required_once_asked_for(key):
    with pytest.raises(InvalidProof, match="nonce"):
        verify_proof(key.proof("GET", URL), method="GET", url=URL, nonce="server-nonce")
    proof = key.proof("GET", URL, nonce="server-nonce")
    assert verify_proof(proof, method="GET", url=URL, nonce="server-nonce")


def test_keys_are_p256_or_rsa():
    from cryptography.hazmat.primitives.asymmetric import ec

    with pytest.raises(ValueError, match="P-256"):
        DPoPKey(ec.generate_private_key(ec.SECP384R1()), "ES256")
    with pytest.raises(ValueError, match="ES256 or PS256"):
        DPoPKey(ec.generate_private_key(ec.SECP256R1()), "RS256")


REDIS = os.environ.get("REDIS_URL") or os.environ.get("BFF_TEST_REDIS", "redis://127.0.0.1:6379/0")


def test_the_replay_set_on_redis_is_one_set_nx_ex_per_proof(key, monkeypatch):
    """One round trip per proof, through one raw client per cache (Django's backend would build
    a client object per command), under the cache's own key: shared with every other process."""
    backend = RedisCache(REDIS, {"KEY_PREFIX": f"test-{uuid.uuid4().hex}"})
    made = []
    real_get_client = backend._cache.get_client
    monkeypatch.setattr(
        backend._cache, "get_client", lambda *a, **kw: made.append(1) or real_get_client(*a, **kw)
    )
    commands = []
    client = dpop._redis_client(backend)
    real_execute = client.execute_command
    monkeypatch.setattr(
        client, "execute_command", lambda *a, **kw: commands.append(a) or real_execute(*a, **kw)
    )
    proofs = [key.proof("POST", URL, access_token=TOKEN) for _ in range(3)]
    for proof in proofs:
        verify_proof(proof, method="POST", url=URL, access_token=TOKEN, replay_cache=backend)
    with pytest.raises(InvalidProof, match="already used"):
        verify_proof(proofs[0], method="POST", url=URL, access_token=TOKEN, replay_cache=backend)
    assert made == [1] and len(commands) == 4  # one client, made once
    assert all(c[0] == "SET" and c[2] == b"1" and "NX" in c and "EX" in c for c in commands)
    jti = segments(proofs[0])[1]["jti"]
    digest = hashlib.sha256(f"{key.thumbprint}|{jti}".encode()).hexdigest()[:40]
    # Written under the cache's prefix and version: Django's own API reads the same entry.
    assert backend.get(f"oauthbff:dpop-jti:{digest}") == 1
    assert not backend.add(f"oauthbff:dpop-jti:{digest}", 1, 60)
    assert 0 < client.ttl(backend.make_and_validate_key(f"oauthbff:dpop-jti:{digest}")) <= 71


def test_a_jwk_with_members_that_are_not_strings_is_refused_not_a_crash(key):
    header = {"jwk": {**key.public_jwk, ("x" if key.alg == "ES256" else "n"): ["not", "a", "str"]}}
    with pytest.raises(InvalidProof, match="not a usable public key"):
        verify_proof(forge(key, header=header), method="POST", url=URL, access_token=TOKEN)
