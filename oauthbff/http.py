"""The HTTP sessions oauthbff calls out with, made by one factory.

Every session is pooled, has a timeout on every request (a caller may pass a shorter or longer one,
never none), keeps no cookies and holds no credentials of its own: credentials go on each request,
so nothing of one user's can reach another user's call (see CVE-2024-51987).
"""

import http.cookiejar

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from oauthbff.conf import oauthbff_settings


class RefuseAllCookies(http.cookiejar.CookiePolicy):
    """A shared HTTP session must never store one user's cookies and send them for another."""

    netscape = True
    rfc2965 = False
    hide_cookie2 = False

    def set_ok(self, cookie, request):
        return False

    def return_ok(self, cookie, request):
        return False

    def domain_return_ok(self, domain, request):
        return False

    def path_return_ok(self, path, request):
        return False


class TimeoutSession(requests.Session):
    """A ``requests.Session`` whose requests get ``default_timeout()`` unless given a timeout."""

    def __init__(self, default_timeout):
        super().__init__()
        self.default_timeout = default_timeout

    def request(self, method, url, **kwargs):
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout()
        extra = oauthbff_settings.OUTBOUND_HEADERS
        if extra is not None:
            kwargs["headers"] = {**extra(), **(kwargs.get("headers") or {})}
        return super().request(method, url, **kwargs)


def build_session(*, default_timeout, retry, user_agent, pool_maxsize=32):
    """A pooled, cookie-less session with ``retry`` on its adapter and a timeout on every call."""
    session = TimeoutSession(default_timeout)
    session.cookies.set_policy(RefuseAllCookies())
    adapter = HTTPAdapter(pool_connections=8, pool_maxsize=pool_maxsize, max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = user_agent
    return session


def _provider_timeout():
    timeout = oauthbff_settings.HTTP_TIMEOUT
    return tuple(timeout) if isinstance(timeout, list | tuple) else timeout


def _upstream_timeout():
    return tuple(oauthbff_settings.UPSTREAM_TIMEOUT)


# Calls to the provider: only idempotent GETs (discovery, JWKS, userinfo) are retried, on
# connection errors and 5xx, honouring Retry-After; a POST to the token endpoint never is.
provider_session = build_session(
    default_timeout=_provider_timeout,
    retry=Retry(
        total=2,
        connect=2,
        read=1,
        backoff_factor=0.2,
        status_forcelist=(502, 503, 504),
        allowed_methods=frozenset({"GET"}),
        respect_retry_after_header=True,
        raise_on_status=False,
    ),
    user_agent="oauthbff",
)

# Calls to downstream APIs with a user's token: only a failed connect is retried (the request
# never left, so any method is safe to resend); redirects are never followed by the callers.
upstream_session = build_session(
    default_timeout=_upstream_timeout,
    retry=Retry(total=1, connect=1, read=False, redirect=0, status=0, other=0),
    user_agent="oauthbff-client",
)
