"""FusionAuth's JSON shapes for the objects the development IdP keeps."""

from devidp.config import issuer
from devidp.models import Key

CONNECTOR_ID = "e3306678-a53a-4964-9040-1c96f36dda72"  # FusionAuth's built-in database connector


def registration_json(registration):
    body = {
        "applicationId": registration.application.client_id,
        "data": registration.data,
        "id": str(registration.id),
        "insertInstant": registration.insert_instant,
        "lastUpdateInstant": registration.last_update_instant,
        "preferredLanguages": registration.preferred_languages,
        "roles": sorted(registration.roles),
        "usernameStatus": "ACTIVE",
        "verified": registration.verified,
    }
    if registration.last_login_instant:
        body["lastLoginInstant"] = registration.last_login_instant
    if registration.username:
        body["username"] = registration.username
    if registration.timezone:
        body["timezone"] = registration.timezone
    if registration.verified:
        body["verifiedInstant"] = registration.insert_instant
    return body


def user_json(user, registrations=None):
    """A User object; ``registrations`` is included when given (the search ``expand``)."""
    body = {
        "active": user.is_active,
        "connectorId": CONNECTOR_ID,
        "data": user.data,
        "email": user.email,
        "id": str(user.id),
        "insertInstant": user.insert_instant,
        "lastUpdateInstant": user.last_update_instant,
        "passwordChangeRequired": False,
        "tenantId": str(user.tenant_id) if user.tenant_id else None,
        "twoFactor": {"methods": [], "recoveryCodes": 0},
        "usernameStatus": "ACTIVE",
        "verified": user.verified,
    }
    if user.last_login:
        body["lastLoginInstant"] = int(user.last_login.timestamp() * 1000)
    for field, name in (
        ("first_name", "firstName"),
        ("last_name", "lastName"),
        ("username", "username"),
        ("birth_date", "birthDate"),
    ):
        if getattr(user, field):
            body[name] = getattr(user, field)
    if user.get_full_name():
        body["fullName"] = user.get_full_name()
    if registrations is not None:
        body["registrations"] = [registration_json(r) for r in registrations]
    return body


def application_json(application):
    config = application.config
    oauth = dict(config.get("oauthConfiguration", {}))
    oauth["clientId"] = application.client_id
    oauth.pop("clientSecret", None)
    return {
        **{k: v for k, v in config.items() if k != "oauthConfiguration"},
        "id": application.client_id,
        "name": application.name,
        "tenantId": str(application.tenant_id) if application.tenant_id else None,
        "roles": application.roles,
        "oauthConfiguration": oauth,
        "active": True,
        "insertInstant": application.insert_instant,
        "lastUpdateInstant": application.last_update_instant,
    }


def tenant_json(tenant):
    return {
        **tenant.config,
        "id": str(tenant.id),
        "name": tenant.name,
        "issuer": issuer(),
        "insertInstant": tenant.insert_instant,
        "lastUpdateInstant": tenant.last_update_instant,
    }


def webhook_json(webhook):
    return {
        **webhook.config,
        "id": str(webhook.id),
        "url": webhook.url,
        "description": webhook.description,
        "insertInstant": webhook.insert_instant,
        "lastUpdateInstant": webhook.last_update_instant,
    }


def key_json(key):
    body = {
        "algorithm": key.algorithm,
        "id": str(key.id),
        "insertInstant": key.insert_instant,
        "length": key.length,
        "name": key.name,
        "type": "HMAC" if key.is_hmac else "RSA",
    }
    if key.algorithm != Key.HS256 and key.public_key:
        body["publicKey"] = key.public_key
    return body
