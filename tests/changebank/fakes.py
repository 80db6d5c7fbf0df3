"""Small real HTTP peers for the API tests: an issuer whose keys we hold, and an echoing upstream.

Both are stdlib ``http.server`` instances on free ports in daemon threads, so the code under test
talks HTTP for real (discovery, JWKS fetch, proxying) while the tests can mint any token they like.
"""

import base64
import contextlib
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import import_module
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings as django_settings
from django.core.cache import cache
from django.test import RequestFactory

CLIENT_ID = "bff-test-client"
CLIENT_SECRET = "bff-test-secret"


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class _Server:
    handler_class = None

    def __init__(self):
        owner = self

        class Handler(self.handler_class):
            server_owner = owner

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class _QuietHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # One write per response, sent at once: no Nagle / delayed-ACK stalls on keep-alive connections.
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True

    def log_message(self, format, *args):
        pass

    def handle(self):
        # The client may give up first (a timeout test): nothing to report then.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            super().handle()

    def send_json(self, status, body, headers=()):
        data = b"" if status in (204, 304) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        if status not in (204, 304):
            self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""


# --- an issuer ---------------------------------------------------------------------------------------
class _IssuerHandler(_QuietHandler):
    def do_GET(self):
        issuer = self.server_owner
        issuer.hits.append(self.path)
        if self.path.startswith("/.well-known/openid-configuration"):
            self.send_json(200, issuer.discovery())
        elif self.path == "/.well-known/jwks.json":
            self.send_json(200, {"keys": [issuer.public_jwk()]})
        else:
            self.send_json(404, {"error": "not_found"})

    def do_POST(self):
        issuer = self.server_owner
        issuer.hits.append(self.path)
        if self.path != "/oauth2/introspect":
            self.send_json(404, {"error": "not_found"})
            return
        form = parse_qs(self.read_body().decode())
        if issuer.introspect_delay:
            time.sleep(issuer.introspect_delay)
        token = form.get("token", [""])[0]
        self.send_json(200, issuer.introspection.get(token, {"active": False}))


class LocalIssuer(_Server):
    """An OpenID provider reduced to discovery, a JWKS and introspection, holding its signing key."""

    handler_class = _IssuerHandler
    kid = "local-key-1"

    def __init__(self):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.stranger_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.hits = []
        self.introspection = {}
        self.introspect_delay = 0
        super().__init__()

    def discovery(self):
        return {
            "issuer": self.url,
            "authorization_endpoint": f"{self.url}/oauth2/authorize",
            "token_endpoint": f"{self.url}/oauth2/token",
            "jwks_uri": f"{self.url}/.well-known/jwks.json",
            "introspection_endpoint": f"{self.url}/oauth2/introspect",
        }

    def public_jwk(self):
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}

    def claims(self, **overrides):
        now = int(time.time())
        claims = {
            "iss": self.url,
            "aud": CLIENT_ID,
            "sub": str(uuid.uuid4()),
            "iat": now,
            "exp": now + 300,
            "roles": ["customer"],
            "applicationId": CLIENT_ID,
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def mint(self, *, key=None, kid=None, alg="RS256", **claims):
        """A signed access token; pass claims to override (None removes one)."""
        headers = {"kid": kid or self.kid}
        return jwt.encode(self.claims(**claims), key or self.key, algorithm=alg, headers=headers)

    def mint_unsigned(self, **claims):
        """``alg: none``: a token anyone can forge."""
        header = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": self.kid}).encode())
        payload = _b64(json.dumps(self.claims(**claims)).encode())
        return f"{header}.{payload}."

    def mint_hmac_with_public_key(self, **claims):
        """The algorithm-confusion attack: HS256 keyed with the (public) RSA key."""
        import hashlib
        import hmac

        from cryptography.hazmat.primitives import serialization

        public_pem = self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": self.kid}).encode())
        payload = _b64(json.dumps(self.claims(**claims)).encode())
        signing_input = f"{header}.{payload}".encode()
        signature = _b64(hmac.new(public_pem, signing_input, hashlib.sha256).digest())
        return f"{header}.{payload}.{signature}"


_issuer = None
_issuer_lock = threading.Lock()


def local_issuer():
    """One LocalIssuer per test process (it is stateless apart from its hit log)."""
    global _issuer
    with _issuer_lock:
        if _issuer is None:
            _issuer = LocalIssuer()
        return _issuer


def use_local_issuer(settings, **extra):
    """Point oauthbff at the local issuer for one test (pytest-django's ``settings`` fixture)."""
    issuer = local_issuer()
    issuer.hits.clear()
    issuer.introspection.clear()
    issuer.introspect_delay = 0
    settings.OAUTHBFF = {
        **django_settings.OAUTHBFF,
        "ISSUER": issuer.url,
        "CLIENT_ID": CLIENT_ID,
        "CLIENT_SECRET": CLIENT_SECRET,
        "API_AUDIENCE": [],
        "INTROSPECT_OPAQUE_TOKENS": False,
        "HTTP_TIMEOUT": 5.0,
        **extra,
    }
    cache.clear()
    return issuer


def sign_in_locally(client, user, access_token, *, issuer, expires_in=300, refresh_token=""):
    """Give ``client`` a signed-in BFF session holding ``access_token``, without a login flow.

    Used where the token's content matters to the test; the live-IdP tests sign in for real.
    """
    from oauthbff.sessions import start_session

    client.force_login(user)
    request = RequestFactory().get("/")
    engine = import_module(django_settings.SESSION_ENGINE)
    request.session = engine.SessionStore(client.session.session_key)
    request.user = user
    claims = jwt.decode(access_token, options={"verify_signature": False})
    start_session(
        request,
        user,
        {"access_token": access_token, "refresh_token": refresh_token, "expires_in": expires_in},
        {"iss": issuer.url, "sub": claims.get("sub", str(user.pk))},
        claims,
        roles=claims.get("roles", []),
    )
    request.session.save()
    return client


# --- an upstream API -----------------------------------------------------------------------------------
class _EchoHandler(_QuietHandler):
    def _echo(self):
        upstream = self.server_owner
        parts = urlsplit(self.path)
        body = self.read_body()
        record = {
            "method": self.command,
            "path": parts.path,
            "query": parts.query,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body.decode("utf-8", "replace"),
        }
        upstream.received.append(record)
        if parts.path.endswith("/slow"):
            time.sleep(upstream.slow_seconds)
        if parts.path.endswith("/big"):
            data = b"x" * upstream.big_bytes
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        if parts.path.endswith("/redirect"):
            self.send_json(302, {}, [("Location", "http://evil.example/steal")])
            return
        status = 200
        if "/status/" in parts.path:
            status = int(parts.path.rsplit("/", 1)[1])
        self.send_json(
            status,
            record,
            [
                ("Set-Cookie", "upstream=secret; Path=/"),
                ("Connection", "keep-alive, X-Upstream-Private"),
                ("Keep-Alive", "timeout=5"),
                ("X-Upstream-Private", "hop"),
                ("Cache-Control", "no-store"),
                ("ETag", '"v1"'),
                ("Strict-Transport-Security", "max-age=1"),
            ],
        )

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _echo


class EchoUpstream(_Server):
    """An API that answers every request with what it received (and some headers to strip)."""

    handler_class = _EchoHandler

    def __init__(self):
        self.received = []
        self.slow_seconds = 2.0
        self.big_bytes = 1024
        super().__init__()

    @property
    def last(self):
        return self.received[-1]


def request_for(client, user, path="/"):
    """A Django request carrying ``client``'s session, for calling server-side code directly."""
    request = RequestFactory().get(path)
    engine = import_module(django_settings.SESSION_ENGINE)
    request.session = engine.SessionStore(client.session.session_key)
    request.user = user
    return request
