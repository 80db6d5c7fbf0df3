"""The FusionAuth API subset: an API key in ``Authorization`` (the raw key), JSON in and out,
FusionAuth's status codes (401 and 404 with empty bodies)."""

import functools
import json

from django.contrib.auth import authenticate
from django.contrib.auth.models import update_last_login
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from devidp import rules, search, services
from devidp.models import ApiKey, Key, Tenant, User, Webhook
from devidp.serializers import (
    application_json,
    key_json,
    registration_json,
    tenant_json,
    user_json,
    webhook_json,
)
from devidp.services import JSON, JSON_PATCH, MERGE_PATCH, ApiError, general_error
from devidp.tokens import login_api_token


def empty(status):
    return HttpResponse(status=status)


def api_view(methods, body_rules=None):
    """Check the API key and method, parse the JSON body, turn ApiError into FusionAuth's answer.

    ``body_rules`` maps a method to the rule set (devidp.rules) its body must pass before the
    view runs; a PATCH body is checked for types only, its result by the service once merged.
    The mapping stays on the view (``view.body_rules``) so a request can be checked without
    being made (the kickstart test does).
    """
    body_rules = body_rules or {}

    def decorator(view):
        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            key = request.headers.get("Authorization", "").strip()
            if not key or not ApiKey.objects.filter(key=key).exists():
                return empty(401)
            if request.method not in methods:
                response = empty(405)
                response["Allow"] = ", ".join(methods)
                return response
            try:
                request.json = _body(request)
                rule = body_rules.get(request.method)
                if rule is not None and isinstance(request.json, dict):
                    rules.check(rule, request.json, partial=request.method == "PATCH")
                result = view(request, *args, **kwargs)
            except ApiError as error:
                if error.body is None:
                    return empty(error.status)
                return JsonResponse(error.body, status=error.status)
            if result is None:
                return empty(200)
            if isinstance(result, HttpResponse):
                return result
            return JsonResponse(result)

        wrapper.body_rules = body_rules
        return wrapper

    return decorator


def _body(request):
    if request.method in ("GET", "DELETE", "HEAD") or not request.body:
        return {}
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        raise general_error("[invalidJSON]", "The request body is not valid JSON.") from None
    if not isinstance(body, dict) and not (
        isinstance(body, list) and request.method == "PATCH" and request.content_type == JSON_PATCH
    ):
        raise general_error("[invalidJSON]", "The request body must be a JSON object.")
    return body


def patch_mode(request, json_patch=False):
    content_type = request.content_type or JSON
    if content_type == MERGE_PATCH:
        return MERGE_PATCH
    if content_type == JSON_PATCH and json_patch:
        return JSON_PATCH
    if content_type == JSON:
        return JSON
    raise general_error(
        "[InvalidContentType]",
        "PATCH takes application/json, application/merge-patch+json or (registrations) "
        "application/json-patch+json.",
    )


@api_view(
    ["GET", "POST", "PUT", "PATCH", "DELETE"],
    {
        "POST": rules.REGISTER,
        "PUT": rules.UPDATE_REGISTRATION,
        "PATCH": rules.UPDATE_REGISTRATION,
    },
)
def registration(request, user_id=None, application_id=None):
    """/api/user/registration[/{userId}[/{applicationId}]]"""
    if user_id is not None:
        services.parse_uuid(user_id, "userId")
    if application_id is not None:
        services.parse_uuid(application_id, "applicationId")
    if request.method == "GET":
        found = services.get_registration(user_id, application_id) if application_id else None
        if found is None:
            raise ApiError(404)
        return {"registration": registration_json(found)}
    if request.method == "POST":
        return services.register(user_id, request.json, request)
    if request.method == "DELETE":
        if not application_id:
            raise ApiError(404)
        services.delete_registration(user_id, application_id, request)
        return None
    if user_id is None:
        raise ApiError(404)
    mode = None if request.method == "PUT" else patch_mode(request, json_patch=True)
    return services.update_registration(user_id, application_id, request.json, mode, request)


@api_view(["GET", "DELETE"])
def user(request, user_id=None):
    """GET /api/user/{userId} or /api/user?email=...; DELETE /api/user/{userId}."""
    if request.method == "DELETE":
        services.delete_user(user_id, request)
        return None
    if user_id:
        found = services.find_user(services.parse_uuid(user_id, "userId"))
    else:
        found = User.objects.filter(email=request.GET.get("email", "").lower()).first()
    if found is None:
        raise ApiError(404)
    registrations = list(found.registrations.select_related("application"))
    return {"user": {**user_json(found, registrations), "memberships": []}}


@api_view(["GET", "POST"], {"POST": rules.SEARCH})
def user_search(request):
    if request.method == "GET":
        criteria = {}
        if request.GET.getlist("ids"):
            criteria["ids"] = request.GET.getlist("ids")
        for name in ("queryString", "query", "numberOfResults", "startRow"):
            if name in request.GET:
                criteria[name] = request.GET[name]
        if "sortFields[0].name" in request.GET:
            criteria["sortFields"] = [
                {
                    "name": request.GET["sortFields[0].name"],
                    "order": request.GET.get("sortFields[0].order", "asc"),
                }
            ]
        expand = request.GET.getlist("expand") or None
        rules.check(rules.SEARCH, {"search": criteria, "expand": expand})
        return search.search_users(criteria, expand)
    expand = request.json.get("expand")
    return search.search_users(request.json.get("search"), expand)


@api_view(
    ["GET", "POST", "PUT", "PATCH"],
    {"POST": rules.TENANT, "PUT": rules.TENANT, "PATCH": rules.TENANT},
)
def tenant(request, tenant_id):
    if request.method == "GET":
        found = Tenant.objects.filter(pk=services.parse_uuid(tenant_id, "tenantId")).first()
        if found is None:
            raise ApiError(404)
        return {"tenant": tenant_json(found)}
    mode = patch_mode(request) if request.method == "PATCH" else None
    saved = services.save_tenant(tenant_id, request.json, mode, create=request.method == "POST")
    return {"tenant": tenant_json(saved)}


@api_view(
    ["GET", "POST", "PUT", "PATCH"],
    {"POST": rules.APPLICATION, "PUT": rules.APPLICATION, "PATCH": rules.APPLICATION},
)
def application(request, application_id):
    if request.method == "GET":
        found = services.find_application(application_id)
        if found is None:
            raise ApiError(404)
        return {"application": application_json(found)}
    mode = patch_mode(request) if request.method == "PATCH" else None
    saved = services.save_application(
        application_id,
        request.json,
        mode,
        create=request.method == "POST",
        tenant_id=request.headers.get("X-FusionAuth-TenantId"),
    )
    return {"application": application_json(saved)}


@api_view(
    ["GET", "POST", "PUT", "PATCH", "DELETE"],
    {"POST": rules.WEBHOOK, "PUT": rules.WEBHOOK, "PATCH": rules.WEBHOOK},
)
def webhook(request, webhook_id):
    if request.method in ("GET", "DELETE"):
        found = Webhook.objects.filter(pk=services.parse_uuid(webhook_id, "webhookId")).first()
        if found is None:
            raise ApiError(404)
        if request.method == "DELETE":
            found.delete()
            return None
        return {"webhook": webhook_json(found)}
    mode = patch_mode(request) if request.method == "PATCH" else None
    saved = services.save_webhook(webhook_id, request.json, mode, create=request.method == "POST")
    return {"webhook": webhook_json(saved)}


@api_view(["POST"], {"POST": rules.KEY_GENERATE})
def key_generate(request, key_id=None):
    return {"key": key_json(services.make_key(key_id, request.json))}


@api_view(["POST"], {"POST": rules.KEY_IMPORT})
def key_import(request, key_id=None):
    return {"key": key_json(services.make_key(key_id, request.json, imported=True))}


@api_view(["GET"])
def key_detail(request, key_id):
    found = Key.objects.filter(pk=services.parse_uuid(key_id, "keyId")).first()
    if found is None:
        raise ApiError(404)
    return {"key": key_json(found)}


@api_view(["GET", "DELETE"])
def refresh_tokens(request, token_id=None):
    """/api/jwt/refresh/{tokenId} and /api/jwt/refresh?userId=: the session (sid) API."""
    from devidp.sessions import refresh_token_json, revoke_sessions, sessions_for

    user_id, application_id = request.GET.get("userId"), request.GET.get("applicationId")
    token = request.GET.get("token") if request.method == "DELETE" else None
    if token_id:
        services.parse_uuid(token_id, "tokenId")
    elif not (user_id or token):
        raise services.field_error(
            "userId", "missing", "Give a tokenId in the URL, a userId or (DELETE) a token."
        )
    for value, name in ((user_id, "userId"), (application_id, "applicationId")):
        if value:
            services.parse_uuid(value, name)
    found = sessions_for(token_id, user_id, application_id, token)
    if request.method == "DELETE":
        if (token_id or token) and not found:
            raise ApiError(404)
        revoke_sessions(found)
        return None
    if token_id:
        if not found:
            raise ApiError(404)
        return {"refreshToken": refresh_token_json(found[0])}
    return {"refreshTokens": [refresh_token_json(t) for t in found]}


@api_view(["GET", "POST", "PUT", "PATCH", "DELETE"])
def not_found(request):
    """Any other API path: FusionAuth's empty 404 (after the API key check)."""
    raise ApiError(404)


@api_view(["POST"], {"POST": rules.LOGIN})
def login_api(request):
    """POST /api/login (FusionAuth's Login API): 200 with a JWT, 202 when not registered to the
    given application, 404 for an unknown user or a wrong password."""
    body = request.json
    login_id = body["loginId"].strip().lower()
    application = None
    if body.get("applicationId"):
        application = services.find_application(body["applicationId"])
        if application is None:
            raise services.field_error("applicationId", "invalid", "No application with that id.")
    user = authenticate(request, username=login_id, password=str(body["password"]))
    if user is None:
        raise ApiError(404)
    registrations = list(user.registrations.select_related("application"))
    update_last_login(None, user)
    answer = {"user": user_json(user, registrations)}
    if not body.get("noJWT"):
        answer["token"], answer["tokenExpirationInstant"] = login_api_token(application, user)
    if application is None:
        return answer
    registered = any(r.application_id == application.pk for r in registrations)
    return answer if registered else JsonResponse(answer, status=202)
