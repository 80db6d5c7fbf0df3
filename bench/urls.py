"""The product's URLs plus /bench/session/, the floor the warm home page is measured against."""

from django.http import HttpResponse
from django.urls import include, path
from django.views.decorators.cache import never_cache


@never_cache
def session_only(request):
    """Read the session (as every signed-in page must) and nothing else."""
    signed_in = bool(request.session.get("_auth_user_id"))
    return HttpResponse(
        "signed in" if signed_in else "anonymous", content_type="text/plain; charset=utf-8"
    )


urlpatterns = [
    path("bench/session/", session_only, name="bench-session"),
    path("", include("bffproject.urls")),
]
