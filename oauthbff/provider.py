"""The OpenID Provider as seen from here: its discovery document and its signing keys (JWKS).

Discovery and the JWKS are cached in Django's cache (shared by every process) and in memory; a token
signed with an unknown ``kid`` triggers at most one JWKS refetch per ``JWKS_MIN_REFETCH_SECONDS``.
Tokens are verified by ``oauthbff.jwt`` with the keys found here.
"""

import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict

import jwt as pyjwt
import requests
from django.core.cache import cache
from django.views.decorators.debug import sensitive_variables

from oauthbff import jwt
from oauthbff.conf import oauthbff_settings
from oauthbff.exceptions import InvalidToken, ProviderError
from oauthbff.http import provider_session

logger = logging.getLogger(__name__)

_KTY_FOR_ALG_PREFIX = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}
# How long, and for how many tokens, an API access token's verified claims are kept.
VERIFIED_TOKEN_SECONDS = 60
VERIFIED_TOKENS_MAX = 4096


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
        # (token, what it was checked against) -> (key set fingerprint, good until, claims)
        self._verified = OrderedDict()

    # --- reachability ------------------------------------------------------------------------
    def noted_reply(self, status_code):
        """Note what the provider answered (None: no answer): a network failure or a 5xx marks it
        down for PROVIDER_DOWN_SECONDS in the shared cache; an answer marks it up as long."""
        seconds = max(int(oauthbff_settings.PROVIDER_DOWN_SECONDS), 1)
        if status_code is None or status_code >= 500:
            cache.set(_cache_key("down", self.issuer), 1, seconds)
            cache.delete(_cache_key("up", self.issuer))
        else:
            cache.set(_cache_key("up", self.issuer), 1, seconds)
            cache.delete(_cache_key("down", self.issuer))

    def ensure_reachable(self):
        """Raise ProviderError unless the provider answered recently or answers now.

        Called before the browser is sent to the provider, so that a provider known to be down (a
        failed call in the last PROVIDER_DOWN_SECONDS, or discovery failing now) gets the product's
        "sign-in unavailable" page rather than a browser error on a dead host. At most one probe
        (a fresh discovery fetch) per few seconds; the page clears once the provider is back.
        """
        if cache.get(_cache_key("up", self.issuer)):
            return
        down = cache.get(_cache_key("down", self.issuer))
        if down and not cache.add(_cache_key("probe", self.issuer), 1, 5):
            raise ProviderError("The identity provider is unavailable.")
        self._metadata = None
        self._load_metadata(force=True)

    # --- discovery ---------------------------------------------------------------------------
    def _get_json(self, url, what):
        try:
            response = provider_session.get(url)
        except requests.RequestException as exc:
            logger.warning("oauthbff: %s unreachable at %s: %s", what, url, type(exc).__name__)
            self.noted_reply(None)
            raise ProviderError(f"The identity provider's {what} could not be reached.") from exc
        self.noted_reply(response.status_code)
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
        return self._load_metadata()

    def _load_metadata(self, *, force=False):
        now = time.monotonic()
        if not force and self._metadata is not None and now < self._metadata_until:
            return self._metadata
        key = _cache_key("discovery", self.issuer)
        data = None if force else cache.get(key)
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
            cache.set(key, data, oauthbff_settings.DISCOVERY_CACHE_SECONDS)
        self._metadata = data
        self._metadata_until = now + min(60, oauthbff_settings.DISCOVERY_CACHE_SECONDS)
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
            cache.set(key, jwks, oauthbff_settings.JWKS_CACHE_SECONDS)
        fingerprint = hashlib.sha256(json.dumps(jwks, sort_keys=True).encode()).hexdigest()
        if self._keys is None or self._keys[0] != fingerprint:
            keys = [k for k in jwks["keys"] if isinstance(k, dict) and k.get("use", "sig") == "sig"]
            self._keys = (fingerprint, {k.get("kid"): k for k in keys}, keys)
            self._parsed = {}
            self.forget_verified()
        # Re-read the shared cache now and then, so a refetch by another process is seen here.
        self._keys_until = now + min(60, oauthbff_settings.JWKS_CACHE_SECONDS)
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
            if cache.add(refetch_key, 1, oauthbff_settings.JWKS_MIN_REFETCH_SECONDS):
                logger.info("oauthbff: unknown key id, refetching the provider's JWKS")
                jwk = self._find_key(kid, alg, self._load_jwks(force=True))
            else:
                # Another request refetched recently: the shared cache may hold the new set.
                self._keys = None
                jwk = self._find_key(kid, alg, self._load_jwks())
        if jwk is None:
            raise InvalidToken("The token is signed with an unknown key.")
        try:
            key = pyjwt.PyJWK(jwk, algorithm=alg).key
        except pyjwt.PyJWTError as exc:
            raise InvalidToken("The provider's signing key is unusable.") from exc
        # Building a key from its JWK costs more than checking a signature: keep it with its set.
        self._parsed[(kid, alg)] = key
        return key

    # --- verification --------------------------------------------------------------------------
    @sensitive_variables()
    def decode_jwt(self, token, **kwargs):
        """Verify a JWT from this issuer with its keys; see ``oauthbff.jwt.decode`` for the checks."""
        return jwt.decode(token, key_for=self.signing_key, issuer=self.issuer, **kwargs)

    def forget_verified(self):
        """Drop every kept verification (``decode_access_token``)."""
        with self._lock:
            self._verified.clear()

    @sensitive_variables()
    def decode_access_token(self, token, *, audience):
        """``decode_jwt`` for the access tokens our APIs receive, each of which a client sends with
        every call: its verified claims are kept for VERIFIED_TOKEN_SECONDS (never past its
        ``exp``, and only while the key set is the one it was verified with), so the signature
        and claims are checked once a minute instead of per request. A key removed from the JWKS
        already took up to JWKS_CACHE_SECONDS to be noticed; a reloaded key set drops every entry."""
        audiences = (audience,) if isinstance(audience, str) else tuple(audience or ())
        fingerprint = self._load_jwks()[0]
        leeway = oauthbff_settings.CLOCK_SKEW
        entry_key = (token, audiences, tuple(jwt.allowed_algorithms()), leeway)
        now = time.time()
        with self._lock:
            entry = self._verified.get(entry_key)
            if entry is not None and entry[0] == fingerprint and now < entry[1]:
                self._verified.move_to_end(entry_key)
                return dict(entry[2])
        claims = self.decode_jwt(token, audience=list(audiences))
        until = min(now + VERIFIED_TOKEN_SECONDS, float(claims["exp"]) + leeway)
        with self._lock:
            self._verified[entry_key] = (fingerprint, until, dict(claims))
            while len(self._verified) > VERIFIED_TOKENS_MAX:
                self._verified.popitem(last=False)
        return claims


_providers = {}
_providers_lock = threading.Lock()


def get_provider(issuer=None):
    """The Provider for ``issuer`` (default: the configured OIDC_ISSUER), one per process."""
    issuer = issuer or oauthbff_settings.ISSUER
    with _providers_lock:
        provider = _providers.get(issuer)
        if provider is None:
            provider = _providers[issuer] = Provider(issuer)
        return provider


def reset_providers():
    """Forget in-memory metadata and keys (settings changed, or a test wants a cold start)."""
    with _providers_lock:
        _providers.clear()


def read_discovery(issuer, *, timeout):
    """``issuer``'s discovery document read now, past every cache, for the start-up checks; None
    when it cannot be had (the provider may simply be down).

    One attempt, no retries: start-up must not wait for a provider that is down.
    """
    try:
        response = requests.get(discovery_url(issuer), timeout=timeout)
        data = response.json() if response.status_code == 200 else None
    except (requests.RequestException, ValueError):
        return None
    return data if isinstance(data, dict) else None


def clear_cache():
    """Forget discovery and keys everywhere (memory and Django's cache) for the configured issuer."""
    issuer = oauthbff_settings.ISSUER
    if issuer:
        cache.delete_many(
            [_cache_key(kind, issuer) for kind in ("discovery", "jwks", "jwks-refetch")]
        )
    reset_providers()
