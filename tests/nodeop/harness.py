"""node-oidc-provider as a real process: started on a free port, driven over HTTP like a browser would.

The Node side is ``server.mjs`` next to this file, installed with ``npm ci`` from ``package-lock.json``
(``dev.py test`` and CI do it). The provider is OpenID Certified; unlike the development IdP it
refuses what the standards refuse, so the BFF meets a strict provider here: an issuer that ends in
"/", the RFC 9207 ``iss`` parameter, one-time rotating refresh tokens, consent screens.
"""

import json
import os
import shutil
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests

from tests.fixtures.devidp import _FormParser, free_port
from tests.fixtures.stack import Service

HERE = Path(__file__).resolve().parent
SERVER = HERE / "server.mjs"
NODE_MODULES = HERE / "node_modules"
TIMEOUT = 10


def node_binary():
    return shutil.which("node")


def missing_reason():
    """Why the provider cannot start here, or "" when it can."""
    if not node_binary():
        return "node is not installed (node-oidc-provider needs Node.js 18 or later)"
    if not (NODE_MODULES / "oidc-provider").is_dir():
        return f"the provider is not installed: run `npm ci` in {HERE.relative_to(HERE.parents[1])}"
    return ""


class SignInError(AssertionError):
    """The provider did not send the browser back to the client."""


class NodeOP:
    """A running node-oidc-provider, its clients, and a browser's way through its pages."""

    def __init__(self, workdir, *, clients, slash=True, **options):
        self.workdir = Path(workdir)
        self.port = free_port()
        base = f"http://127.0.0.1:{self.port}"
        self.issuer = f"{base}/" if slash else base
        self.base = base
        self.clients = clients
        self.options = options
        self.log_path = self.workdir / f"nodeop-{self.port}.log"
        self.process = None
        self.prompts = []

    @property
    def discovery_url(self):
        return f"{self.base}/.well-known/openid-configuration"

    def metadata(self):
        return requests.get(self.discovery_url, timeout=TIMEOUT).json()

    # --- process -----------------------------------------------------------------------------
    def start(self):
        config = self.workdir / f"nodeop-{self.port}.json"
        config.write_text(
            json.dumps(
                {"port": self.port, "issuer": self.issuer, "clients": self.clients, **self.options}
            )
        )
        self.process = Service(
            f"nodeop-{self.port}",
            [node_binary(), str(SERVER), str(config)],
            {**os.environ, "NODE_ENV": "test"},
            self.workdir,
            ready_url=self.discovery_url,
            cwd=HERE,
        ).start(timeout=30)
        return self

    def stop(self):
        if self.process is not None:
            self.process.stop()
        self.process = None

    def log_tail(self, lines=40):
        return self.process.log_tail(lines) if self.process else ""

    # --- a browser at the provider -----------------------------------------------------------
    def _on_provider(self, url):
        return urlsplit(url).netloc == urlsplit(self.base).netloc

    def sign_in(self, authorize_url, login, *, browser):
        """Follow the provider's pages (login, then consent) like a person; return the URL the
        provider finally sends the browser to (the client's redirect URI with code, state, iss)."""
        url, method, data = authorize_url, "GET", None
        self.prompts = []  # the pages shown on the way, e.g. ["login", "consent"]
        for _ in range(12):
            response = browser.request(
                method, url, data=data, allow_redirects=False, timeout=TIMEOUT
            )
            if response.is_redirect:
                url = urljoin(url, response.headers["Location"])
                method, data = "GET", None
                if not self._on_provider(url):
                    return url
                continue
            if response.status_code != 200:
                raise SignInError(
                    f"{urlsplit(url).path} answered {response.status_code}: {response.text[:300]}"
                )
            form = _FormParser()
            form.feed(response.text)
            if form.action is None:
                raise SignInError(f"no form at {urlsplit(url).path}: {response.text[:300]}")
            data = dict(form.fields)
            self.prompts.append(data.get("prompt", ""))
            if data.get("prompt") == "login":
                data.update(login=login, password="any password")
            url, method = urljoin(url, form.action), "POST"
        raise SignInError("the provider kept the browser to itself")

    def confirm_logout(self, end_session_url, *, browser):
        """Answer the provider's "Do you want to sign out?" page with yes; return where it sends
        the browser next (the client's post-logout redirect URI, or the provider's own page)."""
        page = browser.get(end_session_url, allow_redirects=False, timeout=TIMEOUT)
        if page.status_code != 200:
            raise SignInError(f"end_session answered {page.status_code}: {page.text[:300]}")
        form = _FormParser()
        form.feed(page.text)
        if form.action is None:
            raise SignInError(f"no logout form: {page.text[:300]}")
        answer = browser.post(
            urljoin(end_session_url, form.action),
            data={**form.fields, "logout": "yes"},
            allow_redirects=False,
            timeout=TIMEOUT,
        )
        if answer.is_redirect:
            return urljoin(end_session_url, answer.headers["Location"])
        if answer.status_code != 200:
            raise SignInError(f"logout confirmation answered {answer.status_code}")
        return answer.url

    # --- a client at the provider (test-side checks) -------------------------------------------
    def token(self, client, **form):
        """POST to the token endpoint as ``client`` (client_secret_basic); the raw response."""
        return requests.post(
            self.metadata()["token_endpoint"],
            data=form,
            auth=(client["client_id"], client["client_secret"]),
            timeout=TIMEOUT,
        )
