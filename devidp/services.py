"""The operations behind the FusionAuth API subset. Views and the kickstart both call these.

Every change that FusionAuth announces by webhook fires the event here, inside the transaction;
delivery happens after commit (see webhooks.fire).
"""

import copy
import secrets
import uuid

from django.db import transaction
from oauth2_provider.models import AbstractApplication

from devidp import keys, rules, webhooks
from devidp.config import REUSABLE
from devidp.errors import ApiError, field_error, general_error
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
TOKEN_KEY_IDS = ("accessTokenKeyId", "idTokenKeyId")
# FusionAuth's default tenant as installed (its issuer is "acme.com" until changed).
DEFAULT_TENANT_CONFIG = {
    "issuer": "acme.com",
    "jwtConfiguration": {
        "timeToLiveInSeconds": 3600,
        "refreshTokenTimeToLiveInMinutes": 43200,
        "refreshTokenExpirationPolicy": "Fixed",
        "refreshTokenUsagePolicy": REUSABLE,
    },
    "eventConfiguration": {"events": {}},
}


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


def canonical_id(value):
    """A UUID in FusionAuth's canonical form (lower case, hyphenated), else the value unchanged.

    FusionAuth parses ids as UUIDs, so ``E9FDB985-...`` and ``e9fdb985-...`` name the same object
    wherever an id is taken: URLs, bodies, ``client_id`` and HTTP Basic credentials.
    """
    try:
        return str(uuid.UUID(str(value).strip()))
    except (TypeError, ValueError, AttributeError):
        return value


def parse_uuid(value, field):
    """An id from a URL or a body; FusionAuth's ``[couldNotConvert]`` error when it is no UUID."""
    try:
        return uuid.UUID(str(value).strip())
    except (TypeError, ValueError, AttributeError):
        raise field_error(
            field,
            "couldNotConvert",
            f"Invalid {field} [{value}]. This must be a valid UUID String "
            "(e.g. 25a872da-bb44-4af8-a43d-e7bcb5351ebc).",
        ) from None


def find_user(user_id):
    try:
        return User.objects.filter(pk=uuid.UUID(str(user_id))).first()
    except (TypeError, ValueError):
        return None


def find_application(application_id):
    """The application (OAuth client) with this id, in any letter case, or None."""
    client_id = canonical_id(application_id)
    if not isinstance(client_id, str):
        return None
    return Application.objects.filter(client_id=client_id).first()


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
        user_id=user_pk, application__client_id=canonical_id(application_id)
    ).first()


def _application_id_from(body_registration, application_id):
    app_id = application_id or (body_registration or {}).get("applicationId")
    if not app_id:
        raise field_error(
            "registration.applicationId", "missing", "registration.applicationId is required."
        )
    return canonical_id(app_id)


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
    """POST /api/user/registration[/{userId}]: register a user, creating it when ``user`` is given.

    Without ``user`` the userId names an existing user (FusionAuth's empty 404 when there is
    none); with it, the user is created first (the combined create).
    """
    rules.check(rules.REGISTER, body)
    body_registration = body["registration"]
    application = find_application(body_registration["applicationId"])
    if application is None:
        raise field_error("registration.applicationId", "invalid", "No application with that id.")
    user_body = body.get("user")
    if user_id is not None:
        parse_uuid(user_id, "userId")
    user = find_user(user_id) if user_id else None
    if user is None and user_body is not None:
        user = create_user(user_id, user_body, application.tenant, request=request)
    elif user is None and user_id is None:
        raise field_error("user", "missing", "user is required when no userId is given.")
    if user is None:
        raise ApiError(404)
    if Registration.objects.filter(user=user, application=application).exists():
        raise field_error(
            "registration", "duplicate", "The user is already registered for this application."
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
    rules.check(rules.UPDATE_REGISTRATION, body, partial=mode is not None)
    body_registration = body["registration"]
    parse_uuid(user_id, "userId")
    app_id = _application_id_from(body_registration, application_id)
    parse_uuid(app_id, "applicationId")
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
    rules.check(rules.UPDATE_REGISTRATION, {"registration": values})
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
        registrations = registrations.filter(application__client_id=canonical_id(application_id))
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


def _check_key_ids(path, config, names):
    """Key ids in a configuration must name keys that exist (FusionAuth's ``[invalid]``)."""
    errors = rules.Errors()
    for name in names:
        key_id = (config or {}).get(name)
        if key_id and not Key.objects.filter(pk=parse_uuid(key_id, f"{path}.{name}")).exists():
            errors.add(f"{path}.{name}", "invalid", f"No key with the id {key_id}.")
    errors.raise_if_any()


@transaction.atomic
def save_tenant(tenant_id, body, mode=None, create=False):
    """POST, PUT or PATCH /api/tenant/{tenantId}; the result must be a valid tenant."""
    tenant_id = parse_uuid(tenant_id, "tenantId")
    rules.check(rules.TENANT, body, partial=mode is not None)
    tenant = Tenant.objects.select_for_update().filter(pk=tenant_id).first()
    values = body["tenant"]
    if tenant is None:
        if not create:
            raise ApiError(404)
        tenant = Tenant(id=tenant_id, name="", config=copy.deepcopy(DEFAULT_TENANT_CONFIG))
    elif create:
        raise field_error("tenantId", "duplicate", "A tenant with that id already exists.")
    current = {**tenant.config, "name": tenant.name}
    result = _merged(current, {k: v for k, v in values.items() if k != "id"}, mode)
    rules.check(rules.TENANT, {"tenant": result})
    _check_key_ids("tenant.jwtConfiguration", result.get("jwtConfiguration"), TOKEN_KEY_IDS)
    if Tenant.objects.filter(name=result["name"]).exclude(pk=tenant_id).exists():
        raise field_error("tenant.name", "duplicate", "A tenant with that name already exists.")
    tenant.name = result.pop("name")
    tenant.config = result
    tenant.last_update_instant = max(now_ms(), tenant.last_update_instant + 1)
    tenant.save()
    return tenant


def default_tenant(tenant_id=None):
    if tenant_id:
        return Tenant.objects.filter(pk=parse_uuid(tenant_id, "tenantId")).first()
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


def _roles(values, current, mode):
    roles = [dict(r) for r in values]
    if mode == JSON and current:
        names = {r.get("name") for r in current}
        roles = current + [r for r in roles if r.get("name") not in names]
    for role in roles:
        role.setdefault("id", str(uuid.uuid4()))
        role.setdefault("isDefault", False)
        role.setdefault("isSuperRole", False)
    return roles


@transaction.atomic
def save_application(application_id, body, mode=None, create=False, tenant_id=None):
    """POST, PUT or PATCH /api/application/{applicationId}; the result must be a valid application."""
    application_id = str(parse_uuid(application_id, "applicationId"))
    rules.check(rules.APPLICATION, body, partial=mode is not None)
    values = body["application"]
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
    ignored = ("id", "name", "roles", "tenantId")
    fields = {k: v for k, v in values.items() if k not in ignored}
    config = _merged(application.config, fields, mode)
    name = values.get("name") or (application.name if mode is not None else "")
    roles = application.roles
    if values.get("roles") is not None:
        roles = _roles(values["roles"], application.roles if application.pk else [], mode)
    rules.check(rules.APPLICATION, {"application": {**config, "name": name, "roles": roles}})
    _check_key_ids("application.jwtConfiguration", config.get("jwtConfiguration"), TOKEN_KEY_IDS)
    application.config = config
    application.name = name
    application.roles = roles
    _sync_application(application)
    application.last_update_instant = max(now_ms(), application.last_update_instant + 1)
    application.save()
    return application


@transaction.atomic
def save_webhook(webhook_id, body, mode=None, create=False):
    """POST, PUT or PATCH /api/webhook/{webhookId}; the result must be a valid webhook."""
    webhook_id = parse_uuid(webhook_id, "webhookId")
    rules.check(rules.WEBHOOK, body, partial=mode is not None)
    values = body["webhook"]
    webhook = Webhook.objects.select_for_update().filter(pk=webhook_id).first()
    if webhook is None:
        if not create:
            raise ApiError(404)
        webhook = Webhook(id=webhook_id)
    elif create:
        raise field_error("webhookId", "duplicate", "A webhook with that id already exists.")
    current = {**webhook.config, "url": webhook.url, "description": webhook.description}
    result = _merged(current, {k: v for k, v in values.items() if k != "id"}, mode)
    rules.check(rules.WEBHOOK, {"webhook": result})
    signing = result.get("signatureConfiguration") or {}
    if signing.get("enabled"):
        _check_key_ids("webhook.signatureConfiguration", signing, ("signingKeyId",))
    webhook.url = result.pop("url")
    webhook.description = result.pop("description", "") or ""
    webhook.config = result
    webhook.last_update_instant = max(now_ms(), webhook.last_update_instant + 1)
    webhook.save()
    return webhook


@transaction.atomic
def make_key(key_id, body, imported=False):
    """POST /api/key/generate or /api/key/import[/{keyId}].

    FusionAuth's rules first (rules.KEY_IMPORT / KEY_GENERATE); then what the development IdP
    can make: RSA key pairs it generates, HMAC keys it generates or imports.
    """
    key_id = parse_uuid(key_id, "keyId") if key_id else uuid.uuid4()
    rules.check(rules.KEY_IMPORT if imported else rules.KEY_GENERATE, body)
    values = body["key"]
    if Key.objects.filter(pk=key_id).exists():
        raise field_error("keyId", "duplicate", "A key with that id already exists.")
    name = values["name"].strip()
    if Key.objects.filter(name=name).exists():
        raise field_error("key.name", "duplicate", "A key with that name already exists.")
    algorithm = values.get("algorithm") or ""
    if imported and values.get("type") == "HMAC":
        return keys.create_hmac(key_id, name, algorithm or Key.HS256, values["secret"])
    if not imported and algorithm.startswith("HS"):
        return keys.create_hmac(key_id, name, algorithm)
    if not imported and algorithm.startswith("RS"):
        return keys.generate_rsa(key_id, name, int(values["length"]), algorithm)
    raise general_error(
        "[NotImplemented]",
        "The development IdP generates RSA and HMAC keys and imports HMAC keys only; "
        "FusionAuth itself also takes EC, OKP and imported key pairs.",
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
