"""The operations behind the FusionAuth API subset. Views and the kickstart both call these.

Every change that FusionAuth announces by webhook fires the event here, inside the transaction;
delivery happens after commit (see webhooks.fire).
"""

import copy
import secrets
import uuid

from django.db import transaction
from oauth2_provider.models import AbstractApplication

from devidp import keys, webhooks
from devidp.config import REUSABLE
from devidp.models import Application, Key, Registration, Tenant, User, Webhook, now_ms
from devidp.serializers import registration_json, user_json

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
REGISTRATION_FIELDS = {
    "data": "data",
    "roles": "roles",
    "username": "username",
    "timezone": "timezone",
    "preferredLanguages": "preferred_languages",
}
DEFAULT_TENANT_CONFIG = {
    "jwtConfiguration": {
        "timeToLiveInSeconds": 3600,
        "refreshTokenTimeToLiveInMinutes": 43200,
        "refreshTokenExpirationPolicy": "Fixed",
        "refreshTokenUsagePolicy": REUSABLE,
    },
    "eventConfiguration": {"events": {}},
}


class ApiError(Exception):
    """A FusionAuth API error: a status and an optional Errors body."""

    def __init__(self, status, body=None):
        super().__init__(status)
        self.status = status
        self.body = body


def field_error(field, code, message):
    return ApiError(
        400, {"fieldErrors": {field: [{"code": f"[{code}]{field}", "message": message}]}}
    )


def general_error(code, message):
    return ApiError(400, {"generalErrors": [{"code": code, "message": message}]})


def merge(target, patch, mode=JSON):
    """PATCH semantics. ``null`` deletes a key; objects merge recursively. Arrays are replaced
    by merge-patch (RFC 7396) and appended by FusionAuth's original application/json PATCH."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            result[key] = merge(result.get(key), value, mode)
        elif isinstance(value, list) and mode == JSON and isinstance(result.get(key), list):
            result[key] = result[key] + [v for v in value if v not in result[key]]
        else:
            result[key] = copy.deepcopy(value)
    return result


def parse_uuid(value, field):
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        raise field_error(field, "invalid", f"{field} must be a UUID.") from None


def find_user(user_id):
    try:
        return User.objects.filter(pk=uuid.UUID(str(user_id))).first()
    except (TypeError, ValueError):
        return None


def find_application(application_id):
    return Application.objects.filter(client_id=str(application_id).lower()).first()


def get_registration(user_id, application_id, lock=False):
    """The registration, or None for an unknown user, application or registration (FA's 404)."""
    try:
        user_pk = uuid.UUID(str(user_id))
    except (TypeError, ValueError):
        return None
    queryset = Registration.objects.select_related("user", "application")
    if lock:
        queryset = queryset.select_for_update()
    return queryset.filter(
        user_id=user_pk, application__client_id=str(application_id).lower()
    ).first()


def _application_id_from(body_registration, application_id):
    app_id = application_id or (body_registration or {}).get("applicationId")
    if not app_id:
        raise field_error(
            "registration.applicationId", "blank", "registration.applicationId is required."
        )
    return str(app_id).lower()


def _check_roles(application, roles):
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise field_error(
            "registration.roles", "invalid", "registration.roles must be a list of names."
        )
    known = {role.get("name") for role in application.roles}
    unknown = sorted(set(roles) - known)
    if unknown:
        raise field_error(
            "registration.roles",
            "invalid",
            f"Unknown roles for this application: {', '.join(unknown)}.",
        )
    return sorted(set(roles))


def _apply_registration_fields(registration, values):
    for name, attr in REGISTRATION_FIELDS.items():
        if name not in values:
            continue
        value = values[name]
        if name == "data":
            if not isinstance(value, dict):
                raise field_error(
                    "registration.data", "invalid", "registration.data must be an object."
                )
            value = {k: v for k, v in value.items() if v is not None}
        elif name == "roles":
            value = _check_roles(registration.application, value or [])
        elif name == "preferredLanguages":
            value = list(value or [])
        else:
            value = value or ""
        setattr(registration, attr, value)


def _registration_event(event_type, registration, original=None, request=None):
    payload = {
        "applicationId": registration.application.client_id,
        "registration": registration_json(registration),
        "user": user_json(registration.user),
    }
    if original is not None:
        payload["original"] = original
    webhooks.fire(event_type, registration.application.tenant_id, payload, request)


def _registration_response(registration):
    return {"registration": registration_json(registration), "user": user_json(registration.user)}


@transaction.atomic
def register(user_id, body, request=None):
    """POST /api/user/registration[/{userId}]: register a user, creating it when ``user`` is given."""
    body_registration = body.get("registration")
    if not isinstance(body_registration, dict):
        raise field_error("registration", "blank", "registration is required.")
    application = find_application(_application_id_from(body_registration, None))
    if application is None:
        raise field_error("registration.applicationId", "invalid", "No application with that id.")
    user_body = body.get("user")
    user = find_user(user_id) if user_id else None
    if user is None and isinstance(user_body, dict):
        user = create_user(user_id, user_body, application.tenant, request=request)
    elif user is None and user_body is None and user_id is None:
        raise field_error("user", "blank", "user is required when no userId is given.")
    if user is None:
        raise field_error("userId", "invalid", "No user with that id.")
    if Registration.objects.filter(user=user, application=application).exists():
        raise field_error(
            "registration.applicationId", "duplicate", "The user is already registered to it."
        )
    registration = Registration(user=user, application=application)
    _apply_registration_fields(registration, body_registration)
    if body_registration.get("id"):
        registration.id = parse_uuid(body_registration["id"], "registration.id")
    registration.save()
    _registration_event("user.registration.create", registration, request=request)
    return _registration_response(registration)


def create_user(user_id, user_body, tenant, request=None):
    email = (user_body.get("email") or "").strip().lower()
    if not email or "@" not in email:
        raise field_error("user.email", "blank", "user.email is required.")
    if User.objects.filter(email=email).exists():
        raise field_error("user.email", "duplicate", "A user with that e-mail already exists.")
    user = User(
        email=email,
        tenant=tenant,
        first_name=user_body.get("firstName") or "",
        last_name=user_body.get("lastName") or "",
        username=user_body.get("username") or "",
        birth_date=user_body.get("birthDate") or "",
        data=user_body.get("data") or {},
        verified=bool(user_body.get("verified", True)),
    )
    if user_id:
        user.id = parse_uuid(user_id, "userId")
    password = user_body.get("password")
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    return user


@transaction.atomic
def update_registration(user_id, application_id, body, mode=None, request=None):
    """PUT (``mode`` None: replace) or PATCH (``mode``: content type) of one registration."""
    if mode == JSON_PATCH:
        return _json_patch_registration(user_id, application_id, body, request)
    body_registration = body.get("registration")
    if not isinstance(body_registration, dict):
        raise field_error("registration", "blank", "registration is required.")
    app_id = _application_id_from(body_registration, application_id)
    registration = get_registration(user_id, app_id, lock=True)
    if registration is None:
        raise ApiError(404)
    original = registration_json(registration)
    if mode is None:
        values = {"data": {}, "roles": [], "username": "", "timezone": "", "preferredLanguages": []}
        values.update(body_registration)
    else:
        current = {name: original.get(name) for name in REGISTRATION_FIELDS}
        current = {k: v for k, v in current.items() if v is not None}
        values = merge(current, body_registration, mode)
        for name in REGISTRATION_FIELDS:
            if name in body_registration and body_registration[name] is None:
                values[name] = (
                    []
                    if name in ("roles", "preferredLanguages")
                    else ({} if name == "data" else "")
                )
    _apply_registration_fields(registration, values)
    registration.touch()
    registration.save()
    _registration_event("user.registration.update", registration, original, request)
    return _registration_response(registration)


def _json_patch_registration(user_id, application_id, operations, request):
    """RFC 6902: the operations address the request shape, e.g. /registration/data/userData."""
    from devidp import jsonpatch

    if not application_id:
        raise field_error(
            "applicationId", "blank", "JSON Patch needs the applicationId in the URL."
        )
    registration = get_registration(user_id, application_id, lock=True)
    if registration is None:
        raise ApiError(404)
    current = registration_json(registration)
    document = {"registration": {name: current.get(name) for name in REGISTRATION_FIELDS}}
    patched = jsonpatch.apply(document, operations).get("registration")
    if not isinstance(patched, dict):
        raise general_error("[InvalidJSONPatch]", "The patch removed the registration.")
    patched["applicationId"] = registration.application.client_id
    return update_registration(user_id, application_id, {"registration": patched}, None, request)


@transaction.atomic
def delete_registration(user_id, application_id, request=None):
    registration = get_registration(user_id, application_id, lock=True)
    if registration is None:
        raise ApiError(404)
    _registration_event("user.registration.delete", registration, request=request)
    registration.delete()


@transaction.atomic
def delete_user(user_id, request=None):
    user = find_user(user_id)
    if user is None:
        raise ApiError(404)
    webhooks.fire(
        "user.delete",
        user.tenant_id,
        {"user": user_json(user, list(user.registrations.select_related("application")))},
        request,
    )
    user.delete()


def set_registration_data(email, data, application_id=None, request=None):
    """Merge ``data`` into a user's registration.data from the IdP side (fires the webhook)."""
    user = User.objects.filter(email=email.strip().lower()).first()
    if user is None:
        raise field_error("email", "invalid", f"No user with e-mail {email}.")
    registrations = user.registrations.select_related("application")
    if application_id:
        registrations = registrations.filter(application__client_id=str(application_id).lower())
    registration = registrations.order_by("insert_instant").first()
    if registration is None:
        raise field_error("registration", "invalid", f"{email} has no such registration.")
    return update_registration(
        user.id,
        registration.application.client_id,
        {"registration": {"data": data}},
        mode=MERGE_PATCH,
        request=request,
    )


# --- configuration objects ---------------------------------------------------------------------


def _merged(config, body, mode):
    return body if mode is None else merge(config, body, mode)


@transaction.atomic
def save_tenant(tenant_id, body, mode=None, create=False):
    tenant_id = parse_uuid(tenant_id, "tenantId")
    tenant = Tenant.objects.select_for_update().filter(pk=tenant_id).first()
    values = body.get("tenant")
    if not isinstance(values, dict):
        raise field_error("tenant", "blank", "tenant is required.")
    if tenant is None:
        if not create:
            raise ApiError(404)
        tenant = Tenant(
            id=tenant_id,
            name=values.get("name") or "Default",
            config=copy.deepcopy(DEFAULT_TENANT_CONFIG),
        )
    elif create:
        raise field_error("tenantId", "duplicate", "A tenant with that id already exists.")
    config = _merged(tenant.config, {k: v for k, v in values.items() if k != "name"}, mode)
    config.pop("id", None)
    tenant.config = config
    tenant.name = values.get("name") or tenant.name
    tenant.last_update_instant = max(now_ms(), tenant.last_update_instant + 1)
    tenant.save()
    return tenant


def default_tenant(tenant_id=None):
    if tenant_id:
        return Tenant.objects.filter(pk=tenant_id).first()
    return Tenant.objects.order_by("insert_instant").first()


def _sync_application(application):
    """Derive django-oauth-toolkit's fields from FusionAuth's oauthConfiguration."""
    oauth = application.config.setdefault("oauthConfiguration", {})
    secret = oauth.pop("clientSecret", None)
    if secret:
        application.client_secret = secret
    elif not application.client_secret:
        application.client_secret = secrets.token_urlsafe(32)
    redirects = [u for u in oauth.get("authorizedRedirectURLs", []) if isinstance(u, str)]
    application.redirect_uris = " ".join(redirects)
    logout_urls = redirects + ([oauth["logoutURL"]] if oauth.get("logoutURL") else [])
    application.post_logout_redirect_uris = " ".join(logout_urls)
    application.allowed_origins = " ".join(oauth.get("authorizedOriginURLs", []))
    policy = oauth.get("clientAuthenticationPolicy", "Required")
    application.client_type = (
        AbstractApplication.CLIENT_CONFIDENTIAL
        if policy == "Required"
        else AbstractApplication.CLIENT_PUBLIC
    )
    application.authorization_grant_type = AbstractApplication.GRANT_AUTHORIZATION_CODE
    application.algorithm = AbstractApplication.RS256_ALGORITHM
    application.skip_authorization = True
    application.hash_client_secret = False


@transaction.atomic
def save_application(application_id, body, mode=None, create=False, tenant_id=None):
    application_id = str(parse_uuid(application_id, "applicationId"))
    values = body.get("application")
    if not isinstance(values, dict):
        raise field_error("application", "blank", "application is required.")
    application = Application.objects.select_for_update().filter(client_id=application_id).first()
    if application is None:
        if not create:
            raise ApiError(404)
        tenant = default_tenant(values.get("tenantId") or tenant_id)
        if tenant is None:
            raise field_error("application.tenantId", "invalid", "No such tenant.")
        application = Application(client_id=application_id, tenant=tenant, config={})
    elif create:
        raise field_error(
            "applicationId", "duplicate", "An application with that id already exists."
        )
    fields = {k: v for k, v in values.items() if k not in ("id", "name", "roles", "tenantId")}
    application.config = _merged(application.config, fields, mode)
    if mode is None and application.pk:
        application.config.setdefault("oauthConfiguration", {})
    if values.get("name"):
        application.name = values["name"]
    if "roles" in values and values["roles"] is not None:
        roles = [r if isinstance(r, dict) else {"name": str(r)} for r in values["roles"]]
        if mode == JSON and application.pk:
            names = {r.get("name") for r in application.roles}
            roles = application.roles + [r for r in roles if r.get("name") not in names]
        for role in roles:
            role.setdefault("id", str(uuid.uuid4()))
            role.setdefault("isDefault", False)
            role.setdefault("isSuperRole", False)
        application.roles = roles
    _sync_application(application)
    application.last_update_instant = max(now_ms(), application.last_update_instant + 1)
    application.save()
    return application


@transaction.atomic
def save_webhook(webhook_id, body, mode=None, create=False):
    webhook_id = parse_uuid(webhook_id, "webhookId")
    values = body.get("webhook")
    if not isinstance(values, dict):
        raise field_error("webhook", "blank", "webhook is required.")
    webhook = Webhook.objects.select_for_update().filter(pk=webhook_id).first()
    if webhook is None:
        if not create:
            raise ApiError(404)
        webhook = Webhook(id=webhook_id)
    elif create:
        raise field_error("webhookId", "duplicate", "A webhook with that id already exists.")
    fields = {k: v for k, v in values.items() if k not in ("id", "url", "description")}
    webhook.config = _merged(webhook.config, fields, mode)
    webhook.url = values.get("url") or webhook.url
    if not webhook.url:
        raise field_error("webhook.url", "blank", "webhook.url is required.")
    webhook.description = values.get("description", webhook.description) or ""
    webhook.last_update_instant = max(now_ms(), webhook.last_update_instant + 1)
    webhook.save()
    return webhook


@transaction.atomic
def make_key(key_id, body, imported=False):
    key_id = parse_uuid(key_id, "keyId") if key_id else uuid.uuid4()
    values = body.get("key")
    if not isinstance(values, dict):
        raise field_error("key", "blank", "key is required.")
    if Key.objects.filter(pk=key_id).exists():
        raise field_error("keyId", "duplicate", "A key with that id already exists.")
    algorithm = values.get("algorithm", "")
    name = values.get("name") or f"{algorithm} key"
    if algorithm.startswith("HS"):
        secret = values.get("secret") if imported else None
        if imported and not secret:
            raise field_error(
                "key.secret", "blank", "key.secret is required to import an HMAC key."
            )
        return keys.create_hmac(key_id, name, algorithm, secret)
    if algorithm == Key.RS256 and not imported:
        length = int(values.get("length") or 2048)
        if length not in (2048, 3072, 4096):
            raise field_error("key.length", "invalid", "key.length must be 2048, 3072 or 4096.")
        return keys.generate_rsa(key_id, name, length)
    raise field_error(
        "key.algorithm", "invalid", "Supported: generate RS256, generate/import HS256."
    )


@transaction.atomic
def save_registration(registration, request=None):
    """Save a registration edited elsewhere (the admin), announcing it like an API change."""
    created = registration._state.adding
    original = None
    if not created:
        stored = Registration.objects.select_for_update().select_related("user", "application")
        original = registration_json(stored.get(pk=registration.pk))
    registration.data = {k: v for k, v in (registration.data or {}).items() if v is not None}
    registration.roles = _check_roles(registration.application, registration.roles or [])
    registration.touch()
    registration.save()
    if created:
        _registration_event("user.registration.create", registration, request=request)
    else:
        _registration_event("user.registration.update", registration, original, request)
