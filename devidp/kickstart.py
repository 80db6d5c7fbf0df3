"""Load kickstart/kickstart.json, FusionAuth's Kickstart format, and carry out the requests the
development IdP understands by dispatching them through its own HTTP API views."""

import json
import os
import re
import uuid
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.test import RequestFactory
from django.urls import Resolver404, resolve

from devidp import rules, services
from devidp.models import ApiKey, Application, Registration, Tenant, User, Webhook
from devidp.views import api

FUSIONAUTH_APPLICATION_ID = "3c219e58-ed0e-4b18-ad48-f4f92793ae32"  # FusionAuth's admin app
VARIABLE = re.compile(r"#\{([^}]+)\}")


class KickstartError(Exception):
    pass


def read(path=None):
    path = path or settings.DEVIDP["KICKSTART_FILE"]
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except OSError as exc:
        raise KickstartError(f"Cannot read {path}: {exc.strerror}.") from None
    except ValueError as exc:
        raise KickstartError(f"{path} is not valid JSON: {exc}.") from None


def substitute(value, variables):
    """Replace #{name}, #{ENV.NAME} and #{UUID()} in every string of a JSON value."""
    if isinstance(value, dict):
        return {k: substitute(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, variables) for v in value]
    if not isinstance(value, str):
        return value

    def replace(match):
        name = match.group(1)
        if name == "UUID()":
            return str(uuid.uuid4())
        if name.startswith("ENV."):
            return os.environ.get(name[4:], "")
        if name not in variables:
            raise KickstartError(f"Unknown kickstart variable #{{{name}}}.")
        return str(variables[name])

    return VARIABLE.sub(replace, value)


def variables_of(document):
    """The kickstart variables, each evaluated once (so #{UUID()} is stable within one run).

    DEVIDP_URL and DEVIDP_BFF_URL replace ``issuer`` and ``bffUrl``: the IdP and the BFF may run
    on other ports than the demo's. ``webhookUrl`` is where FusionAuth *in Docker* reaches the BFF
    (host.docker.internal); the development IdP runs beside the BFF, so it uses ``bffUrl``.
    """
    variables = {"FUSIONAUTH_APPLICATION_ID": FUSIONAUTH_APPLICATION_ID}
    for name, raw in document.get("variables", {}).items():
        variables[name] = substitute(raw, variables)
    variables["issuer"] = settings.DEVIDP["URL"]
    if settings.DEVIDP["BFF_URL"]:
        variables["bffUrl"] = settings.DEVIDP["BFF_URL"]
    variables["webhookUrl"] = f"{variables.get('bffUrl', '')}/webhooks/fusionauth/"
    variables.setdefault(
        "FUSIONAUTH_TENANT_ID", variables.get("defaultTenantId", str(uuid.uuid4()))
    )
    return variables


def already_done():
    """FusionAuth runs a kickstart only on a pristine instance; so does the development IdP."""
    return ApiKey.objects.exists()


@transaction.atomic
def run(document, log=print):
    """Carry out the kickstart on an empty database; returns the evaluated variables."""
    variables = variables_of(document)
    tenant = Tenant.objects.create(
        id=variables["FUSIONAUTH_TENANT_ID"],
        name="Default",
        config=json.loads(json.dumps(services.DEFAULT_TENANT_CONFIG)),
    )
    services.save_application(
        FUSIONAUTH_APPLICATION_ID,
        {"application": {"name": "FusionAuth", "roles": [{"name": "admin", "isSuperRole": True}]}},
        create=True,
        tenant_id=str(tenant.id),
    )
    api_keys = substitute(document.get("apiKeys", []), variables)
    for entry in api_keys:
        ApiKey.objects.create(
            key=entry["key"],
            description=entry.get("description", ""),
            permissions=entry.get("permissions", {}),
            tenant_id=entry.get("tenantId"),
        )
    if not api_keys:
        raise KickstartError("The kickstart defines no apiKeys; the API needs one.")
    key = api_keys[0]["key"]
    factory = RequestFactory()
    for number, raw in enumerate(document.get("requests", []), start=1):
        request_spec = substitute(raw, variables)
        _dispatch(factory, key, number, request_spec, log)
    _grant_admin_site_access()
    return variables


def check(document):
    """Check every request of a kickstart against FusionAuth's rules, without making any.

    Returns ``(number, method, path, problem)`` per request; ``problem`` is None when the body
    passes, FusionAuth's Errors object when it would be refused, or a sentence when the
    development IdP has no rules for that API (it does not serve it). A real FusionAuth stops at
    the first failed request and runs the kickstart again only on an empty database, so this
    is worth running before ``docker compose up``.
    """
    variables = variables_of(document)
    results = []
    for number, raw in enumerate(document.get("requests", []), start=1):
        spec = substitute(raw, variables)
        method = spec.get("method", "POST").upper()
        path = "/" + urlsplit(spec.get("url", "")).path.lstrip("/")
        try:
            match = resolve(path)
        except Resolver404:
            match = None
        body_rules = getattr(match.func, "body_rules", {}) if match else {}
        rule = body_rules.get(method)
        problem = None
        if rule is None:
            problem = "not checked: the development IdP has no rules for this API"
        elif spec.get("contentType", "application/json") != services.JSON_PATCH:
            try:
                rules.check(rule, spec.get("body", {}), partial=method == "PATCH")
                if match.func is api.tenant and method == "PATCH":
                    _check_patched_default_tenant(spec.get("body", {}))
            except services.ApiError as error:
                problem = error.body
        results.append((number, method, path, problem))
    return results


def _check_patched_default_tenant(body):
    """A fresh FusionAuth has one object to PATCH, the default tenant: check the result too."""
    default = {"name": "Default", **json.loads(json.dumps(services.DEFAULT_TENANT_CONFIG))}
    patched = services.merge(default, body.get("tenant") or {})
    rules.check(rules.TENANT, {"tenant": patched})


def _dispatch(factory, key, number, spec, log):
    method = spec.get("method", "POST").upper()
    url = spec.get("url", "")
    path = "/" + urlsplit(url).path.lstrip("/")
    try:
        match = resolve(path)
    except Resolver404:
        match = None
    if match is None or match.func is api.not_found:
        log(f"  request {number}: {method} {path} skipped (not used by the development IdP)")
        return
    headers = {"HTTP_AUTHORIZATION": key}
    if spec.get("tenantId"):
        headers["HTTP_X_FUSIONAUTH_TENANTID"] = spec["tenantId"]
    query = urlsplit(url).query
    request = factory.generic(
        method,
        path + (f"?{query}" if query else ""),
        data=json.dumps(spec.get("body", {})),
        content_type=spec.get("contentType", "application/json"),
        **headers,
    )
    response = match.func(request, *match.args, **match.kwargs)
    if response.status_code >= 300:
        detail = response.content.decode(errors="replace")[:500]
        raise KickstartError(
            f"Request {number} ({method} {path}) failed: {response.status_code} {detail}"
        )


def _grant_admin_site_access():
    """Users with the ``admin`` role may use this IdP's own Django admin."""
    admin_ids = [
        registration.user_id
        for registration in Registration.objects.all()
        if "admin" in registration.roles
    ]
    User.objects.filter(pk__in=admin_ids).update(is_staff=True, is_superuser=True)


def apply_start_overrides(log=print, document=None):
    """Settings from the environment, applied at every start: DEVIDP_BFF_URL registers that BFF's
    callback, home and webhook URLs; DEVIDP_ACCESS_TOKEN_TTL / DEVIDP_REFRESH_POLICY override the
    stored JWT settings."""
    _register_bff(log, document)
    ttl = settings.DEVIDP["ACCESS_TOKEN_TTL"]
    policy = settings.DEVIDP["REFRESH_POLICY"]
    jwt = {}
    if ttl:
        try:
            jwt["timeToLiveInSeconds"] = max(1, int(ttl))
        except ValueError:
            raise KickstartError("DEVIDP_ACCESS_TOKEN_TTL must be a number of seconds.") from None
    if policy:
        if policy not in ("Reusable", "OneTimeUse"):
            raise KickstartError("DEVIDP_REFRESH_POLICY must be Reusable or OneTimeUse.")
        jwt["refreshTokenUsagePolicy"] = policy
    if not jwt:
        return
    body = {"jwtConfiguration": jwt}
    for tenant in Tenant.objects.all():
        services.save_tenant(tenant.id, {"tenant": body}, services.MERGE_PATCH)
    for application in Application.objects.all():
        if application.config.get("jwtConfiguration", {}).get("enabled"):
            services.save_application(
                application.client_id, {"application": body}, services.MERGE_PATCH
            )
    log(f"  JWT settings overridden from the environment: {jwt}")


def _register_bff(log, document):
    bff = settings.DEVIDP["BFF_URL"]
    if not bff:
        return
    variables = variables_of(document or read())
    application = services.find_application(variables.get("applicationId", ""))
    if application is not None:
        urls = application.oauth_config.get("authorizedRedirectURLs", [])
        wanted = [f"{bff}/auth/callback/", f"{bff}/"]
        missing = [url for url in wanted if url not in urls]
        if missing:
            body = {"oauthConfiguration": {"authorizedRedirectURLs": urls + missing}}
            services.save_application(
                application.client_id, {"application": body}, services.MERGE_PATCH
            )
    webhook_id = variables.get("webhookId")
    if webhook_id and Webhook.objects.filter(pk=webhook_id).exists():
        url = f"{bff}/webhooks/fusionauth/"
        services.save_webhook(webhook_id, {"webhook": {"url": url}}, services.MERGE_PATCH)
    log(f"  BFF at {bff}: its callback and webhook URLs are registered")


def banner(document=None):
    """What a developer needs to sign in: URL, client, users and the shared password."""
    try:
        variables = variables_of(document or read())
    except KickstartError:
        variables = {}
    base = settings.DEVIDP["URL"]
    lines = [
        f"Development IdP (FusionAuth dialect) at {base}  (never use it in production)",
        f"  discovery: {base}/.well-known/openid-configuration",
    ]
    for application in Application.objects.exclude(client_id=FUSIONAUTH_APPLICATION_ID):
        lines.append(f"  application {application.name!r}: client id {application.client_id}")
    if variables.get("apiKey"):
        lines.append("  API key: the kickstart's apiKey variable (kickstart/kickstart.json)")
    password = variables.get("password", "(see kickstart/kickstart.json)")
    lines.append(f"  users (password {password!r}):")
    for user in User.objects.prefetch_related("registrations__application"):
        roles = sorted(
            {
                role
                for registration in user.registrations.all()
                if registration.application.client_id != FUSIONAUTH_APPLICATION_ID
                for role in registration.roles
            }
        )
        lines.append(f"    {user.email:<24} roles: {', '.join(roles) or '-'}")
    lines.append(f"  admin: {base}/admin/ (sign in as an admin user)")
    return "\n".join(lines)
