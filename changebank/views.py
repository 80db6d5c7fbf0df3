"""ChangeBank's endpoints: a JSON API (session or bearer token) and two small pages for no-JS use."""

from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.views.decorators.http import (
    require_GET,
    require_http_methods,
    require_POST,
    require_safe,
)

from changebank.money import InvalidAmount, make_change
from oauthbff.resource import require_token
from oauthbff.sessions import session_roles

CHANGE_ROLES = ("customer", "teller")
PANIC_ROLES = ("teller",)
PANIC_MESSAGE = "We've called the police!"
NO_CHANGE_ROLE = "Making change needs a customer or teller account; yours has neither."
NO_PANIC_ROLE = "Only tellers can raise the alarm. Nobody was alerted."


def _user_roles(request):
    return set(session_roles(request))


@require_http_methods(["GET", "HEAD"])
@require_token(roles=CHANGE_ROLES)
def make_change_api(request):
    """GET /api/make-change?total=3.24 -> {"total": 3.24, "nickels": 64, "pennies": 4}."""
    try:
        change = make_change(request.GET.get("total"))
    except InvalidAmount as exc:
        return JsonResponse(
            {"error": "invalid_total", "parameter": "total", "message": str(exc)}, status=400
        )
    return JsonResponse(change.as_json())


@require_POST
@require_token(roles=PANIC_ROLES)
def panic_api(request):
    """POST /api/panic: tellers only (a POST because calling the police is not idempotent).

    The page's script asks the person to confirm before it posts; API clients confirm by posting.
    """
    return JsonResponse({"message": PANIC_MESSAGE})


@require_GET
@login_required
def make_change_page(request):
    """The no-JS form's target: the same computation, shown as a page."""
    context = {"total": request.GET.get("total", "")}
    if not _user_roles(request).intersection(CHANGE_ROLES):
        context.update(error_title="You can't make change", error=NO_CHANGE_ROLE)
        return render(request, "changebank/result.html", context, status=403)
    try:
        context["change"] = make_change(context["total"])
    except InvalidAmount as exc:
        context.update(error_title="Check the amount", error=str(exc), show_form=True)
        return render(request, "changebank/result.html", context, status=400)
    return render(request, "changebank/result.html", context)


@require_POST
@login_required
def panic_page(request):
    """The no-JS Panic button's target: a confirmation first, the alarm only once confirmed.

    Both steps are CSRF-protected POSTs; the first changes nothing, so a stray click calls nobody.
    """
    if not _user_roles(request).intersection(PANIC_ROLES):
        return render(request, "changebank/panic.html", {"refused": NO_PANIC_ROLE}, status=403)
    if request.POST.get("confirm") != "yes":
        return render(request, "changebank/panic.html", {})
    return render(request, "changebank/panic.html", {"sent": PANIC_MESSAGE})


@require_safe
def favicon(request):
    """/favicon.ico, which browsers ask for on answers that name no icon (JSON, files)."""
    return redirect(static("favicon.svg"), permanent=True)
