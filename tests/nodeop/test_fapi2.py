"""The BFF in its FAPI 2.0 profile against node-oidc-provider in its FAPI 2.0 profile.

The provider requires PAR, private_key_jwt, DPoP-bound tokens (with server nonces), PKCE and PS256 ID
tokens; the BFF runs with OIDC_PROFILE=fapi2 and must pass every flow: sign-in, userinfo, refresh
with rotation, the proxy to a DPoP-checking upstream, RP-initiated and back-channel logout.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from django.core.cache import cache
from django.test import Client

from oauthbff.checks import check_discovery, check_sender_constraints
from oauthbff.crypto import decrypt
from oauthbff.dpop import InvalidProof, verify_proof
from oauthbff.keys import assertion_params, load_keys
from oauthbff.models import OIDCSession
from oauthbff.oidc_client import introspect
from oauthbff.provider import reset_providers
from oauthbff.sessions import session_dpop_key
from tests.nodeop.conftest import AFTER_LOGOUT
from tests.nodeop.harness import TIMEOUT

pytestmark = pytest.mark.django_db


class DPoPCheckingUpstream(ThreadingHTTPServer):
    """An API that accepts only DPoP-bound tokens with a good proof: it asks the provider what the
    (opaque) token is bound to (introspection: cnf.jkt) and checks the proof against that key. Its
    first answer to each new client asks for its nonce (RFC 9449 §9)."""

    def __init__(self, op):
        self.op = op
        self.keys = load_keys(op.key_file)
        self.seen = []
        self.nonce = "upstream-nonce-1"
        super().__init__(("127.0.0.1", 0), DPoPHandler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def introspect(self, token):
        form = {
            "token": token,
            **assertion_params(
                self.keys, client_id=self.op.client["client_id"], audience=self.op.issuer
            ),
        }
        return requests.post(
            self.op.metadata()["introspection_endpoint"], data=form, timeout=TIMEOUT
        ).json()


class DPoPHandler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, body, headers=None):
        payload = json.dumps(body).encode()
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self):  # noqa: N802 - http.server's name
        server = self.server
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        proof = self.headers.get("DPoP", "")
        server.seen.append({"scheme": scheme, "proof": bool(proof)})
        if scheme != "DPoP" or not proof:
            return self.answer(
                401, {"error": "invalid_token"}, {"WWW-Authenticate": 'DPoP algs="ES256"'}
            )
        claims = server.introspect(token)
        jkt = (claims.get("cnf") or {}).get("jkt")
        try:
            verify_proof(
                proof,
                method="GET",
                url=server.url + self.path,
                access_token=token,
                jkt=jkt,
                nonce=server.nonce,
                replay_cache=_Replay(),
            )
        except InvalidProof as exc:
            return self.answer(
                401,
                {"error": "use_dpop_nonce" if "nonce" in str(exc) else "invalid_dpop_proof"},
                {
                    "WWW-Authenticate": 'DPoP error="use_dpop_nonce"'
                    if "nonce" in str(exc)
                    else "DPoP",
                    "DPoP-Nonce": server.nonce,
                },
            )
        return self.answer(
            200, {"sub": claims.get("sub"), "jkt": jkt, "active": claims.get("active")}
        )


class _Replay:
    """A replay set of the upstream's own (it is another service than the BFF)."""

    seen = set()

    def add(self, key, value, timeout):
        if key in self.seen:
            return False
        self.seen.add(key)
        return True


@pytest.fixture
def bff_fapi(fapi_op, settings):
    settings.OAUTHBFF = {
        **settings.OAUTHBFF,
        "ISSUER": fapi_op.issuer,
        "CLIENT_ID": fapi_op.client["client_id"],
        "CLIENT_SECRET": "",
        "TOKEN_AUTH_METHOD": "private_key_jwt",
        "CLIENT_PRIVATE_KEY_FILE": [fapi_op.key_file],
        "DPOP": True,
        "PROFILE": "fapi2",
        "PAR": "auto",
        "ALLOWED_ALGORITHMS": ["PS256", "ES256"],
    }
    settings.USERDATA = {**settings.USERDATA, "STORE": "local"}
    cache.clear()
    reset_providers()
    yield fapi_op
    cache.clear()
    reset_providers()


def sign_in(client, op, browser):
    start = client.get("/auth/login/")
    assert start.status_code == 302, start.content[:300]
    assert set(dict(parse_qsl(urlsplit(start["Location"]).query))) == {"client_id", "request_uri"}
    url = urlsplit(op.sign_in(start["Location"], "customer@example.com", browser=browser))
    assert url.path == "/auth/callback/", url
    return client.get(url.path, dict(parse_qsl(url.query)))


def test_the_profile_passes_its_start_up_checks(bff_fapi):
    assert check_sender_constraints(None) == []
    assert check_discovery(None) == []


def test_sign_in_refresh_and_rp_initiated_logout(bff_fapi):
    browser, client = requests.Session(), Client()
    response = sign_in(client, bff_fapi, browser)
    assert response.status_code == 302, response.content[:400]
    # Profile claims came from userinfo, called with the DPoP-bound token and a proof.
    assert client.get("/auth/user/").json()["user"]["email"] == "customer@example.com"
    row = OIDCSession.objects.get()
    key = session_dpop_key(row)
    assert key is not None and '"d"' not in row.dpop_key  # the private key is stored encrypted
    first_refresh = decrypt(row.refresh_token)
    for version in (1, 2):
        refreshed = client.post("/auth/refresh/")
        assert refreshed.status_code == 200 and refreshed.json()["version"] == version
    row.refresh_from_db()
    assert decrypt(row.refresh_token) != first_refresh
    assert session_dpop_key(row).thumbprint == key.thumbprint  # the same key all session long
    refresh_token = decrypt(row.refresh_token)
    assert introspect(refresh_token)["active"] is True
    logout = client.post("/auth/logout/")
    assert logout.status_code == 302
    # Revoked by the BFF (with a DPoP proof and a client assertion) before the provider's logout.
    assert introspect(refresh_token)["active"] is False
    landing = bff_fapi.confirm_logout(logout["Location"], browser=browser)
    assert landing.startswith(AFTER_LOGOUT)
    assert client.get("/auth/user/").status_code == 401
    assert not OIDCSession.objects.get().dpop_key  # wiped with the tokens


def test_the_proxy_sends_dpop_bound_tokens_with_a_proof_per_request(bff_fapi, settings):
    upstream = DPoPCheckingUpstream(bff_fapi)
    try:
        settings.OAUTHBFF = {**settings.OAUTHBFF, "UPSTREAMS": {"bank": upstream.url + "/v1"}}
        client = Client()
        assert sign_in(client, bff_fapi, requests.Session()).status_code == 302
        row = OIDCSession.objects.get()
        for _ in range(2):
            response = client.get("/bff/api/bank/accounts", HTTP_X_CSRF="1")
            assert response.status_code == 200, response.content[:300]
            body = response.json()
            assert body["active"] is True and body["jkt"] == session_dpop_key(row).thumbprint
        # The first call learnt the upstream's nonce and retried once; the second sent it at once.
        assert len(upstream.seen) == 3 and all(
            s["scheme"] == "DPoP" and s["proof"] for s in upstream.seen
        )
    finally:
        upstream.shutdown()
        upstream.server_close()


@pytest.mark.django_db(transaction=True)
def test_back_channel_logout(bff_fapi):
    browser, client = requests.Session(), Client()
    assert sign_in(client, bff_fapi, browser).status_code == 302
    bff_fapi.confirm_logout(bff_fapi.metadata()["end_session_endpoint"], browser=browser)
    assert client.get("/auth/user/").status_code == 401
    assert OIDCSession.objects.get().end_reason == "backchannel"


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_refresh_once(bff_fapi):
    """Eight requests on an expired access token at once: one refresh grant, or the provider's
    reuse detection (one-time refresh tokens) would revoke the whole grant and end the session."""
    from concurrent.futures import ThreadPoolExecutor
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    client = Client()
    assert sign_in(client, bff_fapi, requests.Session()).status_code == 302
    OIDCSession.objects.update(access_expires_at=timezone.now() - timedelta(seconds=1))
    cookies = client.cookies

    def one_request(_):
        try:
            browser = Client()
            browser.cookies = cookies
            return browser.get("/auth/user/").status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(one_request, range(8)))
    assert statuses == [200] * 8
    row = OIDCSession.objects.get()
    assert row.version == 1 and row.ended_at is None
    # The rotated refresh token still works: no reuse was detected.
    assert client.post("/auth/refresh/").json()["version"] == 2
