"""ChangeBank's endpoints: a JSON API (session or bearer token) and two small pages for no-JS use."""

from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from changebank.money import InvalidAmount, make_change
from oauthbff.resource import require_token
from oauthbff.sessions import session_roles

CHANGE_ROLES = ("customer", "teller")
PANIC_ROLES = ("teller",)
PANIC_MESSAGE = "We've called the police!"


def _user_roles(request):
    return set(session_roles(request))


@require_http_methods(["GET", "HEAD"])
@require_token(roles=CHANGE_ROLES)
def make_change_api(request):
    """GET /api/make-change?total=3.24 -> {"total": 3.24, "nickels": 64, "pennies": 4}."""
    try:
        change = make_change(request.GET.get("total"))
    except InvalidAmount as exc:
        return JsonResponse({"error": "invalid_total", "message": str(exc)}, status=400)
    return JsonResponse(change.as_json())


@require_POST
@require_token(roles=PANIC_ROLES)
def panic_api(request):
    """POST /api/panic: tellers only (a POST because calling the police is not idempotent)."""
    return JsonResponse({"message": PANIC_MESSAGE})


@require_GET
@login_required
def make_change_page(request):
    """The no-JS form's target: the same computation, shown as a page."""
    context = {"total": request.GET.get("total", "")}
    if not _user_roles(request).intersection(CHANGE_ROLES):
        context["error"] = "You need the customer or teller role to make change."
        return render(request, "changebank/result.html", context, status=403)
    try:
        context["change"] = make_change(context["total"])
    except InvalidAmount as exc:
        context["error"] = str(exc)
        return render(request, "changebank/result.html", context, status=400)
    return render(request, "changebank/result.html", context)


@require_POST
@login_required
def panic_page(request):
    """The no-JS Panic button's target (CSRF-protected like every form post)."""
    if not _user_roles(request).intersection(PANIC_ROLES):
        context = {"error": "Only tellers can call the police."}
        return render(request, "changebank/result.html", context, status=403)
    return render(request, "changebank/result.html", {"panic_message": PANIC_MESSAGE})
