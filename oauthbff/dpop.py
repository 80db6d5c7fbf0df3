"""DPoP (RFC 9449): proofs of possession, made for the tokens this client holds and checked for ours.

A DPoP-bound access token is useless without the private key it is bound to (its ``cnf.jkt`` is the
key's RFC 7638 thumbprint): each request carries a fresh proof, a small JWT signed with that key,
naming the method, the URL and a hash of the token. This module knows nothing of sessions or
settings; callers pass the key, the request and the limits.
"""

import binascii
import functools
import hashlib
import json
import os
import secrets
import threading
import time
import weakref
from collections import OrderedDict
from urllib.parse import urlsplit, urlunsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.utils.connection import ConnectionProxy
from django.views.decorators.debug import sensitive_variables
from jwt.algorithms import ECAlgorithm, RSAAlgorithm, RSAPSSAlgorithm

from oauthbff.jwt import _JWS, THUMBPRINT_MEMBERS, b64url, jwk_thumbprint

PROOF_TYPE = "dpop+jwt"
# What we sign with and accept: asymmetric, and what FAPI 2.0 (§5.4.1) allows.
ALGORITHMS = ("ES256", "PS256")
# The private members of a JWK (RFC 7518 §6): a proof's header must carry none of them (§4.3).
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_KTY_FOR_ALG = {"ES256": "EC", "PS256": "RSA"}


class InvalidProof(Exception):
    """A DPoP proof failed a check of RFC 9449 §4.3. The message is safe to show; no token in it."""


@sensitive_variables()
def access_token_hash(access_token):
    """``ath`` (RFC 9449 §4.2): base64url of the SHA-256 of the access token's ASCII."""
    return b64url(hashlib.sha256(access_token.encode("ascii")).digest())


@functools.lru_cache(maxsize=1024)
def target_uri(url):
    """``htu``: the request URL without query and fragment (RFC 9449 §4.2), scheme and host in lower
    case and the default port dropped, so both sides compare the same string (RFC 3986 §6.2).
    Kept for the last URLs seen: an API verifies proofs for the same few URLs over and over."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port and (scheme, port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{port}"
    return urlunsplit((scheme, host, parts.path or "/", "", ""))


def _public_jwk(public_key, alg):
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        jwk = ECAlgorithm.to_jwk(public_key, as_dict=True)
    else:
        jwk = RSAAlgorithm.to_jwk(public_key, as_dict=True)
    return {name: jwk[name] for name in THUMBPRINT_MEMBERS[jwk["kty"]]}


class DPoPKey:
    """One DPoP key pair, e.g. a signed-in session's: it signs proofs, and its thumbprint is what the
    provider binds the session's tokens to. ``to_json()`` is the private key, to be stored encrypted."""

    def __init__(self, private_key, alg="ES256"):
        if alg not in ALGORITHMS:
            raise ValueError(f"DPoP keys sign with {' or '.join(ALGORITHMS)}, not {alg!r}.")
        expected = ec.EllipticCurvePrivateKey if alg == "ES256" else rsa.RSAPrivateKey
        if not isinstance(private_key, expected):
            raise ValueError(f"An {alg} DPoP key must be an {_KTY_FOR_ALG[alg]} private key.")
        if alg == "ES256" and not isinstance(private_key.curve, ec.SECP256R1):
            raise ValueError("An ES256 DPoP key must be on the P-256 curve.")
        self.alg = alg
        self._private_key = private_key
        self.public_jwk = _public_jwk(private_key.public_key(), alg)
        self.thumbprint = jwk_thumbprint(self.public_jwk)
        self._header = {"typ": PROOF_TYPE, "alg": alg, "jwk": self.public_jwk}

    @classmethod
    def generate(cls, alg="ES256"):
        if alg == "ES256":
            return cls(ec.generate_private_key(ec.SECP256R1()), alg)
        return cls(rsa.generate_private_key(public_exponent=65537, key_size=2048), alg)

    @sensitive_variables()
    def to_json(self):
        algorithm = ECAlgorithm if self.alg == "ES256" else RSAAlgorithm
        jwk = algorithm.to_jwk(self._private_key, as_dict=True)
        return json.dumps({**jwk, "alg": self.alg}, separators=(",", ":"))

    @classmethod
    @sensitive_variables()
    def from_json(cls, text):
        """The key ``to_json()`` wrote; ValueError when the text is not one."""
        try:
            jwk = json.loads(text)
            alg = jwk.pop("alg")
            algorithm = ECAlgorithm if alg == "ES256" else RSAAlgorithm
            private_key = algorithm.from_jwk(jwk)
        except (ValueError, KeyError, TypeError, AttributeError, jwt.PyJWTError) as exc:
            raise ValueError("The stored DPoP key is unreadable.") from exc
        return cls(private_key, alg)

    @sensitive_variables()
    def proof(self, method, url, *, access_token=None, nonce=None, now=None):
        """A fresh proof for one request (RFC 9449 §4.2): a new ``jti`` each time; ``ath`` when it
        accompanies an access token; the server's ``nonce`` once it has asked for one (§8)."""
        claims = {
            "jti": secrets.token_urlsafe(16),
            "htm": method.upper(),
            "htu": target_uri(url),
            "iat": int(time.time() if now is None else now),
        }
        if access_token is not None:
            claims["ath"] = access_token_hash(access_token)
        if nonce:
            claims["nonce"] = nonce
        return jwt.encode(claims, self._private_key, algorithm=self.alg, headers=self._header)


# --- server nonces (RFC 9449 §8, §9) ------------------------------------------------------------
# The last nonce each server (scheme://host:port) gave, sent with the next proof to it, so that only
# the first call, or one after the nonce changed, needs a retry. Per process; a stale one costs one
# retry.
_nonces = {}
NONCE_MAX_LENGTH = 512


def _origin(url):
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def nonce_for(url):
    return _nonces.get(_origin(url))


def remember_nonce(url, response):
    """Keep the ``DPoP-Nonce`` a response carries; True when it asks to retry with it: 400
    ``use_dpop_nonce`` from an authorization server (§8), 401 with that error in
    ``WWW-Authenticate`` from a resource server (§9)."""
    nonce = response.headers.get("DPoP-Nonce")
    if not nonce or len(nonce) > NONCE_MAX_LENGTH:
        return False
    _nonces[_origin(url)] = nonce
    if response.status_code == 401:
        return "use_dpop_nonce" in response.headers.get("WWW-Authenticate", "")
    if response.status_code == 400:
        try:
            body = response.json()
        except ValueError:
            return False
        return isinstance(body, dict) and body.get("error") == "use_dpop_nonce"
    return False


# --- verification (our APIs receiving DPoP-bound tokens) -----------------------------------------
# (kty, alg, the members RFC 7638 hashes) -> (thumbprint, public key object): building a key costs
# more than checking a signature, and a client sends the same key with every proof.
_keys = OrderedDict()
_keys_lock = threading.Lock()
_KEYS_MAX = 1024
_VERIFIERS = {
    "ES256": ECAlgorithm(ECAlgorithm.SHA256),
    "PS256": RSAPSSAlgorithm(RSAPSSAlgorithm.SHA256),
}


def _proof_key(jwk, alg):
    """``(thumbprint, public key)`` of a proof's ``jwk``; InvalidProof for one that is no key."""
    members = THUMBPRINT_MEMBERS.get(jwk.get("kty"), ())
    values = tuple(jwk.get(name) for name in members)
    if not members or not all(isinstance(value, str) for value in values):
        raise InvalidProof("The DPoP proof's key is not a usable public key.")
    cache_key = (alg, *values)
    with _keys_lock:
        found = _keys.get(cache_key)
        if found is not None:
            _keys.move_to_end(cache_key)
            return found
    try:
        thumbprint = jwk_thumbprint(jwk)
    except ValueError as exc:
        raise InvalidProof("The DPoP proof's key is not a usable public key.") from exc
    try:
        key = jwt.PyJWK(jwk, algorithm=alg).key
    except (jwt.PyJWTError, ValueError, TypeError, KeyError) as exc:
        raise InvalidProof("The DPoP proof's key is unusable.") from exc
    with _keys_lock:
        _keys[cache_key] = (thumbprint, key)
        while len(_keys) > _KEYS_MAX:
            _keys.popitem(last=False)
    return thumbprint, key


def _segment(segment, name):
    """One base64url segment of the proof, decoded with oauthbff.jwt's strict check."""
    try:
        return _JWS._decode_base64url_segment(segment.encode("ascii"), name)
    except (jwt.DecodeError, UnicodeEncodeError, binascii.Error) as exc:
        raise InvalidProof(f"The DPoP proof's {name} is malformed.") from exc


def _json_object(data, name):
    try:
        value = json.loads(data)
    except ValueError as exc:
        raise InvalidProof(f"The DPoP proof's {name} is malformed.") from exc
    if not isinstance(value, dict):
        raise InvalidProof(f"The DPoP proof's {name} is malformed.")
    return value


# The raw redis-py client of each Django RedisCache the replay set lives in, made once per process
# and holding one connection of the cache's pool: Django's backend builds a new client object (and
# its table of response callbacks) for every command, and a pooled client takes a connection from
# the pool and puts it back for each; together that cost more than the round trip itself. Django
# keeps one backend per thread, so a client (and its connection) is never shared across threads.
_raw_clients = weakref.WeakKeyDictionary()
_raw_clients_lock = threading.Lock()


def _redis_client(backend):
    with _raw_clients_lock:
        pid, client = _raw_clients.get(backend, (None, None))
        if pid != os.getpid():  # made before a fork: the socket is the parent's
            pooled = backend._cache.get_client(write=True)
            client = type(pooled)(
                connection_pool=pooled.connection_pool, single_connection_client=True
            )
            _raw_clients[backend] = (os.getpid(), client)
        return client


def first_use(replay_cache, key, timeout):
    """True the first time ``key`` is seen within ``timeout`` seconds, False after: atomic, and
    shared by every process through the cache. On Redis one ``SET key 1 NX EX timeout`` through
    the raw client (one round trip, nothing to pickle); elsewhere the cache's ``add``."""
    backend = replay_cache
    if isinstance(backend, ConnectionProxy):
        backend = caches[backend._alias]
    if isinstance(backend, RedisCache):
        command = ("SET", backend.make_and_validate_key(key), b"1", "NX", "EX", timeout)
        return _redis_client(backend).execute_command(*command) is not None
    return replay_cache.add(key, 1, timeout)


@sensitive_variables()
def verify_proof(
    proof,
    *,
    method,
    url,
    access_token=None,
    jkt=None,
    nonce=None,
    max_age=60,
    leeway=5,
    algorithms=ALGORITHMS,
    replay_cache=cache,
):
    """Check a DPoP proof as RFC 9449 §4.3 says (and §7.1 for one sent with an access token); return
    its claims with the key's thumbprint under ``"jkt"``.

    ``jkt`` is the bound token's ``cnf.jkt``; ``nonce`` the value this server requires, if any. A
    ``jti`` is accepted once per ``max_age`` window, in ``replay_cache`` (Django's cache, shared by
    every process through Redis in production).
    """
    if not isinstance(proof, str) or proof.count(".") != 2 or len(proof) > 8192:
        raise InvalidProof("The DPoP proof is not a signed JWT.")
    # Parsed once, here: every segment is decoded a single time and the signature checked with
    # the key object kept for this jwk.
    header_segment, payload_segment, signature_segment = proof.split(".")
    header = _json_object(_segment(header_segment, "header"), "header")
    if header.get("typ") != PROOF_TYPE:
        raise InvalidProof('The DPoP proof\'s type is not "dpop+jwt".')
    alg = header.get("alg")
    if alg not in algorithms or alg not in _VERIFIERS:
        raise InvalidProof("The DPoP proof's signing algorithm is not allowed.")
    jwk = header.get("jwk")
    if not isinstance(jwk, dict) or _PRIVATE_MEMBERS.intersection(jwk):
        raise InvalidProof("The DPoP proof must carry a public key (jwk), and no private one.")
    if jwk.get("kty") != _KTY_FOR_ALG[alg]:
        raise InvalidProof("The DPoP proof's key does not match its algorithm.")
    thumbprint, public_key = _proof_key(jwk, alg)
    if jkt is not None and thumbprint != jkt:
        raise InvalidProof("The DPoP proof is signed with another key than the token is bound to.")
    signature = _segment(signature_segment, "signature")
    signing_input = f"{header_segment}.{payload_segment}".encode("ascii")
    if not _VERIFIERS[alg].verify(signing_input, public_key, signature):
        raise InvalidProof("The DPoP proof's signature is invalid.")
    claims = _json_object(_segment(payload_segment, "payload"), "payload")
    for name in ("jti", "htm", "htu", "iat"):
        if name not in claims:
            raise InvalidProof(f"The DPoP proof lacks the {name!r} claim.")
    jti, iat = claims["jti"], claims["iat"]
    if not isinstance(jti, str) or not 8 <= len(jti) <= 256:
        raise InvalidProof("The DPoP proof's jti is not a usable identifier.")
    if claims["htm"] != method.upper():
        raise InvalidProof("The DPoP proof is for another HTTP method.")
    if not isinstance(claims["htu"], str) or target_uri(claims["htu"]) != target_uri(url):
        raise InvalidProof("The DPoP proof is for another URL.")
    if isinstance(iat, bool) or not isinstance(iat, int | float):
        raise InvalidProof("The DPoP proof's iat is not a number.")
    now = time.time()
    if iat > now + leeway or iat < now - max_age - leeway:
        raise InvalidProof("The DPoP proof is too old or from the future.")
    if nonce is not None and claims.get("nonce") != nonce:
        raise InvalidProof("The DPoP proof lacks the nonce this server requires.")
    if access_token is not None and claims.get("ath") != access_token_hash(access_token):
        raise InvalidProof("The DPoP proof is for another access token.")
    # Last, so that a proof refused above does not use up its jti.
    digest = hashlib.sha256(f"{thumbprint}|{jti}".encode()).hexdigest()[:40]
    if not first_use(replay_cache, f"oauthbff:dpop-jti:{digest}", int(max_age + 2 * leeway) + 1):
        raise InvalidProof("The DPoP proof was already used.")
    claims["jkt"] = thumbprint
    return claims
