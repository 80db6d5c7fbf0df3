"""How oauthbff answers when something goes wrong: a friendly page for people, JSON for APIs."""

from urllib.parse import urlencode

from django.http import JsonResponse
from django.shortcuts import render
from django.urls import reverse

JSON_PATH_PREFIXES = ("/api/", "/bff/api/", "/auth/user/", "/auth/refresh/")


def wants_json(request):
    """True for API callers: JSON preferred in Accept, X-Requested-With, or an API path."""
    if request.path.startswith(JSON_PATH_PREFIXES):
        return True
    if request.headers.get("X-Requested-With"):
        return True
    accept = request.headers.get("Accept", "")
    if "application/json" in accept:
        return request.get_preferred_type(["text/html", "application/json"]) == "application/json"
    return False


def login_url(next_url=None):
    url = reverse("oauthbff:login")
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


def error_page(request, title, message, *, status=400, retry_url=None, retry_label="Try again"):
    """A clear page: what happened in one sentence, and a way to try again. Never echoes tokens."""
    return render(
        request,
        "oauthbff/error.html",
        {
            "title": title,
            "message": message,
            "retry_url": retry_url or login_url(),
            "retry_label": retry_label,
        },
        status=status,
    )


def json_error(error, message, *, status, **extra):
    response = JsonResponse({"error": error, "message": message, **extra}, status=status)
    response["Cache-Control"] = "no-store"
    return response
