"""Error pages in the product's look for people, JSON errors for API callers.

Wired in bffproject/urls.py (handler400/403/404/500), as CSRF_FAILURE_VIEW, and by
``bffproject.middleware.MethodNotAllowedPageMiddleware`` for 405s. No page shows a token, a
traceback or the failure's internals.
"""

import logging
import sys

import redis
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, HttpResponseServerError
from django.shortcuts import render
from django.template import loader
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import requires_csrf_token

from oauthbff.responses import json_error, wants_json

logger = logging.getLogger("bffproject.errors")

# The database, the cache or the broker not answering (connection refused, timed out, dropped).
DEPENDENCY_ERRORS = (
    OperationalError,
    InterfaceError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)


def wants_page(request):
    """True for a browser navigation: HTML asked for and preferred to JSON, and not a script."""
    if request.headers.get("X-Requested-With") or "text/html" not in request.headers.get(
        "Accept", ""
    ):
        return False
    return request.get_preferred_type(["text/html", "application/json"]) == "text/html"


def _json(request):
    return wants_json(request) and not wants_page(request)


def _page(request, template, status, **context):
    return render(request, f"errors/{template}.html", context, status=status)


@requires_csrf_token
def bad_request(request, exception=None):
    if _json(request):
        return json_error("bad_request", "The request could not be understood.", status=400)
    return _page(request, "400", 400)


@requires_csrf_token
def permission_denied(request, exception=None):
    if _json(request):
        return json_error("forbidden", "You do not have access to this.", status=403)
    return _page(request, "403", 403)


@requires_csrf_token
def page_not_found(request, exception=None):
    if _json(request):
        return json_error("not_found", "Nothing is at this address.", status=404)
    return _page(request, "404", 404, request_path=request.path)


def dependency_down(exception):
    """True when a request failed because the database, the cache or the broker did not answer:
    a passing outage (503, try again) rather than a fault of ours (500)."""
    return isinstance(exception, DEPENDENCY_ERRORS)


def server_error(request):
    """Rendered without the request's context processors: they may be what failed.

    Django calls this while the exception is being handled, so it can tell an outage of Redis or
    PostgreSQL (503 with Retry-After) from a bug (500).
    """
    if dependency_down(sys.exc_info()[1]):
        return service_unavailable(request)
    if _json(request):
        return json_error("server_error", "Something went wrong on our side.", status=500)
    try:
        return HttpResponseServerError(loader.get_template("errors/500.html").render())
    except Exception:  # the page itself failed: a plain line is still better than nothing
        logger.exception("bffproject: the 500 page could not be rendered")
        return HttpResponseServerError(
            "Something went wrong on our side. Please try again.", content_type="text/plain"
        )


def service_unavailable(request):
    if _json(request):
        response = json_error(
            "temporarily_unavailable", "Please try again in a few seconds.", status=503
        )
    else:
        try:
            response = HttpResponse(loader.get_template("errors/503.html").render(), status=503)
        except Exception:  # noqa: BLE001 - as for the 500 page
            response = HttpResponse(
                "Back in a moment: please try again in a few seconds.",
                content_type="text/plain",
                status=503,
            )
    response["Retry-After"] = "5"
    return response


def method_not_allowed(request, allowed=""):
    """A 405: a page for a browser that opened a form's or a script's address, else JSON."""
    if wants_page(request):
        response = _page(request, "405", 405)
    else:
        response = json_error(
            "method_not_allowed", f"{request.method} is not allowed here.", status=405
        )
    if allowed:
        response["Allow"] = allowed
    return response


def _same_site_referer(request):
    referer = request.headers.get("Referer", "")
    if referer and url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return referer
    return "/"


@requires_csrf_token
def csrf_failure(request, reason=""):
    """A form or script sent a stale or missing CSRF token (e.g. a tab left open across a sign-in).

    Says what happened in the person's terms and offers the action again: a sign-out gets a fresh
    sign-out form (this page's token is new and valid), anything else a way back to reload.
    """
    signed_in = request.user.is_authenticated
    logger.info("bffproject: CSRF check failed on %s %s", request.method, request.path)
    if not wants_page(request) and (_json(request) or request.content_type == "application/json"):
        message = (
            "This page is out of date: reload it and try again. Nothing was changed."
            if signed_in
            else "Your session has ended. Sign in again; nothing was changed."
        )
        return json_error("csrf_failed", message, status=403, signed_in=signed_in)
    is_logout = request.path == reverse("oauthbff:logout")
    return _page(
        request,
        "csrf",
        403,
        is_logout=is_logout,
        signed_in=signed_in,
        back_url=_same_site_referer(request),
    )
