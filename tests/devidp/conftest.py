"""Helpers for the development IdP's own tests: sign-ins, token calls and a webhook receiver."""

import json
import queue
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests

from tests.fixtures.devidp import pkce_pair

CALLBACK = "http://127.0.0.1:8000/auth/callback/"


class WebhookReceiver:
    """A local HTTP endpoint that records what the IdP POSTs and answers with queued statuses."""

    def __init__(self):
        self.received = queue.Queue()
        self.statuses = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.received.put({"headers": dict(self.headers), "body": body})
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/fusionauth/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def next(self, timeout=10, event_type=None):
        """The next delivery (optionally of one event type), decoded; fails after ``timeout``."""
        while True:
            delivery = self.received.get(timeout=timeout)
            delivery["json"] = json.loads(delivery["body"])
            if event_type is None or delivery["json"]["event"]["type"] == event_type:
                return delivery

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook_receiver(devidp):
    receiver = WebhookReceiver()
    devidp.set_webhook_url(receiver.url)
    yield receiver
    devidp.set_webhook_url(devidp.default_webhook_url)
    receiver.close()


@pytest.fixture
def idp(devidp):
    """The session's IdP, with its token policy and lifetime put back after the test."""
    devidp.start()
    yield devidp
    devidp.start()
    devidp.reset_defaults()


def code_for(idp, email="customer@example.com", scope=None, nonce="nonce-1", session=None):
    """Sign in through the login form; returns (code, verifier, redirect location)."""
    verifier, challenge = pkce_pair()
    url = idp.authorize_url(CALLBACK, scope=scope, nonce=nonce, challenge=challenge)
    location = idp.sign_in(url, email, session=session)
    query = parse_qs(urlsplit(location).query)
    return query["code"][0], verifier, location


def token_request(idp, data, auth="basic", **kwargs):
    if auth == "basic":
        kwargs["auth"] = (idp.client_id, idp.client_secret)
    elif auth == "post":
        data = {**data, "client_id": idp.client_id, "client_secret": idp.client_secret}
    kwargs.setdefault("timeout", 10)
    return requests.post(f"{idp.url}/oauth2/token", data=data, **kwargs)


def tokens_for(idp, email="customer@example.com", scope=None):
    code, verifier, _ = code_for(idp, email, scope)
    response = token_request(
        idp,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": verifier,
        },
    )
    assert response.status_code == 200, response.text
    return response.json()


def verify(idp, token, **options):
    """Verify a JWT against the IdP's published JWKS, as a relying party would."""
    signing_key = jwt.PyJWKClient(f"{idp.url}/.well-known/jwks.json").get_signing_key_from_jwt(
        token
    )
    return jwt.decode(
        token,
        signing_key.key,
        algorithms=["RS256"],
        audience=idp.client_id,
        issuer=idp.url,
        **options,
    )
