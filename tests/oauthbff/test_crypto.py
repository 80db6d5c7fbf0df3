import pytest
from cryptography.fernet import Fernet

from oauthbff.crypto import decrypt, encrypt

pytestmark = pytest.mark.django_db


def test_encryption_round_trip_and_rotation(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.OAUTHBFF = {**settings.OAUTHBFF, "TOKEN_ENCRYPTION_KEY": old}
    secret = encrypt("refresh-me")
    assert "refresh-me" not in secret and decrypt(secret) == "refresh-me"
    settings.OAUTHBFF = {**settings.OAUTHBFF, "TOKEN_ENCRYPTION_KEY": f"{new},{old}"}
    assert decrypt(secret) == "refresh-me"
    settings.OAUTHBFF = {**settings.OAUTHBFF, "TOKEN_ENCRYPTION_KEY": new}
    assert decrypt(secret) == ""


def test_key_derived_from_secret_key(settings):
    settings.OAUTHBFF = {**settings.OAUTHBFF, "TOKEN_ENCRYPTION_KEY": ""}
    secret = encrypt("x")
    settings.SECRET_KEY = "another-secret-key-that-is-long-enough-1234"
    assert decrypt(secret) == ""
