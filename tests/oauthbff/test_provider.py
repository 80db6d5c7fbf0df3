import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
import requests
import responses

from oauthbff.exceptions import InvalidToken, ProviderError
from oauthbff.provider import get_provider
from tests.oauthbff.fakeop import CLIENT_ID, ISSUER, ec_key, rsa_key


def decode(op, token, **kwargs):
    return get_provider().decode_jwt(token, audience=CLIENT_ID, **kwargs)


def test_discovery_and_jwks_are_cached(op):
    for _ in range(5):
        assert decode(op, op.sign(op.id_claims()))["sub"] == op.sub
    assert op.calls["discovery"] == 1
    assert op.calls["jwks"] == 1


def test_valid_token_with_nonce_and_azp(op):
    claims = decode(
        op, op.sign(op.id_claims(nonce="n1", azp=CLIENT_ID)), nonce="n1", authorized_party=CLIENT_ID
    )
    assert claims["nonce"] == "n1"


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"iss": "https://evil.example"}, "another issuer"),
        ({"aud": "someone-else"}, "another audience"),
        ({"exp": int(time.time()) - 3600}, "expired"),
        ({"iat": int(time.time()) + 3600}, "future|not valid yet"),
        ({"nbf": int(time.time()) + 3600}, "not valid yet"),
    ],
)
def test_claim_faults_are_rejected(op, claims, message):
    with pytest.raises(InvalidToken, match=message):
        decode(op, op.sign(op.id_claims(**claims)))


def test_nonce_mismatch_and_missing(op):
    with pytest.raises(InvalidToken, match="nonce"):
        decode(op, op.sign(op.id_claims(nonce="a")), nonce="b")
    with pytest.raises(InvalidToken, match="nonce"):
        decode(op, op.sign(op.id_claims()), nonce="b")


def test_azp_must_be_this_client_when_multiple_audiences(op):
    token = op.sign(op.id_claims(aud=[CLIENT_ID, "other"]))
    with pytest.raises(InvalidToken, match="azp"):
        decode(op, token, authorized_party=CLIENT_ID)
    token = op.sign(op.id_claims(aud=CLIENT_ID, azp="other"))
    with pytest.raises(InvalidToken, match="azp"):
        decode(op, token, authorized_party=CLIENT_ID)


def test_bad_signature(op):
    forged = jwt.encode(
        op.id_claims(), rsa_key("attacker"), algorithm="RS256", headers={"kid": "k1"}
    )
    with pytest.raises(InvalidToken, match="signature"):
        decode(op, forged)


def test_alg_none_is_rejected(op):
    token = jwt.encode(op.id_claims(), None, algorithm="none", headers={"kid": "k1"})
    with pytest.raises(InvalidToken):
        decode(op, token)


def hmac_with_the_public_key(op, claims):
    """The algorithm-confusion attack: HS256 keyed with the provider's (public) RSA key."""
    from cryptography.hazmat.primitives import serialization

    public_pem = (
        rsa_key("k1")
        .public_key()
        .public_bytes(
            encoding=serialization.Encoding.PEM,
            format=serialization.PublicFormat.SubjectPublicKeyInfo,
        )
    )

    def b64(data):
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = {"alg": "HS256", "kid": "k1", "typ": "JWT"}
    signing_input = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


@pytest.mark.parametrize("alg", ["HS256", "none"])
def test_hmac_and_none_stay_refused_when_added_to_the_allowed_algorithms(op, settings, alg):
    from oauthbff.jwt import allowed_algorithms

    settings.OAUTHBFF = {**settings.OAUTHBFF, "ALLOWED_ALGORITHMS": ["RS256", alg]}
    assert allowed_algorithms() == ["RS256"]
    claims = op.id_claims()
    assert decode(op, op.sign(claims))["sub"] == claims["sub"]  # the claims themselves are good
    if alg == "none":
        forged = jwt.encode(claims, None, algorithm="none", headers={"kid": "k1"})
    else:
        forged = hmac_with_the_public_key(op, claims)
    with pytest.raises(InvalidToken):
        decode(op, forged)


def test_alg_outside_allowlist(op, settings):
    key = ec_key()
    op.keys["e1"] = key
    op.published.append("e1")
    settings.OAUTHBFF = {**settings.OAUTHBFF, "ALLOWED_ALGORITHMS": ["RS256"]}
    with pytest.raises(InvalidToken, match="not allowed"):
        decode(op, op.sign(op.id_claims(), kid="e1", alg="ES256"))


def test_key_type_must_match_alg(op):
    token = op.sign(op.id_claims(), kid="k1", alg="RS256")
    # Re-label the RSA-signed token as ES256: the key (RSA) no longer matches.
    header, body, sig = token.split(".")
    import base64
    import json

    hdr = json.loads(base64.urlsafe_b64decode(header + "=="))
    hdr["alg"] = "ES256"
    new_header = base64.urlsafe_b64encode(json.dumps(hdr).encode()).rstrip(b"=").decode()
    with pytest.raises(InvalidToken):
        decode(op, f"{new_header}.{body}.{sig}")


def test_unknown_kid_refetches_once_then_rate_limits(op):
    decode(op, op.sign(op.id_claims()))
    assert op.calls["jwks"] == 1
    op.keys["k2"] = rsa_key("k2")
    op.published = ["k1", "k2"]
    assert decode(op, op.sign(op.id_claims(), kid="k2"))["sub"] == op.sub
    assert op.calls["jwks"] == 2
    # An attacker's unknown kids do not cause a fetch per token.
    op.keys["k3"] = rsa_key("k3")
    for _ in range(5):
        with pytest.raises(InvalidToken, match="unknown key"):
            decode(op, op.sign(op.id_claims(), kid="k3"))
    assert op.calls["jwks"] == 2


def test_jwks_rotation_retires_old_key(op):
    decode(op, op.sign(op.id_claims()))
    op.keys["k2"] = rsa_key("k2")
    op.published = ["k2"]
    assert decode(op, op.sign(op.id_claims(), kid="k2"))["sub"] == op.sub
    with pytest.raises(InvalidToken, match="unknown key"):
        decode(op, op.sign(op.id_claims(), kid="k1"))


def test_malformed_tokens(op):
    for token in ("", "abc", "a.b", None, "a.b.c"):
        with pytest.raises(InvalidToken):
            decode(op, token)


def test_discovery_issuer_mismatch(op):
    op.metadata["issuer"] = "https://other.example"
    with pytest.raises(ProviderError, match="different issuer"):
        get_provider().metadata


def test_discovery_5xx_and_timeout(settings):
    settings.OAUTHBFF = {**settings.OAUTHBFF, "ISSUER": ISSUER}
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, f"{ISSUER}/.well-known/openid-configuration", status=500)
        with pytest.raises(ProviderError, match="500"):
            get_provider().metadata
    with responses.RequestsMock() as rsps:
        rsps.add(
            responses.GET,
            f"{ISSUER}/.well-known/openid-configuration",
            body=requests.exceptions.ConnectTimeout(),
        )
        with pytest.raises(ProviderError, match="could not be reached"):
            get_provider().metadata


def test_ec_keys_work(op, settings):
    op.keys["e1"] = ec_key()
    op.published.append("e1")
    assert decode(op, op.sign(op.id_claims(), kid="e1", alg="ES256"))["sub"] == op.sub


def test_message_never_contains_token(op):
    token = op.sign(op.id_claims(aud="x"))
    with pytest.raises(InvalidToken) as info:
        decode(op, token)
    assert token not in str(info.value)


def test_clear_cache_forces_a_fresh_discovery(op):
    from oauthbff.provider import clear_cache

    decode(op, op.sign(op.id_claims()))
    clear_cache()
    decode(op, op.sign(op.id_claims()))
    assert op.calls["discovery"] == 2 and op.calls["jwks"] == 2


# --- access tokens at our APIs: verified claims kept for a minute -------------------------------------
@pytest.fixture
def verifications(monkeypatch):
    """How often a token's signature and claims were really checked."""
    from oauthbff import jwt as oauthbff_jwt

    made = []
    real = oauthbff_jwt.decode

    def counted(token, **kwargs):
        made.append(token)
        return real(token, **kwargs)

    monkeypatch.setattr(oauthbff_jwt, "decode", counted)
    return made


def test_an_access_token_is_verified_once_then_its_claims_are_kept(op, verifications):
    token = op.access_token()
    provider = get_provider()
    first = provider.decode_access_token(token, audience=[CLIENT_ID])
    first["roles"] = ["tampered"]  # callers get copies
    for _ in range(3):
        assert provider.decode_access_token(token, audience=[CLIENT_ID])["roles"] == op.roles
    assert len(verifications) == 1
    # Checked against another audience it is verified anew (and refused).
    with pytest.raises(InvalidToken, match="another audience"):
        provider.decode_access_token(token, audience=["another-api"])
    assert len(verifications) == 2


def test_kept_claims_never_outlive_the_token_nor_a_minute(op, verifications, monkeypatch, settings):
    settings.OAUTHBFF = {**settings.OAUTHBFF, "CLOCK_SKEW": 0}
    provider = get_provider()
    now = time.time()
    short = op.access_token(exp=int(now) + 20)
    long = op.access_token(exp=int(now) + 3600)
    for token in (short, long):
        provider.decode_access_token(token, audience=[CLIENT_ID])
    monkeypatch.setattr("oauthbff.provider.time.time", lambda: now + 30)
    provider.decode_access_token(long, audience=[CLIENT_ID])
    assert verifications == [short, long]  # the long one is still kept
    # Past the short one's exp its kept claims are not used: it is verified again (PyJWT, on the
    # real clock, still accepts it here).
    provider.decode_access_token(short, audience=[CLIENT_ID])
    assert verifications == [short, long, short]
    monkeypatch.setattr("oauthbff.provider.time.time", lambda: now + 61)
    provider.decode_access_token(long, audience=[CLIENT_ID])
    assert verifications == [short, long, short, long]  # and nothing is kept past a minute


def test_a_reloaded_key_set_drops_the_kept_claims(op, verifications):
    token = op.access_token()
    provider = get_provider()
    provider.decode_access_token(token, audience=[CLIENT_ID])
    op.keys["k2"] = rsa_key("k2")
    op.published = ["k2"]  # k1, which signed the token, is retired
    provider.decode_jwt(op.sign(op.id_claims(), kid="k2"), audience=CLIENT_ID)  # an unknown kid
    with pytest.raises(InvalidToken, match="unknown key"):
        provider.decode_access_token(token, audience=[CLIENT_ID])
