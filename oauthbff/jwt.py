"""JWT verification: the checks OpenID Connect Core §3.1.3.7 asks for, with a key from the caller.

``decode()`` knows nothing of discovery or caches: ``oauthbff.provider`` hands it the issuer and a
function that finds the signing key, so the same checks serve ID, access and logout tokens.
"""

import base64
import hashlib
import hmac
import json
import re
import time

import jwt
from django.views.decorators.debug import sensitive_variables
from jwt.utils import base64url_decode

from oauthbff.conf import oauthbff_settings
from oauthbff.exceptions import InvalidToken

# Never accepted, whatever the settings say: unsigned tokens, and HMAC (the "key" would be public).
FORBIDDEN_ALGORITHMS = {"none", "HS256", "HS384", "HS512"}
DEFAULT_REQUIRED_CLAIMS = ("exp", "iat", "iss", "sub")

_BASE64URL = re.compile(rb"[A-Za-z0-9_-]*")
_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# The characters that may end a segment of 2 (4 unused low bits) or 3 (2 unused bits) characters
# past a multiple of four.
_CANONICAL_LAST = {2: frozenset(_ALPHABET[::16]), 3: frozenset(_ALPHABET[::4])}


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
        # Canonical encoding (RFC 4648 §3.5): the bits the last character carries past the data
        # are zero. Checked on that character alone instead of by encoding the result again.
        tail = len(stripped) % 4
        if tail and stripped[-1] not in _CANONICAL_LAST[tail]:
            raise jwt.DecodeError(f"Invalid {name} padding")
        return base64url_decode(stripped)


_jwt = jwt.PyJWT()
_jwt._jws = _JWS(options=_jwt._get_sig_options())

# PyJWT's errors, in the order they are told apart, as the one safe sentence each becomes.
_MESSAGES = (
    (jwt.ExpiredSignatureError, "The token has expired."),
    (jwt.ImmatureSignatureError, "The token is not valid yet."),
    (jwt.InvalidAudienceError, "The token was issued for another audience."),
    (jwt.InvalidIssuerError, "The token was issued by another issuer."),
    (jwt.InvalidSignatureError, "The token's signature is invalid."),
)


def unverified_header(token):
    """The JOSE header of a three-part ``token``, for choosing the key: only its first segment is
    decoded (PyJWT's ``get_unverified_header`` decodes all three, and ``decode`` again after it).
    InvalidToken when it is no JSON object or its ``kid`` no string."""
    try:
        header = json.loads(
            _JWS._decode_base64url_segment(token.split(".", 1)[0].encode(), "header")
        )
    except (jwt.DecodeError, ValueError, UnicodeEncodeError) as exc:
        raise InvalidToken("The token's header is malformed.") from exc
    if not isinstance(header, dict) or not isinstance(header.get("kid", ""), str):
        raise InvalidToken("The token's header is malformed.")
    return header


def allowed_algorithms():
    return [a for a in oauthbff_settings.ALLOWED_ALGORITHMS if a not in FORBIDDEN_ALGORITHMS]


@sensitive_variables()
def decode(
    token,
    *,
    key_for,
    issuer,
    audience,
    nonce=None,
    authorized_party=None,
    require=DEFAULT_REQUIRED_CLAIMS,
):
    """Verify ``token`` (alg allowlist, signature, iss, aud, exp/nbf/iat, azp, nonce); its claims.

    ``key_for(kid, alg)`` returns the public key or raises InvalidToken / ProviderError.
    """
    if not isinstance(token, str) or token.count(".") != 2:
        raise InvalidToken("The token is not a signed JWT.")
    leeway = oauthbff_settings.CLOCK_SKEW
    header = unverified_header(token)
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in allowed_algorithms():
        raise InvalidToken("The token's signing algorithm is not allowed.")
    key = key_for(header.get("kid"), alg)
    audiences = [audience] if isinstance(audience, str) else list(audience or [])
    if not audiences:
        raise InvalidToken("No audience to check the token against.")
    try:
        claims = _jwt.decode(
            token,
            key,
            algorithms=[alg],
            audience=audiences,
            issuer=issuer,
            leeway=leeway,
            options={"require": list(require), "verify_iat": True},
        )
    except jwt.MissingRequiredClaimError as exc:
        raise InvalidToken(f"The token lacks the {exc.claim!r} claim.") from exc
    except jwt.PyJWTError as exc:
        message = next(
            (m for kind, m in _MESSAGES if isinstance(exc, kind)), "The token is invalid."
        )
        raise InvalidToken(message) from exc
    for name in ("exp", "iat", "nbf"):
        value = claims.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
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


# --- JWK utilities (RFC 7638) ----------------------------------------------------------------------
# The required members, per key type, that a thumbprint hashes (RFC 7638 §3.2).
THUMBPRINT_MEMBERS = {
    "EC": ("crv", "kty", "x", "y"),
    "RSA": ("e", "kty", "n"),
    "OKP": ("crv", "kty", "x"),
}


def b64url(data):
    """base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def jwk_thumbprint(jwk):
    """The RFC 7638 SHA-256 thumbprint of a public JWK: a key id that follows the key itself, and
    what a DPoP-bound token's ``cnf.jkt`` holds (RFC 9449 §6.1). ValueError for a non-key."""
    members = THUMBPRINT_MEMBERS.get(jwk.get("kty")) if isinstance(jwk, dict) else None
    if members is None or any(not isinstance(jwk.get(m), str) for m in members):
        raise ValueError("Not a public JWK with the members RFC 7638 needs.")
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(canonical.encode()).digest())
