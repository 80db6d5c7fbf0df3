"""Signing keys: made with `cryptography`, used through jwcrypto (as django-oauth-toolkit does)."""

import json
import secrets
import threading

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwcrypto import jwk

from devidp.models import Key

_cache = {}
_cache_lock = threading.Lock()


def generate_rsa(key_id, name, length=2048, algorithm=Key.RS256):
    """Create an RSA key pair, as POST /api/key/generate does."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=length)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return Key.objects.create(
        id=key_id, name=name, algorithm=algorithm, length=length, secret=pem, public_key=public
    )


def create_hmac(key_id, name, algorithm=Key.HS256, secret=None):
    """Create (generate) or import an HMAC key; a generated secret has 64 bytes (HS512's hash size,
    RFC 7518 section 3.2), enough for every HS algorithm."""
    secret = secret or secrets.token_urlsafe(64)
    return Key.objects.create(
        id=key_id, name=name, algorithm=algorithm, length=len(secret) * 8, secret=secret
    )


def jwk_for_key(key):
    """The jwcrypto JWK for a stored RSA key; parsed once per process (keys never change)."""
    with _cache_lock:
        cached = _cache.get(key.pk)
        if cached is None:
            cached = jwk.JWK.from_pem(key.secret.encode())
            _cache[key.pk] = cached
        return cached


def signing_key_for(application):
    """The RSA key an application signs its tokens with."""
    jwt_config = application.config.get("jwtConfiguration", {})
    for key_id in (jwt_config.get("accessTokenKeyId"), jwt_config.get("idTokenKeyId")):
        if key_id:
            key = Key.objects.filter(pk=key_id, algorithm=Key.RS256).first()
            if key:
                return key
    return Key.objects.filter(algorithm=Key.RS256).order_by("insert_instant").first()


def public_jwks():
    """The JSON Web Key Set of every RSA key (FusionAuth publishes only asymmetric keys)."""
    keys = []
    for key in Key.objects.filter(algorithm=Key.RS256).order_by("insert_instant"):
        private = jwk_for_key(key)
        public = json.loads(private.export_public())
        public.update({"alg": key.algorithm, "use": "sig", "kid": private.thumbprint()})
        keys.append(public)
    return {"keys": keys}
