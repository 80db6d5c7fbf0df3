"""The same-origin API proxy for front-end code: ``/bff/api/<name>/<path>`` -> an allowlisted upstream.

The browser sends its session cookie and a custom ``X-CSRF: 1`` header (a cross-site page cannot add a
custom header without a CORS preflight we never grant); the BFF adds the user's access token and
forwards only what an API needs. Browser cookies and credentials, hop-by-hop headers and upstream
cookies never cross (RFC 9110 §7.6.1; draft-ietf-oauth-browser-based-apps §6.1.3.6). An ended session
is a 401 JSON answer, never a redirect.
"""

import logging

import requests
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt

from oauthbff.client import UnsafePath, UserApiClient, check_path
from oauthbff.conf import oauthbff_settings
from oauthbff.exceptions import SessionExpired, UpstreamNotGranted, UpstreamTokenRefused
from oauthbff.responses import json_error
from oauthbff.upstreams import get_upstream

logger = logging.getLogger(__name__)

ANTI_FORGERY_HEADER = "X-CSRF"
ALLOWED_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"})
# What an API request needs from the browser; everything else (Cookie, Authorization, hop-by-hop
# headers, Host, X-Forwarded-*, ...) stays behind.
FORWARD_REQUEST_HEADERS = (
    "Accept",
    "Accept-Language",
    "Content-Type",
    "Content-Language",
    "If-Match",
    "If-None-Match",
    "If-Modified-Since",
    "If-Unmodified-Since",
    "Range",
    "X-Request-ID",
)
# What the browser may see of the upstream's answer: no Set-Cookie, no hop-by-hop headers, no
# Content-Encoding/Length (the body is decoded and re-measured here), no Location (not followed),
# no Cache-Control or Expires (every answer is the user's own: "private, no-store").
FORWARD_RESPONSE_HEADERS = (
    "Content-Type",
    "Content-Language",
    "Content-Disposition",
    "Content-Range",
    "Accept-Ranges",
    "ETag",
    "Last-Modified",
    "Retry-After",
    "WWW-Authenticate",
    "X-Request-ID",
)
HOP_BY_HOP_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)


class ProxyRefused(Exception):
    """Why a call is not forwarded, or failed upstream: the JSON error the browser gets."""

    def __init__(self, status, error, message, headers=None):
        super().__init__(message)
        self.status, self.error, self.message, self.headers = status, error, message, headers


def forwarded_request_headers(request):
    """The browser's headers that go upstream: the allowlist, minus any the Connection header names."""
    named_by_connection = {
        token.strip().lower() for token in request.headers.get("Connection", "").split(",")
    }
    headers = {}
    for name in FORWARD_REQUEST_HEADERS:
        value = request.headers.get(name)
        if value is not None and name.lower() not in named_by_connection:
            headers[name] = value
    return headers


def forwarded_response_headers(upstream):
    named_by_connection = {
        token.strip().lower() for token in upstream.headers.get("Connection", "").split(",")
    }
    return {
        name: upstream.headers[name]
        for name in FORWARD_RESPONSE_HEADERS
        if name in upstream.headers
        and name.lower() not in named_by_connection
        and name.lower() not in HOP_BY_HOP_HEADERS
    }


def anti_forgery_failure(request):
    """Why the request may be forged, or None: the custom header is required on every method."""
    if request.headers.get(ANTI_FORGERY_HEADER) != "1":
        return f"The {ANTI_FORGERY_HEADER}: 1 header is required."
    # Fetch metadata, where the browser sends it, is a second, independent signal.
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        return "Cross-site requests are not allowed."
    return None


def read_body(upstream, limit):
    """The upstream's body, up to ``limit`` bytes; None when it is larger."""
    chunks, size = [], 0
    for chunk in upstream.iter_content(64 * 1024):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def check_forwardable(request, name, path):
    """The upstream (``oauthbff.upstreams.Upstream``) for a call that may be forwarded; ProxyRefused
    otherwise."""
    upstream = get_upstream(name)
    if upstream is None:
        raise ProxyRefused(404, "not_found", "There is no such API.")
    if request.method not in ALLOWED_METHODS:
        allow = ", ".join(sorted(ALLOWED_METHODS))
        raise ProxyRefused(
            405, "method_not_allowed", "This method is not allowed.", {"Allow": allow}
        )
    reason = anti_forgery_failure(request)
    if reason:
        raise ProxyRefused(403, "csrf_failed", reason)
    try:
        check_path(path)
    except UnsafePath as exc:
        raise ProxyRefused(400, "invalid_path", str(exc)) from exc
    raw_uri = (request.META.get("RAW_URI") or request.META.get("REQUEST_URI") or "").lower()
    if "%2f" in raw_uri or "%5c" in raw_uri:
        raise ProxyRefused(400, "invalid_path", "Encoded slashes are not allowed in the path.")
    if not request.user.is_authenticated:
        raise ProxyRefused(401, "not_signed_in", "You are not signed in.")
    limit = oauthbff_settings.PROXY_MAX_REQUEST_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError as exc:
        raise ProxyRefused(
            400, "invalid_request", "The Content-Length header is malformed."
        ) from exc
    if declared > limit:
        raise ProxyRefused(413, "too_large", f"The request body is larger than {limit} bytes.")
    return upstream


def send_upstream(request, upstream, path):
    """Send the browser's call upstream with the user's token (or the one minted for that API); the
    streamed upstream response."""
    name = upstream.name
    body = request.body if request.method not in ("GET", "HEAD") else None
    try:
        return UserApiClient(request, upstream.url, upstream=upstream).request(
            request.method,
            path,
            params=request.META.get("QUERY_STRING") or None,
            data=body,
            headers=forwarded_request_headers(request),
            stream=True,
        )
    except SessionExpired as exc:
        if exc.temporary:
            raise ProxyRefused(
                503,
                "temporarily_unavailable",
                "Your session could not be renewed right now; try again shortly.",
                {"Retry-After": "5"},
            ) from exc
        raise ProxyRefused(
            401, "session_expired", "Your session has ended; sign in again."
        ) from exc
    except UpstreamNotGranted as exc:
        raise ProxyRefused(
            401,
            "sign_in_required",
            "This API was added since you signed in; sign in again to use it.",
        ) from exc
    except UpstreamTokenRefused as exc:
        # Never the session's main token instead: it is not meant for this API.
        raise ProxyRefused(
            502,
            "upstream_token_refused",
            "The identity provider issues no token for this API; its configuration needs a look.",
        ) from exc
    except requests.Timeout as exc:
        logger.warning("oauthbff proxy: upstream %r timed out", name)
        raise ProxyRefused(504, "upstream_timeout", "The API did not answer in time.") from exc
    except requests.RequestException as exc:
        logger.warning("oauthbff proxy: upstream %r failed: %s", name, type(exc).__name__)
        raise ProxyRefused(502, "upstream_unavailable", "The API could not be reached.") from exc


def browser_response(name, upstream):
    """What the browser gets of the upstream's answer: its status, body and allowed headers."""
    with upstream:
        if upstream.is_redirect:
            logger.warning("oauthbff proxy: upstream %r answered a redirect", name)
            raise ProxyRefused(502, "upstream_redirect", "The API answered with a redirect.")
        try:
            content = read_body(upstream, oauthbff_settings.PROXY_MAX_RESPONSE_BYTES)
        except requests.RequestException as exc:
            logger.warning("oauthbff proxy: upstream %r broke off: %s", name, type(exc).__name__)
            raise ProxyRefused(
                502, "upstream_unavailable", "The API's answer was cut off."
            ) from exc
        if content is None:
            raise ProxyRefused(502, "upstream_too_large", "The API's answer is too large.")
        response = HttpResponse(content, status=upstream.status_code)
        # HttpResponse sets a default Content-Type; the upstream's (or none) is what applies.
        del response["Content-Type"]
        for header, value in forwarded_response_headers(upstream).items():
            response[header] = value
    # An answer made with one user's token is theirs: never for a shared cache, whatever the
    # upstream says (Cache-Control: public, Expires), and not kept by the browser either.
    response["Cache-Control"] = "private, no-store"
    return response


def forward(request, name, path=""):
    """Forward one browser API call to the upstream ``name`` as the signed-in user."""
    upstream = check_forwardable(request, name, path)
    return browser_response(name, send_upstream(request, upstream, path))


@csrf_exempt  # The anti-forgery header replaces the CSRF token for these JSON calls.
def proxy_view(request, name, path=""):
    """``/bff/api/<name>/<path>``: the upstream's answer, or a JSON error."""
    try:
        return forward(request, name, path)
    except ProxyRefused as exc:
        return json_error(exc.error, exc.message, status=exc.status, headers=exc.headers)
