"""Calling downstream APIs with the signed-in user's access token, from server-side code.

    client = upstream_client(request, "changebank")
    response = client.get("make-change", params={"total": "3.24"})

The token is read from the request's session on every call (refreshed when close to expiry) and
attached to that one request only: the pooled HTTP session (``oauthbff.http.upstream_session``)
holds no credentials and keeps no cookies, so nothing of one user's can leak into another user's
call. Redirects are not followed, so the token is never replayed to a host it was not meant for.
"""

import re
import unicodedata
from urllib.parse import quote, urlsplit

import requests
from django.views.decorators.debug import sensitive_variables

from oauthbff.dpop import nonce_for, remember_nonce
from oauthbff.exceptions import SessionExpired, UpstreamNotGranted, UpstreamTokenRefused
from oauthbff.http import upstream_session
from oauthbff.refresh import get_access_token
from oauthbff.sessions import current_session, session_dpop_key
from oauthbff.upstream_tokens import upstream_access_token
from oauthbff.upstreams import configured_upstreams, get_upstream

__all__ = [
    "SessionExpired",
    "UnknownUpstream",
    "UnsafePath",
    "UpstreamNotGranted",
    "UpstreamTokenRefused",
    "UserApiClient",
    "build_url",
    "get_upstreams",
    "upstream_client",
]

_SAFE_PATH_CHARS = "/-._~!$&'()*+,;=:@"
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


class UnknownUpstream(LookupError):
    """The name is not one of the configured upstreams (OAUTHBFF["UPSTREAMS"])."""


class UnsafePath(ValueError):
    """A path that could leave the upstream's base URL, or hides its meaning in encoding."""


class BearerAuth(requests.auth.AuthBase):
    """Adds the token to one prepared request; passing it as ``auth`` also keeps ~/.netrc out."""

    def __init__(self, token):
        self._token = token

    def __call__(self, prepared):
        prepared.headers["Authorization"] = f"Bearer {self._token}"
        return prepared

    def __repr__(self):
        return "BearerAuth(<redacted>)"


class DPoPAuth(requests.auth.AuthBase):
    """A DPoP-bound token (RFC 9449 §7.1): ``Authorization: DPoP`` and a fresh proof for this very
    request (method, URL, the token's hash and the server's nonce, if it gave one)."""

    def __init__(self, token, dpop_key):
        self._token = token
        self._key = dpop_key

    def __call__(self, prepared):
        prepared.headers["Authorization"] = f"DPoP {self._token}"
        prepared.headers["DPoP"] = self._key.proof(
            prepared.method, prepared.url, access_token=self._token, nonce=nonce_for(prepared.url)
        )
        return prepared

    def __repr__(self):
        return "DPoPAuth(<redacted>)"


def get_upstreams():
    """The allowlist: {name: base URL without a trailing slash}; unusable entries are left out."""
    return {name: upstream.url for name, upstream in configured_upstreams().items()}


def check_path(path):
    """Refuse a relative path that could escape its base URL or smuggle meaning through encoding.

    The checks hold for the path as given and for its NFKC form (an upstream that normalises
    Unicode reads "．．" as ".."), and a segment's matrix parameters do not hide a dot segment
    ("..;x" is ".." to Tomcat- and Spring-style servers).
    """
    for form in dict.fromkeys((path, unicodedata.normalize("NFKC", path))):
        _check_path_form(form)
    return path


def _check_path_form(path):
    if path.startswith("/") or "\\" in path or "%" in path or _CONTROL_RE.search(path):
        raise UnsafePath("The path contains characters that are not allowed.")
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", path):
        raise UnsafePath("The path must be relative, not an absolute URL.")
    segments = path.split("/")
    for index, segment in enumerate(segments):
        if segment.split(";", 1)[0] in (".", ".."):
            raise UnsafePath("The path must not contain '.' or '..' segments.")
        if segment == "" and index != len(segments) - 1:
            raise UnsafePath("The path must not contain empty segments.")


def build_url(base_url, path):
    """``base_url`` joined with a checked relative ``path``; the result always stays under the base."""
    if not path:
        return base_url
    return f"{base_url}/{quote(check_path(path), safe=_SAFE_PATH_CHARS)}"


class UserApiClient:
    """Calls one downstream API as the user of one Django request; make one per request.

    Given the ``upstream`` (an ``oauthbff.upstreams.Upstream``) with a resource, audience or scope
    of its own, it sends that API's own token (``oauthbff.upstream_tokens``), never the session's
    main one.
    """

    def __init__(self, request, base_url, *, timeout=None, upstream=None):
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("An upstream base URL must be an absolute http(s) URL.")
        self.django_request = request
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.upstream = upstream

    @sensitive_variables()
    def access_token(self):
        """The token this API gets: its own when it has a target, else the session's."""
        if self.upstream is not None and self.upstream.has_own_token:
            return upstream_access_token(self.django_request, self.upstream)
        return get_access_token(self.django_request)

    def __repr__(self):
        return f"<UserApiClient {self.base_url}>"

    def request(self, method, path="", *, headers=None, timeout=None, **kwargs):
        """Send one request with the user's current access token (as a DPoP-bound token with its
        proof when the session has a DPoP key); raises SessionExpired, and UpstreamTokenRefused or
        UpstreamNotGranted when this API's own token cannot be had.

        Network failures surface as ``requests`` exceptions (Timeout, ConnectionError) for the
        caller to turn into a status; redirects are returned, never followed.
        """
        url = build_url(self.base_url, path)
        token = self.access_token()
        dpop_key = session_dpop_key(current_session(self.django_request))
        headers = {
            k: v for k, v in (headers or {}).items() if k.lower() not in ("authorization", "dpop")
        }
        for attempt in range(2):
            response = upstream_session.request(
                method,
                url,
                headers=headers,
                auth=DPoPAuth(token, dpop_key) if dpop_key else BearerAuth(token),
                timeout=timeout or self.timeout,
                allow_redirects=False,
                **kwargs,
            )
            # A DPoP-bound token's API may ask for its nonce first (RFC 9449 §9): once more with it.
            if dpop_key is None or attempt or not remember_nonce(url, response):
                return response
            response.close()
        return response

    def get(self, path="", **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path="", **kwargs):
        return self.request("POST", path, **kwargs)

    def put(self, path="", **kwargs):
        return self.request("PUT", path, **kwargs)

    def patch(self, path="", **kwargs):
        return self.request("PATCH", path, **kwargs)

    def delete(self, path="", **kwargs):
        return self.request("DELETE", path, **kwargs)


def upstream_client(request, name, *, timeout=None):
    """A client for the upstream named ``name`` in OAUTHBFF["UPSTREAMS"]; UnknownUpstream otherwise."""
    upstream = get_upstream(name)
    if upstream is None:
        raise UnknownUpstream(name)
    return UserApiClient(request, upstream.url, timeout=timeout, upstream=upstream)
