"""A fake OpenID Provider on `responses`, for the faults a live provider cannot be made to show."""

import base64
import hashlib
import json
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import jwt
import responses
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

ISSUER = "https://op.example.test"
CLIENT_ID = "client-123"
CLIENT_SECRET = "s3cret-client"

_RSA_KEYS = {}


def rsa_key(name):
    if name not in _RSA_KEYS:
        _RSA_KEYS[name] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return _RSA_KEYS[name]


def public_jwk(private_key, kid):
    if isinstance(private_key, rsa.RSAPrivateKey):
        jwk, alg = json.loads(RSAAlgorithm.to_jwk(private_key.public_key())), "RS256"
    else:
        jwk, alg = json.loads(ECAlgorithm.to_jwk(private_key.public_key())), "ES256"
    jwk.update(kid=kid, alg=alg, use="sig")
    return jwk


def ec_key():
    return ec.generate_private_key(ec.SECP256R1())


class FakeOP:
    """Discovery, JWKS, token, userinfo and revocation endpoints; counts every call."""

    def __init__(self, rsps, issuer=ISSUER):
        self.rsps = rsps
        self.issuer = issuer
        self.keys = {"k1": rsa_key("k1")}
        self.published = ["k1"]
        self.kid = "k1"
        self.codes = {}  # code -> nonce
        self.calls = {"discovery": 0, "jwks": 0, "token": 0, "revoke": 0, "userinfo": 0}
        self.grants = []
        self.access_ttl = 300
        self.rotate_refresh = True
        self.refresh_tokens = set()
        self.roles = ["customer"]
        self.sub = "user-sub-1"
        self.email = "ada@example.com"
        self.id_claims_override = {}
        self.token_override = None  # callable(form) -> (status, body) or None
        self.token_requests = []
        base = issuer.rstrip("/")  # the issuer may end in "/" (Auth0's does)
        self.metadata = {
            "issuer": issuer,
            "authorization_endpoint": f"{base}/oauth2/authorize",
            "token_endpoint": f"{base}/oauth2/token",
            "userinfo_endpoint": f"{base}/oauth2/userinfo",
            "jwks_uri": f"{base}/.well-known/jwks.json",
            "end_session_endpoint": f"{base}/oauth2/logout",
            "revocation_endpoint": f"{base}/oauth2/revoke",
        }
        rsps.add_callback(
            responses.GET, f"{base}/.well-known/openid-configuration", callback=self._discovery
        )
        rsps.add_callback(responses.GET, self.metadata["jwks_uri"], callback=self._jwks)
        rsps.add_callback(responses.POST, self.metadata["token_endpoint"], callback=self._token)
        rsps.add_callback(responses.GET, self.metadata["userinfo_endpoint"], callback=self._info)
        rsps.add_callback(
            responses.POST, self.metadata["revocation_endpoint"], callback=self._revoke
        )

    # --- endpoints -------------------------------------------------------------------------------
    def _discovery(self, request):
        self.calls["discovery"] += 1
        return 200, {}, json.dumps(self.metadata)

    def _jwks(self, request):
        self.calls["jwks"] += 1
        keys = [public_jwk(self.keys[kid], kid) for kid in self.published]
        return 200, {}, json.dumps({"keys": keys})

    def _info(self, request):
        self.calls["userinfo"] += 1
        return 200, {}, json.dumps({"sub": self.sub, "email": self.email, "roles": self.roles})

    def _revoke(self, request):
        self.calls["revoke"] += 1
        form = parse_qs(request.body)
        self.refresh_tokens.discard(form.get("token", [""])[0])
        return 200, {}, ""

    def _token(self, request):
        self.calls["token"] += 1
        body = request.body if isinstance(request.body, str) else request.body.decode()
        lists = parse_qs(body)
        form = {k: v[0] for k, v in lists.items()}
        self.token_requests.append({"form": form, "lists": lists, "headers": dict(request.headers)})
        self.grants.append(form.get("grant_type"))
        if self.token_override is not None:
            result = self.token_override(form)
            if result is not None:
                status, payload = result
                return status, {}, json.dumps(payload)
        if form.get("grant_type") == "authorization_code":
            nonce = self.codes.pop(form.get("code"), None)
            if nonce is None:
                return 400, {}, json.dumps({"error": "invalid_grant"})
            return 200, {}, json.dumps(self.token_response(nonce=nonce))
        if form.get("grant_type") == "refresh_token":
            if form.get("refresh_token") not in self.refresh_tokens:
                return 400, {}, json.dumps({"error": "invalid_grant"})
            if self.rotate_refresh:
                self.refresh_tokens.discard(form["refresh_token"])
            return 200, {}, json.dumps(self.token_response(refresh=self.rotate_refresh))
        return 400, {}, json.dumps({"error": "unsupported_grant_type"})

    # --- tokens ----------------------------------------------------------------------------------
    def sign(self, claims, *, kid=None, alg="RS256", key=None, headers=None):
        kid = kid or self.kid
        key = key if key is not None else self.keys[kid]
        return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid, **(headers or {})})

    def id_claims(self, nonce=None, **extra):
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": self.sub,
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 3600,
            "email": self.email,
            "sid": "sso-session-1",
        }
        if nonce is not None:
            claims["nonce"] = nonce
        claims.update(self.id_claims_override)
        claims.update(extra)
        return claims

    def access_token(self, **extra):
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": self.sub,
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + self.access_ttl,
            "roles": self.roles,
            "sid": "refresh-id-1",
            "jti": uuid.uuid4().hex,
        }
        claims.update(extra)
        return self.sign(claims)

    def token_response(self, nonce=None, refresh=True):
        response = {
            "access_token": self.access_token(),
            "expires_in": self.access_ttl,
            "token_type": "Bearer",
            "id_token": self.sign(self.id_claims(nonce=nonce)),
        }
        if refresh:
            rt = "rt-" + uuid.uuid4().hex
            self.refresh_tokens.add(rt)
            response["refresh_token"] = rt
        return response

    def logout_token(self, **extra):
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 120,
            "jti": uuid.uuid4().hex,
            "sub": self.sub,
            "sid": "sso-session-1",
            "events": {"http://schemas.openid.net/event/backchannel-logout": {}},
        }
        claims.update(extra)
        return self.sign({k: v for k, v in claims.items() if v is not None})


def authorize_params(location):
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def pkce_challenge(verifier):
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign_in(client, op, next_url=None, extra_callback=None):
    """Run /auth/login/ and /auth/callback/ against the fake OP; returns the callback response."""
    url = "/auth/login/" + (f"?next={next_url}" if next_url else "")
    start = client.get(url)
    assert start.status_code == 302, start.status_code
    params = authorize_params(start["Location"])
    code = "code-" + uuid.uuid4().hex
    op.codes[code] = params["nonce"]
    query = {"code": code, "state": params["state"], **(extra_callback or {})}
    return client.get("/auth/callback/", query), params
