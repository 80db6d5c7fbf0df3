"""Tokens per API against node-oidc-provider: each upstream gets a JWT minted for its own resource.

Two small APIs run in the test process; each checks the token's signature against the provider's
JWKS, records its ``aud`` and accepts only its own resource (in the FAPI 2.0 run, only as a
DPoP-bound token with a good proof). The BFF obtains their tokens with refresh grants that name
the resource (RFC 8707 §2.2), keeps them per session, reuses them, renews them single-flight, and
writes back the refresh token the provider rotates on every grant.
"""

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import jwt
import pytest
import requests
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.utils import timezone

from oauthbff import upstream_tokens
from oauthbff.crypto import decrypt
from oauthbff.dpop import InvalidProof, verify_proof
from oauthbff.models import OIDCSession, UpstreamToken
from oauthbff.provider import reset_providers
from oauthbff.sessions import session_dpop_key
from tests.nodeop.conftest import bff_client, fapi_client, require_node
from tests.nodeop.harness import TIMEOUT, NodeOP

pytestmark = pytest.mark.django_db

BANK = "https://bank.changebank.test/"
LEDGER = "https://ledger.changebank.test/"


def resource_servers(alg):
    return {
        uri: {
            "scope": scope,
            "audience": uri,
            "accessTokenFormat": "jwt",
            "accessTokenTTL": 300,
            "jwt": {"sign": {"alg": alg}},
        }
        for uri, scope in ((BANK, "accounts"), (LEDGER, "ledger"))
    }


@pytest.fixture(scope="module")
def resource_op(tmp_path_factory, bff_server):
    """node-oidc-provider with two resource servers whose access tokens are JWTs (RS256); its ID
    tokens carry the profile claims (a token for an API is no good at userinfo)."""
    require_node()
    provider = NodeOP(
        tmp_path_factory.mktemp("nodeop-resources"),
        clients=[bff_client(bff_server, "bff-resources")],
        resourceServers=resource_servers("RS256"),
        conformIdTokenClaims=False,
    )
    provider.start()
    provider.client = provider.clients[0]
    yield provider
    provider.stop()


@pytest.fixture(scope="module")
def resource_fapi_op(tmp_path_factory, bff_server, client_key_file):
    """The same two APIs at node-oidc-provider in its FAPI 2.0 profile: PAR, private_key_jwt,
    DPoP-bound tokens with server nonces, PS256."""
    require_node()
    client = fapi_client(bff_server, "bff-resources-fapi", client_key_file)
    provider = NodeOP(
        tmp_path_factory.mktemp("nodeop-resources-fapi"),
        clients=[client],
        fapi=True,
        requirePAR=True,
        dpopNonce=True,
        signingAlgorithms=["PS256", "ES256"],
        resourceServers=resource_servers("PS256"),
    )
    provider.start()
    provider.client = client
    provider.key_file = client_key_file
    yield provider
    provider.stop()


class Api(ThreadingHTTPServer):
    """An API that accepts only JWT access tokens signed by the provider for ``resource`` (or, with
    no resource, records whatever token it is sent). Every ``aud`` it is sent is recorded."""

    def __init__(self, op, resource=None, *, dpop=False):
        self.op, self.resource, self.dpop = op, resource, dpop
        self.auds, self.tokens, self.schemes = [], [], []
        self.replay = set()
        super().__init__(("127.0.0.1", 0), ApiHandler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def verify(self, token):
        jwks = jwt.PyJWKSet.from_dict(
            requests.get(self.op.metadata()["jwks_uri"], timeout=TIMEOUT).json()
        )
        key = jwks[jwt.get_unverified_header(token)["kid"]]
        return jwt.decode(
            token,
            key.key,
            algorithms=["RS256", "PS256", "ES256"],
            issuer=self.op.issuer,
            options={"verify_aud": False, "require": ["exp", "aud", "sub"]},
        )

    def close(self):
        self.shutdown()
        self.server_close()


class ApiHandler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, body):
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self):  # noqa: N802 - http.server's name
        api = self.server
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        api.tokens.append(token)
        api.schemes.append(scheme)
        if api.resource is None:
            return self.answer(200, {"seen": True})
        try:
            claims = api.verify(token)
        except (jwt.PyJWTError, KeyError) as exc:
            api.auds.append(None)
            return self.answer(401, {"error": "invalid_token", "detail": type(exc).__name__})
        api.auds.append(claims["aud"])
        if claims["aud"] != api.resource:
            return self.answer(401, {"error": "invalid_token", "detail": "audience"})
        jkt = (claims.get("cnf") or {}).get("jkt")
        if api.dpop:
            if scheme != "DPoP" or not jkt:
                return self.answer(401, {"error": "invalid_token", "detail": "not DPoP"})
            replay = _Replay(api.replay)
            try:
                verify_proof(
                    self.headers.get("DPoP", ""),
                    method="GET",
                    url=api.url + self.path,
                    access_token=token,
                    jkt=jkt,
                    replay_cache=replay,
                )
            except InvalidProof as exc:
                return self.answer(401, {"error": "invalid_dpop_proof", "detail": str(exc)})
        elif scheme != "Bearer":
            return self.answer(401, {"error": "invalid_token", "detail": "not Bearer"})
        return self.answer(200, {"aud": claims["aud"], "sub": claims["sub"], "jkt": jkt})


class _Replay:
    def __init__(self, seen):
        self.seen = seen

    def add(self, key, value, timeout):
        if key in self.seen:
            return False
        self.seen.add(key)
        return True


@pytest.fixture
def apis(request):
    made = []

    def make(op, resource=None, **kwargs):
        api = Api(op, resource, **kwargs)
        made.append(api)
        return api

    yield make
    for api in made:
        api.close()


@pytest.fixture
def grants(monkeypatch):
    """The refresh grants the BFF makes for upstream tokens (each really goes to the provider)."""
    made = []
    real = upstream_tokens.token_request

    def counted(data, **kwargs):
        made.append(data.get("resource"))
        return real(data, **kwargs)

    monkeypatch.setattr(upstream_tokens, "token_request", counted)
    return made


def point_at(settings, op, **extra):
    settings.OAUTHBFF = {
        **settings.OAUTHBFF,
        "ISSUER": op.issuer,
        "CLIENT_ID": op.client["client_id"],
        "CLIENT_SECRET": op.client.get("client_secret", ""),
        "TOKEN_AUTH_METHOD": "client_secret_basic",
        **extra,
    }
    settings.USERDATA = {**settings.USERDATA, "STORE": "local"}
    cache.clear()
    reset_providers()


@pytest.fixture
def bank_and_ledger(resource_op, settings, apis):
    """The BFF at the plain provider with three upstreams: bank and ledger (a resource each) and
    profile (no target: the session's own token)."""
    bank, ledger, profile = apis(resource_op, BANK), apis(resource_op, LEDGER), apis(resource_op)
    point_at(
        settings,
        resource_op,
        UPSTREAMS={
            "bank": {"url": bank.url + "/v1", "resource": BANK, "scope": "accounts"},
            "ledger": {"url": ledger.url, "resource": LEDGER, "scope": "ledger"},
            "profile": profile.url,
        },
    )
    yield bank, ledger, profile
    cache.clear()
    reset_providers()


def sign_in(op, client=None):
    client = client or Client()
    start = client.get("/auth/login/")
    assert start.status_code == 302, start.content[:300]
    url = urlsplit(
        op.sign_in(start["Location"], "customer@example.com", browser=requests.Session())
    )
    assert url.path == "/auth/callback/", url
    response = client.get(url.path, dict(parse_qsl(url.query)))
    assert response.status_code == 302, response.content[:400]
    return client


def call(client, name, path="accounts"):
    return client.get(f"/bff/api/{name}/{path}", HTTP_X_CSRF="1")


def test_each_upstream_gets_a_token_for_its_own_resource_only(bank_and_ledger, grants):
    bank, ledger, profile = bank_and_ledger
    client = sign_in(bank.op)
    row = OIDCSession.objects.get()
    first_refresh_token = decrypt(row.refresh_token)
    for _ in range(2):
        assert call(client, "bank").json()["aud"] == BANK
        assert call(client, "ledger").json()["aud"] == LEDGER
        assert call(client, "profile").status_code == 200
    assert bank.auds == [BANK, BANK] and ledger.auds == [LEDGER, LEDGER]
    # One grant per upstream: the second round reused the stored tokens.
    assert grants == [[BANK], [LEDGER]]
    assert set(UpstreamToken.objects.values_list("upstream", flat=True)) == {"bank", "ledger"}
    row.refresh_from_db()
    main_token = decrypt(row.access_token)
    # The upstream without a target got the session's own (opaque) token, and nobody else did.
    assert profile.tokens == [main_token, main_token] and main_token.count(".") != 2
    assert main_token not in bank.tokens + ledger.tokens
    assert not set(bank.tokens) & set(ledger.tokens)
    # The provider rotated the refresh token on each grant; the session keeps the newest, so a
    # refresh of the main token still works (reuse detection would have revoked the grant).
    assert decrypt(row.refresh_token) != first_refresh_token
    refreshed = client.post("/auth/refresh/")
    assert refreshed.status_code == 200, refreshed.content[:300]
    assert call(client, "bank").status_code == 200 and len(grants) == 2
    stored = UpstreamToken.objects.get(upstream="bank")
    assert bank.tokens[-1] not in stored.access_token  # encrypted at rest


def test_an_expired_upstream_token_is_renewed_with_a_new_grant(bank_and_ledger, grants):
    bank, _, _ = bank_and_ledger
    client = sign_in(bank.op)
    assert call(client, "bank").status_code == 200
    UpstreamToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert call(client, "bank").json()["aud"] == BANK
    assert grants == [[BANK], [BANK]]
    assert bank.tokens[0] != bank.tokens[1]
    assert UpstreamToken.objects.get().expires_at > timezone.now() + timedelta(seconds=200)


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_calls_make_one_grant(bank_and_ledger, grants):
    bank, _, _ = bank_and_ledger
    client = sign_in(bank.op)
    cookies = client.cookies

    def one_call(_):
        try:
            browser = Client()
            browser.cookies = cookies
            return call(browser, "bank").status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(one_call, range(8)))
    assert statuses == [200] * 8
    assert grants == [[BANK]]
    assert len(set(bank.tokens)) == 1 and bank.auds == [BANK] * 8
    # The refresh token rotated once and the session has it: the main refresh still works.
    assert client.post("/auth/refresh/").status_code == 200


def test_sign_out_deletes_the_upstream_tokens(bank_and_ledger):
    bank, _, _ = bank_and_ledger
    client = sign_in(bank.op)
    assert call(client, "bank").status_code == 200 and call(client, "ledger").status_code == 200
    assert UpstreamToken.objects.count() == 2
    assert client.post("/auth/logout/").status_code == 302
    assert UpstreamToken.objects.count() == 0
    response = call(client, "bank")
    assert response.status_code == 401 and response.json()["error"] == "not_signed_in"


def test_a_resource_the_sign_in_did_not_ask_for_is_a_clear_401(bank_and_ledger, settings, apis):
    """An upstream configured since the sign-in: its resource is not in the grant, so no grant is
    tried (node-oidc-provider would spend the refresh token on an invalid_target answer)."""
    bank, _, _ = bank_and_ledger
    client = sign_in(bank.op)
    other = apis(bank.op, "https://unknown.changebank.test/")
    settings.OAUTHBFF = {
        **settings.OAUTHBFF,
        "UPSTREAMS": {
            **settings.OAUTHBFF["UPSTREAMS"],
            "other": {"url": other.url, "resource": "https://unknown.changebank.test/"},
        },
    }
    response = call(client, "other")
    assert response.status_code == 401, response.content[:300]
    assert response.json()["error"] == "sign_in_required"
    assert other.tokens == []  # nothing at all was sent, least of all the main token
    assert call(client, "bank").status_code == 200  # the session itself is fine


def test_a_resource_the_provider_does_not_know_is_refused_at_sign_in(
    bank_and_ledger, settings, caplog
):
    bank, _, _ = bank_and_ledger
    settings.OAUTHBFF = {
        **settings.OAUTHBFF,
        "UPSTREAMS": {"other": {"url": bank.url, "resource": "https://unknown.changebank.test/"}},
    }
    start = Client().get("/auth/login/")
    # The push is refused (invalid_target): no sign-in starts, the page says the provider refused
    # it, and the log says why.
    assert start.status_code == 502 and b"refused to start the sign-in" in start.content
    assert "refused the sign-in request (invalid_target)" in caplog.text


def test_a_revoked_grant_is_a_401_that_asks_to_sign_in_again(bank_and_ledger):
    bank, _, _ = bank_and_ledger
    client = sign_in(bank.op)
    row = OIDCSession.objects.get()
    op = bank.op
    revoked = requests.post(
        op.metadata()["revocation_endpoint"],
        data={"token": decrypt(row.refresh_token), "token_type_hint": "refresh_token"},
        auth=(op.client["client_id"], op.client["client_secret"]),
        timeout=TIMEOUT,
    )
    assert revoked.status_code == 200
    response = call(client, "bank")
    assert response.status_code == 401 and response.json()["error"] == "session_expired"
    assert bank.tokens == []
    assert OIDCSession.objects.get().end_reason == "refresh_failed"


def test_without_par_the_authorization_request_names_every_resource(bank_and_ledger, settings):
    bank, ledger, _ = bank_and_ledger
    settings.OAUTHBFF = {**settings.OAUTHBFF, "PAR": "false"}
    start = Client().get("/auth/login/")
    query = parse_qsl(urlsplit(start["Location"]).query)
    assert [value for name, value in query if name == "resource"] == [BANK, LEDGER]
    scope = dict(query)["scope"].split()
    assert {"openid", "offline_access", "accounts", "ledger"} <= set(scope)
    client = sign_in(bank.op)
    assert call(client, "ledger").json()["aud"] == LEDGER


def test_oidc_resource_makes_the_main_token_one_for_that_api(resource_op, settings, apis):
    """OIDC_RESOURCE (RFC 8707): the code exchange and every refresh name it, so the session's own
    token is a JWT for that API; the profile then comes from the ID token."""
    bank = apis(resource_op, BANK)
    point_at(
        settings,
        resource_op,
        RESOURCE=[BANK],
        SCOPES="openid profile email offline_access accounts",
        UPSTREAMS={"bank": bank.url},
    )
    client = sign_in(resource_op)
    assert client.get("/auth/user/").json()["user"]["email"] == "customer@example.com"
    assert call(client, "bank").json()["aud"] == BANK
    assert client.post("/auth/refresh/").status_code == 200
    assert call(client, "bank").json()["aud"] == BANK  # still for the API after a refresh
    assert bank.auds == [BANK, BANK] and UpstreamToken.objects.count() == 0


# --- the FAPI 2.0 profile: DPoP-bound tokens per API ---------------------------------------------
@pytest.fixture
def fapi_bank_and_ledger(resource_fapi_op, settings, apis):
    op = resource_fapi_op
    bank, ledger = apis(op, BANK, dpop=True), apis(op, LEDGER, dpop=True)
    point_at(
        settings,
        op,
        CLIENT_SECRET="",
        TOKEN_AUTH_METHOD="private_key_jwt",
        CLIENT_PRIVATE_KEY_FILE=[op.key_file],
        DPOP=True,
        PROFILE="fapi2",
        ALLOWED_ALGORITHMS=["PS256", "ES256"],
        UPSTREAMS={
            "bank": {"url": bank.url, "resource": BANK, "scope": "accounts"},
            "ledger": {"url": ledger.url, "resource": LEDGER, "scope": "ledger"},
        },
    )
    yield bank, ledger
    cache.clear()
    reset_providers()


def test_fapi2_each_upstream_gets_a_dpop_bound_token_for_its_own_resource(
    fapi_bank_and_ledger, grants
):
    bank, ledger = fapi_bank_and_ledger
    client = sign_in(bank.op)
    thumbprint = session_dpop_key(OIDCSession.objects.get()).thumbprint
    for _ in range(2):
        for name, resource in (("bank", BANK), ("ledger", LEDGER)):
            response = call(client, name)
            assert response.status_code == 200, response.content[:300]
            assert response.json() == {
                "aud": resource,
                "sub": "customer@example.com",
                "jkt": thumbprint,
            }
    assert bank.auds == [BANK, BANK] and ledger.auds == [LEDGER, LEDGER]
    assert set(bank.schemes + ledger.schemes) == {"DPoP"}
    assert grants == [[BANK], [LEDGER]]
    # The rotated refresh token (bound to the same key) still refreshes the main token.
    assert client.post("/auth/refresh/").status_code == 200
    UpstreamToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert call(client, "bank").json()["jkt"] == thumbprint and len(grants) == 3
