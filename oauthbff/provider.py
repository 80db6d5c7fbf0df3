"""The OpenID Provider as seen from here: discovery, the JWKS cache and JWT verification.

Discovery and the JWKS are cached in Django's cache (shared by every process) and in memory; a token
signed with an unknown ``kid`` triggers at most one JWKS refetch per ``JWKS_MIN_REFETCH_SECONDS``.
"""

import hashlib
import hmac
import json
import logging
import re
import threading
import time

import jwt
import requests
from django.core.cache import cache
from django.views.decorators.debug import sensitive_variables
from jwt.utils import base64url_decode, base64url_encode
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from oauthbff.conf import bff_settings

logger = logging.getLogger(__name__)

# Never accepted, whatever the settings say: unsigned tokens, and HMAC (the "key" would be public).
FORBIDDEN_ALGORITHMS = {"none", "HS256", "HS384", "HS512"}
_KTY_FOR_ALG_PREFIX = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}


class InvalidToken(Exception):
    """A JWT failed verification. The message is safe to show and never contains the token."""


class ProviderError(Exception):
    """The provider could not be reached or answered nonsense. The message is safe to show."""


_BASE64URL = re.compile(rb"[A-Za-z0-9_-]*")


class _JWS(jwt.PyJWS):
    """PyJWS with its base64url check done by one regular expression instead of a per-byte loop.

    Same rules as PyJWT (alphabet, at most two "=", no impossible length, canonical encoding); the
    loop cost more than the RSA signature check and capped API token checks near 2,000 a second.
    """

    @staticmethod
    def _decode_base64url_segment(segment, name):
        stripped = segment.rstrip(b"=")
        padding = len(segment) - len(stripped)
        if (
            padding > 2
            or (padding and len(segment) % 4)
            or len(stripped) % 4 == 1
            or not _BASE64URL.fullmatch(stripped)
        ):
            raise jwt.DecodeError(f"Invalid {name} padding")
        decoded = base64url_decode(stripped)
        if base64url_encode(decoded) != stripped:
            raise jwt.DecodeError(f"Invalid {name} padding")
        return decoded


_jwt = jwt.PyJWT()
_jwt._jws = _JWS(options=_jwt._get_sig_options())


def _build_http_session():
    """One pooled HTTP session; only idempotent GETs are retried (on connection errors and 5xx)."""
    session = requests.Session()
    retry = Retry(
        total=2,
        connect=2,
        read=1,
        backoff_factor=0.2,
        status_forcelist=(502, 503, 504),
        allowed_methods=frozenset({"GET"}),
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=32, max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = "oauthbff"
    return session


http = _build_http_session()


def _cache_key(kind, issuer):
    return f"oauthbff:{kind}:{hashlib.sha256(issuer.encode()).hexdigest()[:32]}"


def discovery_url(issuer):
    """Where ``issuer`` publishes its metadata (OpenID Connect Discovery 1.0 §4): any terminating
    "/" is removed before "/.well-known/openid-configuration" is appended."""
    return f"{issuer.rstrip('/')}/.well-known/openid-configuration"


class Provider:
    """One issuer's metadata and keys, with the token checks OIDC Core §3.1.3.7 asks for.

    The issuer is kept exactly as configured: OIDC compares issuers as exact strings (Discovery
    §4.3, Core §3.1.3.7), so ``https://tenant.auth0.com/`` and ``https://tenant.auth0.com`` are two
    different issuers, and each ``iss`` is checked against this exact value.
    """

    def __init__(self, issuer):
        self.issuer = issuer
        self._lock = threading.Lock()
        self._metadata = None
        self._metadata_until = 0.0
        self._keys = None  # (fingerprint, {kid: jwk dict}, [jwk dicts])
        self._keys_until = 0.0
        self._parsed = {}  # (kid, alg) -> public key object, for the current key set

    # --- discovery ---------------------------------------------------------------------------
    def _get_json(self, url, what):
        try:
            response = http.get(url, timeout=bff_settings.HTTP_TIMEOUT)
        except requests.RequestException as exc:
            logger.warning("oauthbff: %s unreachable at %s: %s", what, url, type(exc).__name__)
            raise ProviderError(f"The identity provider's {what} could not be reached.") from exc
        if response.status_code != 200:
            logger.warning("oauthbff: %s at %s answered %s", what, url, response.status_code)
            raise ProviderError(
                f"The identity provider's {what} answered with status {response.status_code}."
            )
        try:
            data = response.json()
        except ValueError as exc:
            raise ProviderError(f"The identity provider's {what} is not valid JSON.") from exc
        if not isinstance(data, dict):
            raise ProviderError(f"The identity provider's {what} is not a JSON object.")
        return data

    @property
    def metadata(self):
        """The discovery document (OpenID Connect Discovery 1.0), cached."""
        now = time.monotonic()
        if self._metadata is not None and now < self._metadata_until:
            return self._metadata
        key = _cache_key("discovery", self.issuer)
        data = cache.get(key)
        if data is None:
            if not self.issuer:
                raise ProviderError("No identity provider is configured (OIDC_ISSUER).")
            data = self._get_json(discovery_url(self.issuer), "discovery")
            if data.get("issuer") != self.issuer:
                logger.warning(
                    "oauthbff: discovery announces the issuer %r, OIDC_ISSUER is %r",
                    str(data.get("issuer"))[:200],
                    self.issuer,
                )
                raise ProviderError(
                    "The identity provider's discovery document names a different issuer."
                )
            for field in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not data.get(field):
                    raise ProviderError(
                        f"The identity provider's discovery document lacks {field}."
                    )
            cache.set(key, data, bff_settings.DISCOVERY_CACHE_SECONDS)
        self._metadata = data
        self._metadata_until = now + min(60, bff_settings.DISCOVERY_CACHE_SECONDS)
        return data

    def endpoint(self, name):
        """An endpoint URL from discovery, or "" when the provider does not offer it."""
        return self.metadata.get(name) or ""

    authorization_endpoint = property(lambda self: self.endpoint("authorization_endpoint"))
    token_endpoint = property(lambda self: self.endpoint("token_endpoint"))
    userinfo_endpoint = property(lambda self: self.endpoint("userinfo_endpoint"))
    jwks_uri = property(lambda self: self.endpoint("jwks_uri"))
    end_session_endpoint = property(lambda self: self.endpoint("end_session_endpoint"))
    revocation_endpoint = property(lambda self: self.endpoint("revocation_endpoint"))
    introspection_endpoint = property(lambda self: self.endpoint("introspection_endpoint"))

    # --- keys ----------------------------------------------------------------------------------
    def _load_jwks(self, *, force=False):
        now = time.monotonic()
        if not force and self._keys is not None and now < self._keys_until:
            return self._keys
        key = _cache_key("jwks", self.issuer)
        jwks = None if force else cache.get(key)
        if jwks is None:
            jwks = self._get_json(self.jwks_uri, "key set (JWKS)")
            if not isinstance(jwks.get("keys"), list):
                raise ProviderError("The identity provider's key set (JWKS) has no keys.")
            cache.set(key, jwks, bff_settings.JWKS_CACHE_SECONDS)
        fingerprint = hashlib.sha256(json.dumps(jwks, sort_keys=True).encode()).hexdigest()
        if self._keys is None or self._keys[0] != fingerprint:
            keys = [k for k in jwks["keys"] if isinstance(k, dict) and k.get("use", "sig") == "sig"]
            self._keys = (fingerprint, {k.get("kid"): k for k in keys}, keys)
            self._parsed = {}
        # Re-read the shared cache now and then, so a refetch by another process is seen here.
        self._keys_until = now + min(60, bff_settings.JWKS_CACHE_SECONDS)
        return self._keys

    def _find_key(self, kid, alg, keys):
        kty = _KTY_FOR_ALG_PREFIX.get(alg[:2])
        if kid is not None:
            candidates = [keys[1][kid]] if kid in keys[1] else []
        else:
            candidates = [k for k in keys[2] if k.get("kty") == kty]
            if len(candidates) != 1:
                candidates = []
        for jwk in candidates:
            if jwk.get("kty") != kty or jwk.get("alg", alg) != alg:
                raise InvalidToken("The token's key does not match its algorithm.")
            return jwk
        return None

    def signing_key(self, kid, alg):
        """The public key for ``kid``; one rate-limited JWKS refetch when the kid is unknown."""
        keys = self._load_jwks()
        parsed = self._parsed.get((kid, alg))
        if parsed is not None:
            return parsed
        jwk = self._find_key(kid, alg, keys)
        if jwk is None:
            refetch_key = _cache_key("jwks-refetch", self.issuer)
            if cache.add(refetch_key, 1, bff_settings.JWKS_MIN_REFETCH_SECONDS):
                logger.info("oauthbff: unknown key id, refetching the provider's JWKS")
                jwk = self._find_key(kid, alg, self._load_jwks(force=True))
            else:
                # Another request refetched recently: the shared cache may hold the new set.
                self._keys = None
                jwk = self._find_key(kid, alg, self._load_jwks())
        if jwk is None:
            raise InvalidToken("The token is signed with an unknown key.")
        try:
            key = jwt.PyJWK(jwk, algorithm=alg).key
        except jwt.PyJWTError as exc:
            raise InvalidToken("The provider's signing key is unusable.") from exc
        # Building a key from its JWK costs more than checking a signature: keep it with its set.
        self._parsed[(kid, alg)] = key
        return key

    # --- verification --------------------------------------------------------------------------
    @sensitive_variables()
    def decode_jwt(
        self,
        token,
        *,
        audience,
        nonce=None,
        leeway=None,
        authorized_party=None,
        require=("exp", "iat", "iss", "sub"),
    ):
        """Verify ``token`` (signature, alg allowlist, iss, aud, exp/nbf/iat, nonce) and return claims."""
        if not isinstance(token, str) or token.count(".") != 2:
            raise InvalidToken("The token is not a signed JWT.")
        leeway = bff_settings.CLOCK_SKEW if leeway is None else leeway
        try:
            header = _jwt._jws.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken("The token's header is malformed.") from exc
        alg = header.get("alg")
        allowed = [a for a in bff_settings.ALLOWED_ALGORITHMS if a not in FORBIDDEN_ALGORITHMS]
        if not isinstance(alg, str) or alg not in allowed:
            raise InvalidToken("The token's signing algorithm is not allowed.")
        key = self.signing_key(header.get("kid"), alg)
        audiences = [audience] if isinstance(audience, str) else list(audience or [])
        if not audiences:
            raise InvalidToken("No audience to check the token against.")
        try:
            claims = _jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=audiences,
                issuer=self.issuer,
                leeway=leeway,
                options={"require": list(require), "verify_iat": True},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("The token has expired.") from exc
        except jwt.ImmatureSignatureError as exc:
            raise InvalidToken("The token is not valid yet.") from exc
        except jwt.InvalidAudienceError as exc:
            raise InvalidToken("The token was issued for another audience.") from exc
        except jwt.InvalidIssuerError as exc:
            raise InvalidToken("The token was issued by another issuer.") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidToken(f"The token lacks the {exc.claim!r} claim.") from exc
        except jwt.InvalidSignatureError as exc:
            raise InvalidToken("The token's signature is invalid.") from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken("The token is invalid.") from exc
        for name in ("exp", "iat", "nbf"):
            value = claims.get(name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                raise InvalidToken(f"The token's {name!r} claim is not a number.")
        iat = claims.get("iat")
        if iat is not None and iat > time.time() + leeway:
            raise InvalidToken("The token was issued in the future.")
        if authorized_party is not None:
            azp = claims.get("azp")
            aud = claims.get("aud")
            multi = isinstance(aud, list) and len(aud) > 1
            if (azp is not None or multi) and azp != authorized_party:
                raise InvalidToken("The token's authorized party (azp) is not this client.")
        if nonce is not None:
            token_nonce = claims.get("nonce")
            if not isinstance(token_nonce, str) or not hmac.compare_digest(token_nonce, nonce):
                raise InvalidToken("The token's nonce does not match this sign-in.")
        return claims


_providers = {}
_providers_lock = threading.Lock()


def get_provider(issuer=None):
    """The Provider for ``issuer`` (default: the configured OIDC_ISSUER), one per process."""
    issuer = issuer or bff_settings.ISSUER
    with _providers_lock:
        provider = _providers.get(issuer)
        if provider is None:
            provider = _providers[issuer] = Provider(issuer)
        return provider


def reset_providers():
    """Forget in-memory metadata and keys (settings changed, or a test wants a cold start)."""
    with _providers_lock:
        _providers.clear()


def announced_issuer(issuer, *, timeout):
    """The issuer that ``issuer``'s discovery document announces, read now, bypassing every cache;
    None when the document cannot be had (the provider may simply be down).

    One attempt, no retries: this runs at start-up, which must not wait for a provider that is down.
    """
    try:
        response = requests.get(discovery_url(issuer), timeout=timeout)
        data = response.json() if response.status_code == 200 else None
    except (requests.RequestException, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("issuer"), str):
        return None
    return data["issuer"]


def clear_cache():
    """Forget discovery and keys everywhere (memory and Django's cache) for the configured issuer."""
    issuer = bff_settings.ISSUER
    if issuer:
        cache.delete_many(
            [_cache_key(kind, issuer) for kind in ("discovery", "jwks", "jwks-refetch")]
        )
    reset_providers()
