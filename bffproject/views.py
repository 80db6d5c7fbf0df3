"""The demo's home page: the greeting and the user-data field (userdata's inclusion tag)."""

from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe


@require_safe
@never_cache
def home(request):
    """Served from the mirror: no IdP call (a stale mirror gets a pull queued by the field)."""
    return render(request, "home.html")
