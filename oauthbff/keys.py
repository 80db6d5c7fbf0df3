"""This client's own signing keys: private_key_jwt client authentication (RFC 7523, OIDC Core §9) and
the public key set that providers read from ``/auth/jwks.json``.

A client secret is a password the provider also knows; a private key never leaves this server. The
keys come from PEM files (RSA signs PS256, EC P-256 signs ES256). Several files, or several keys in
one file, allow rotation: the first key signs, all of them are published, so a provider that cached
the old set keeps accepting assertions while the new key rolls in.
"""

import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.views.decorators.debug import sensitive_variables
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from oauthbff.conf import oauthbff_settings
from oauthbff.jwt import jwk_thumbprint

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME = 60
_PEM_BEGIN = b"-----BEGIN "
_PEM_PRIVATE = (b"PRIVATE KEY-----",)


class KeyFileError(ValueError):
    """A private key file is missing, unreadable or of a kind that cannot sign. One line, safe to
    show: it names the file, never the key."""


@dataclass(frozen=True)
class ClientKey:
    """One private key of this client, with the algorithm it signs with and its key id (the RFC 7638
    thumbprint, so the id follows the key and not its file name)."""

    private_key: object = field(repr=False)
    alg: str
    kid: str
    public_jwk: dict = field(repr=False)

    @classmethod
    def from_private_key(cls, private_key, source="the key"):
        if isinstance(private_key, rsa.RSAPrivateKey):
            if private_key.key_size < 2048:
                raise KeyFileError(
                    f"{source} is an RSA key of {private_key.key_size} bits; 2048 or more is needed."
                )
            alg, jwk = "PS256", RSAAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
        elif isinstance(private_key, ec.EllipticCurvePrivateKey):
            if not isinstance(private_key.curve, ec.SECP256R1):
                raise KeyFileError(
                    f"{source} is an EC key on {private_key.curve.name}; ES256 needs P-256."
                )
            alg, jwk = "ES256", ECAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
        else:
            raise KeyFileError(
                f"{source} is a {type(private_key).__name__}; use RSA (PS256) or EC P-256 (ES256)."
            )
        kid = jwk_thumbprint(jwk)
        return cls(private_key, alg, kid, {**jwk, "kid": kid, "alg": alg, "use": "sig"})

    @sensitive_variables()
    def sign(self, claims, headers=None):
        return jwt.encode(
            claims,
            self.private_key,
            algorithm=self.alg,
            headers={"kid": self.kid, **(headers or {})},
        )


def _pem_blocks(data):
    """The PEM blocks of ``data`` that hold a private key (a file may also hold certificates)."""
    blocks, start = [], data.find(_PEM_BEGIN)
    while start != -1:
        end_marker = data.find(b"-----END ", start)
        if end_marker == -1:
            break
        end = data.find(b"-----", end_marker + 9)
        if end == -1:
            break
        block = data[start : end + 5]
        header = block.split(b"\n", 1)[0]
        if any(header.rstrip().endswith(kind) for kind in _PEM_PRIVATE):
            blocks.append(block)
        start = data.find(_PEM_BEGIN, end)
    return blocks


def load_key_file(path):
    """Every private key in the PEM file at ``path``, in file order."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyFileError(
            f"The private key file {str(path)!r} cannot be read ({exc.strerror or exc})."
        ) from exc
    blocks = _pem_blocks(data)
    if not blocks:
        raise KeyFileError(f"The private key file {str(path)!r} holds no PEM private key.")
    keys = []
    for number, block in enumerate(blocks, 1):
        source = f"Key {number} of {str(path)!r}"
        try:
            private_key = serialization.load_pem_private_key(block, password=None)
        except (ValueError, TypeError) as exc:
            raise KeyFileError(f"{source} is not an unencrypted PEM private key.") from exc
        except Exception as exc:  # cryptography's UnsupportedAlgorithm and kin
            raise KeyFileError(f"{source} is of an unsupported kind.") from exc
        keys.append(ClientKey.from_private_key(private_key, source))
    return keys


def key_paths(paths):
    """``paths`` as a tuple: a list, or one string of comma-separated paths (the environment's)."""
    if isinstance(paths, str | Path):
        paths = str(paths).split(",")
    return tuple(str(p).strip() for p in paths or () if str(p).strip())


def load_keys(paths):
    """The keys of every file in ``paths`` (see ``key_paths``): the first one signs."""
    keys = [key for path in key_paths(paths) for key in load_key_file(path)]
    if not keys:
        raise KeyFileError("No private key file is configured.")
    kids = [key.kid for key in keys]
    if len(set(kids)) != len(kids):
        raise KeyFileError("The same private key is configured twice.")
    return keys


_cache = {}
_cache_lock = threading.Lock()


def cached_keys(paths):
    """``load_keys(paths)``, read once per process and path list (``forget_keys()`` re-reads)."""
    normalized = key_paths(paths)
    with _cache_lock:
        if normalized not in _cache:
            _cache[normalized] = load_keys(normalized)
        return _cache[normalized]


def client_keys():
    """This client's keys from CLIENT_PRIVATE_KEY_FILE (KeyFileError when they cannot be had)."""
    return cached_keys(oauthbff_settings.CLIENT_PRIVATE_KEY_FILE)


def forget_keys():
    with _cache_lock:
        _cache.clear()


@sensitive_variables()
def client_assertion(key, *, client_id, audience, lifetime=ASSERTION_LIFETIME, now=None):
    """A private_key_jwt assertion (RFC 7523 §3): this client as ``iss`` and ``sub``, the provider's
    issuer identifier as ``aud`` (what FAPI 2.0 and RFC 7523bis ask for), a one-time ``jti`` and a
    lifetime of a minute."""
    issued = int(time.time() if now is None else now)
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "jti": secrets.token_urlsafe(24),
        "iat": issued,
        "nbf": issued,
        "exp": issued + int(lifetime),
    }
    return key.sign(claims)


def assertion_params(keys, *, client_id, audience):
    """The form parameters that authenticate this client with its first key (RFC 7523 §2.2)."""
    return {
        "client_id": client_id,
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": client_assertion(keys[0], client_id=client_id, audience=audience),
    }


def public_jwks(keys):
    """The JWK Set of the public halves, for ``/auth/jwks.json`` (RFC 7517 §5)."""
    return {"keys": [dict(key.public_jwk) for key in keys]}
