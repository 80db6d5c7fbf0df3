"""How oauthbff answers when something goes wrong: a clear page for people, JSON for APIs."""

from urllib.parse import urlencode

from django.http import JsonResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve, reverse

from oauthbff.conf import oauthbff_settings

# oauthbff's own views that answer JSON (URL names); a project adds its API paths in
# JSON_PATH_PREFIXES.
JSON_URL_NAMES = frozenset({"oauthbff:user", "oauthbff:refresh"})
JSON_NAMESPACES = frozenset({"oauthbff-proxy"})


def _is_json_view(path):
    try:
        match = resolve(path)
    except Resolver404:
        return False
    return match.view_name in JSON_URL_NAMES or bool(JSON_NAMESPACES.intersection(match.namespaces))


def wants_json(request):
    """True for API callers: an API path or view, X-Requested-With, or JSON preferred in Accept."""
    if request.path.startswith(tuple(oauthbff_settings.JSON_PATH_PREFIXES)):
        return True
    if request.headers.get("X-Requested-With"):
        return True
    accept = request.headers.get("Accept", "")
    preferred = (
        request.get_preferred_type(["text/html", "application/json"])
        if "application/json" in accept
        else None
    )
    return preferred == "application/json" or _is_json_view(request.path_info)


def login_url(next_url=None):
    url = reverse("oauthbff:login")
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


def error_page(request, title, message, *, status=400):
    """A clear page: what happened in one sentence, and a way to sign in again. Never echoes
    tokens."""
    return render(
        request,
        "oauthbff/error.html",
        {
            "title": title,
            "message": message,
            "retry_url": login_url(),
            "retry_label": "Try again",
        },
        status=status,
    )


def json_error(error, message, *, status, headers=None, **extra):
    """``{"error": ..., "message": ..., **extra}`` with ``status``, never cached."""
    response = JsonResponse({"error": error, "message": message, **extra}, status=status)
    response["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response[name] = value
    return response
