"""This client's private keys (private_key_jwt, RFC 7523): loading, rotation, assertions, the JWKS."""

import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from oauthbff.jwt import jwk_thumbprint
from oauthbff.keys import (
    ASSERTION_TYPE,
    KeyFileError,
    assertion_params,
    cached_keys,
    client_assertion,
    forget_keys,
    load_keys,
    public_jwks,
)

ISSUER = "https://op.example.test/"


def pem(private_key, password=None):
    encryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key():
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def write(tmp_path):
    def write(name, *blobs):
        path = tmp_path / name
        path.write_bytes(b"".join(blobs))
        return str(path)

    return write


def test_rsa_signs_ps256_and_ec_signs_es256(write, rsa_key, ec_key):
    (rsa_client,) = load_keys(write("rsa.pem", pem(rsa_key)))
    (ec_client,) = load_keys([write("ec.pem", pem(ec_key))])
    assert (rsa_client.alg, ec_client.alg) == ("PS256", "ES256")
    assert rsa_client.kid == jwk_thumbprint(rsa_client.public_jwk)


def test_several_files_and_several_keys_per_file_rotate_first_signs(write, rsa_key, ec_key):
    other = ec.generate_private_key(ec.SECP256R1())
    both = write("both.pem", pem(ec_key), b"\n", pem(rsa_key))
    keys = load_keys(f"{both}, {write('next.pem', pem(other))}")
    assert [k.alg for k in keys] == ["ES256", "PS256", "ES256"]
    params = assertion_params(keys, client_id="bff", audience=ISSUER)
    assert jwt.get_unverified_header(params["client_assertion"])["kid"] == keys[0].kid
    published = public_jwks(keys)["keys"]
    assert [k["kid"] for k in published] == [k.kid for k in keys]
    assert all("d" not in k and k["use"] == "sig" for k in published)


def test_a_certificate_beside_the_key_is_skipped(write, ec_key):
    cert = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    (key,) = load_keys(write("with-cert.pem", cert, pem(ec_key)))
    assert key.alg == "ES256"


def test_the_assertion_is_what_rfc_7523_asks_for(write, rsa_key):
    keys = load_keys(write("rsa.pem", pem(rsa_key)))
    params = assertion_params(keys, client_id="bff", audience=ISSUER)
    assert params["client_assertion_type"] == ASSERTION_TYPE and params["client_id"] == "bff"
    claims = jwt.decode(
        params["client_assertion"],
        rsa_key.public_key(),
        algorithms=["PS256"],
        audience=ISSUER,
        issuer="bff",
    )
    assert claims["sub"] == "bff" and claims["exp"] - claims["iat"] == 60
    assert abs(claims["iat"] - time.time()) < 5
    again = client_assertion(keys[0], client_id="bff", audience=ISSUER)
    assert jwt.decode(again, options={"verify_signature": False})["jti"] != claims["jti"]


def bad_files(write):
    return {
        "missing": ("/nonexistent/bff-key.pem", "cannot be read"),
        "empty": (write("empty.pem", b""), "no PEM private key"),
        "public key only": (
            write(
                "public.pem",
                ec.generate_private_key(ec.SECP256R1())
                .public_key()
                .public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                ),
            ),
            "no PEM private key",
        ),
        "encrypted": (
            write("encrypted.pem", pem(ec.generate_private_key(ec.SECP256R1()), b"pw")),
            "not an unencrypted PEM private key",
        ),
        "garbage inside": (
            write("garbage.pem", b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
            "not an unencrypted PEM private key",
        ),
        "Ed25519": (
            write("ed.pem", pem(ed25519.Ed25519PrivateKey.generate())),
            "use RSA \\(PS256\\) or EC P-256",
        ),
        "P-384": (write("p384.pem", pem(ec.generate_private_key(ec.SECP384R1()))), "P-256"),
        "RSA 1024": (
            write("small.pem", pem(rsa.generate_private_key(public_exponent=65537, key_size=1024))),
            "2048",
        ),
    }


def test_each_bad_file_is_one_line_naming_the_file(write):
    for case, (path, reason) in bad_files(write).items():
        with pytest.raises(KeyFileError, match=reason) as caught:
            load_keys(path)
        message = str(caught.value)
        assert "\n" not in message and "BEGIN" not in message, case
        assert path in message or "Key 1 of" in message, case


def test_no_file_and_the_same_key_twice_are_refused(write, ec_key):
    with pytest.raises(KeyFileError, match="No private key file"):
        load_keys("")
    path = write("ec.pem", pem(ec_key))
    with pytest.raises(KeyFileError, match="twice"):
        load_keys([path, path])


def test_keys_are_read_once_until_forgotten(write, ec_key, rsa_key):
    path = write("k.pem", pem(ec_key))
    forget_keys()
    first = cached_keys(path)
    write("k.pem", pem(rsa_key))
    assert cached_keys([path]) is first
    forget_keys()
    assert cached_keys(path)[0].alg == "PS256"
    forget_keys()


# --- /auth/jwks.json and the start-up checks ---------------------------------------------------------
def configure(settings, **values):
    settings.OAUTHBFF = {**settings.OAUTHBFF, **values}


@pytest.mark.django_db
def test_the_jwks_view_publishes_every_public_key_and_no_private_one(
    client, settings, write, rsa_key, ec_key
):
    assert client.get("/auth/jwks.json").status_code == 404
    configure(
        settings,
        CLIENT_PRIVATE_KEY_FILE=[write("a.pem", pem(ec_key)), write("b.pem", pem(rsa_key))],
    )
    response = client.get("/auth/jwks.json")
    assert response.status_code == 200 and response["Content-Type"] == "application/jwk-set+json"
    keys = response.json()["keys"]
    assert [k["alg"] for k in keys] == ["ES256", "PS256"]
    assert not any(name in k for k in keys for name in ("d", "p", "q", "dp", "dq", "qi"))


@pytest.mark.django_db
def test_the_jwks_view_answers_503_when_the_file_went_away(client, settings):
    configure(settings, CLIENT_PRIVATE_KEY_FILE="/nonexistent/bff.pem")
    response = client.get("/auth/jwks.json")
    assert response.status_code == 503 and "nonexistent" not in response.content.decode()


def key_check_ids(settings, **values):
    from oauthbff.checks import check_oauthbff_settings, check_sender_constraints

    configure(settings, **values)
    messages = [*check_sender_constraints(None), *check_oauthbff_settings(None)]
    assert all("\n" not in m.msg for m in messages)
    return sorted(m.id for m in messages if m.id.startswith("oauthbff.E"))


def test_private_key_jwt_needs_a_key_file_and_no_secret(settings, write, ec_key):
    assert key_check_ids(settings, TOKEN_AUTH_METHOD="private_key_jwt", CLIENT_SECRET="") == [
        "oauthbff.E032"
    ]
    path = write("ec.pem", pem(ec_key))
    assert key_check_ids(settings, CLIENT_PRIVATE_KEY_FILE=path) == []
    assert key_check_ids(settings, CLIENT_PRIVATE_KEY_FILE="/nonexistent/k.pem") == [
        "oauthbff.E033"
    ]
    wrong = write("ed.pem", pem(ed25519.Ed25519PrivateKey.generate()))
    assert key_check_ids(settings, CLIENT_PRIVATE_KEY_FILE=wrong) == ["oauthbff.E033"]


def test_the_fapi2_profile_refuses_secrets_rs256_and_no_dpop(settings, write, ec_key):
    ids = key_check_ids(
        settings, PROFILE="fapi2", TOKEN_AUTH_METHOD="client_secret_basic", DPOP=False
    )
    assert ids == ["oauthbff.E035", "oauthbff.E036", "oauthbff.E038"]
    ids = key_check_ids(
        settings,
        TOKEN_AUTH_METHOD="private_key_jwt",
        CLIENT_PRIVATE_KEY_FILE=write("ec.pem", pem(ec_key)),
        DPOP=True,
        ALLOWED_ALGORITHMS=["PS256", "ES256"],
    )
    assert ids == []
    assert key_check_ids(settings, PROFILE="fapi1") == ["oauthbff.E034"]
