"""Development-only endpoints: counters for tests and benchmarks, and a back-channel logout token."""

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from devidp.models import TokenCall
from devidp.services import find_application
from devidp.tokens import backchannel_logout_token

GRANTS = ("authorization_code", "refresh_token")


@require_GET
def stats(request):
    """GET /_dev/stats: token endpoint calls per grant type (shared by every server process)."""
    counts = dict.fromkeys(GRANTS, 0)
    counts.update(dict(TokenCall.objects.values_list("grant_type", "count")))
    return JsonResponse({"token_calls": counts})


@csrf_exempt
@require_POST
def reset_stats(request):
    TokenCall.objects.all().delete()
    return stats_response()


def stats_response():
    return JsonResponse({"token_calls": dict.fromkeys(GRANTS, 0)})


@require_GET
def logout_token(request):
    """GET /_dev/logout-token?aud=&sub=&sid=: a back-channel logout token signed with the IdP's key."""
    application = find_application(request.GET.get("aud", ""))
    if application is None:
        return JsonResponse(
            {"error": "invalid_request", "error_description": "Unknown aud."}, status=400
        )
    sub, sid = request.GET.get("sub", ""), request.GET.get("sid", "")
    if not sub and not sid:
        return JsonResponse(
            {"error": "invalid_request", "error_description": "Give sub, sid or both."}, status=400
        )
    return JsonResponse({"logout_token": backchannel_logout_token(application, sub, sid)})
