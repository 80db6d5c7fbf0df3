"""What FusionAuth refuses, field by field, in the APIs the development IdP imitates.

Each rule comes from FusionAuth's API reference (docs/apis/*.mdx of the FusionAuth site, version
1.69): the type of every documented field, the required ones, the enumerations. A request the
development IdP accepts must be one a real FusionAuth accepts, so that the demo data, the tests and
the BFF cannot come to depend on something FusionAuth would refuse (the kickstart's HMAC key import
without ``"type": "HMAC"`` did).

FusionAuth answers 400 with an Errors object: ``fieldErrors`` keyed by the field's path, each
error's ``code`` being ``[reason]path`` (``[blank]key.name``, ``[couldNotConvert]webhook.global``,
``[invalid]key.algorithm``); a body naming an unknown property is a ``[invalidJSON]`` general
error. A rule set checks one request body in one go and reports every error it finds.
"""

import re
import uuid
import zoneinfo
from datetime import date
from urllib.parse import urlsplit

from devidp.errors import ApiError

EVENT_TYPES = frozenset(
    {
        "audit-log.create",
        "event-log.create",
        "jwt.public-key.update",
        "jwt.refresh",
        "jwt.refresh-token.revoke",
        "kickstart.success",
        "user.action",
        "user.bulk.create",
        "user.create",
        "user.create.complete",
        "user.deactivate",
        "user.delete",
        "user.delete.complete",
        "user.email.update",
        "user.email.verified",
        "user.identity-provider.link",
        "user.identity-provider.unlink",
        "user.loginId.duplicate.create",
        "user.loginId.duplicate.update",
        "user.login.failed",
        "user.login.new-device",
        "user.login.success",
        "user.login.suspicious",
        "user.password.breach",
        "user.password.reset.send",
        "user.password.reset.start",
        "user.password.reset.success",
        "user.password.update",
        "user.reactivate",
        "user.registration.create",
        "user.registration.create.complete",
        "user.registration.delete",
        "user.registration.delete.complete",
        "user.registration.update",
        "user.registration.update.complete",
        "user.registration.verified",
        "user.two-factor.method.add",
        "user.two-factor.method.remove",
        "user.update",
        "user.update.complete",
    }
)
KEY_ALGORITHMS = (
    "Ed25519",
    "ES256",
    "ES384",
    "ES512",
    "RS256",
    "RS384",
    "RS512",
    "HS256",
    "HS384",
    "HS512",
)
KEY_TYPES = ("EC", "OKP", "RSA", "HMAC", "SecretKeyValue")
RSA_LENGTHS = (2048, 3072, 4096)
EC_LENGTHS = (256, 384, 521)
TRANSACTION_TYPES = ("None", "Any", "SimpleMajority", "SuperMajority", "AbsoluteMajority")
GRANTS = (
    "authorization_code",
    "implicit",
    "password",
    "refresh_token",
    "urn:ietf:params:oauth:grant-type:device_code",
)
EXPIRATION_POLICIES = ("Fixed", "SlidingWindow", "SlidingWindowWithMaximumLifetime")
USAGE_POLICIES = ("Reusable", "OneTimeUse")
PASSWORD_LENGTH = (8, 256)  # the default tenant's passwordValidationRules
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


class Errors:
    """FusionAuth's Errors object, filled while a body is checked."""

    def __init__(self):
        self.fields = {}
        self.general = []

    def add(self, field, reason, message):
        self.fields.setdefault(field, []).append({"code": f"[{reason}]{field}", "message": message})

    def unknown(self, field):
        self.general.append(
            {
                "code": "[invalidJSON]",
                "message": f"Invalid JSON in the request body. The property was [{field}]. "
                "The error was [Unrecognized field]. FusionAuth has no such property.",
            }
        )

    def __bool__(self):
        return bool(self.fields or self.general)

    def raise_if_any(self):
        if self:
            body = {}
            if self.fields:
                body["fieldErrors"] = self.fields
            if self.general:
                body["generalErrors"] = self.general
            raise ApiError(400, body)


# --- types ---------------------------------------------------------------------------------------


class Type:
    """A JSON value FusionAuth can convert to the field's Java type."""

    name = "value"

    def accepts(self, value):
        raise NotImplementedError

    def check(self, value, path, errors, partial):
        if value is not None and not self.accepts(value):
            errors.add(path, "couldNotConvert", f"Invalid {path}: this must be {self.name}.")

    def blank(self, value):
        return value is None


class Str(Type):
    name = "a string"

    def accepts(self, value):
        return isinstance(value, str)

    def blank(self, value):
        return value is None or (isinstance(value, str) and not value.strip())


class Bool(Type):
    name = "true or false"

    def accepts(self, value):
        return isinstance(value, bool)


class Int(Type):
    """Java's Integer; JSON strings of digits convert too, as Jackson does."""

    name = "a whole number"

    def accepts(self, value):
        if isinstance(value, bool):
            return False
        if isinstance(value, int):
            return -(2**31) <= value < 2**31
        return isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,9}", value) is not None


class Long(Int):
    def accepts(self, value):
        return not isinstance(value, bool) and isinstance(value, int) and abs(value) < 2**63


class Uuid(Type):
    name = "a valid UUID String (e.g. 25a872da-bb44-4af8-a43d-e7bcb5351ebc)"

    def accepts(self, value):
        return isinstance(value, str) and is_uuid(value)


class Enum(Type):
    def __init__(self, *values):
        self.values = values
        self.name = "one of " + ", ".join(values)

    def accepts(self, value):
        return isinstance(value, str) and value in self.values


class Date(Str):
    name = "an ISO-8601 date (YYYY-MM-DD)"

    def accepts(self, value):
        try:
            date.fromisoformat(value)
        except (TypeError, ValueError):
            return False
        return re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value) is not None


class AnyObject(Type):
    """A free-form object (``data``): any JSON object."""

    name = "an object"

    def accepts(self, value):
        return isinstance(value, dict)


class StringMap(AnyObject):
    name = "an object of strings"

    def accepts(self, value):
        return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())


class List(Type):
    def __init__(self, item, max_items=None):
        self.item = item
        self.max_items = max_items
        self.name = "an array"

    def accepts(self, value):
        return isinstance(value, list)

    def check(self, value, path, errors, partial):
        if value is None:
            return
        if not isinstance(value, list):
            super().check(value, path, errors, partial)
            return
        if self.max_items is not None and len(value) > self.max_items:
            errors.add(path, "tooMany", f"{path} takes at most {self.max_items} values.")
        for index, item in enumerate(value):
            if item is None:
                errors.add(f"{path}[{index}]", "blank", f"{path} cannot hold null values.")
                continue
            self.item.check(item, f"{path}[{index}]", errors, partial)


class Map(Type):
    """An object whose keys come from a fixed set (FusionAuth's EventType), values of one type."""

    name = "an object"

    def __init__(self, keys, value):
        self.keys = keys
        self.value = value

    def accepts(self, value):
        return isinstance(value, dict)

    def check(self, value, path, errors, partial):
        if value is None:
            return
        if not isinstance(value, dict):
            super().check(value, path, errors, partial)
            return
        for key, item in value.items():
            if key not in self.keys:
                errors.add(
                    path, "couldNotConvert", f"Invalid {path}: [{key}] is not an event type."
                )
                continue
            self.value.check(item, f"{path}[{key}]", errors, partial)


class Obj(Type):
    """An object with documented fields: ``required`` ones, a ``rule`` for cross-field checks.

    ``closed`` objects refuse properties FusionAuth does not have (Jackson's unknown-property
    error); the large configuration objects (application, tenant) list only the fields the
    development IdP reads and leave the rest unchecked.
    """

    name = "an object"

    def __init__(self, fields, required=(), rule=None, closed=True):
        self.fields = fields
        self.required = required
        self.rule = rule
        self.closed = closed

    def accepts(self, value):
        return isinstance(value, dict)

    def check(self, value, path, errors, partial):
        if value is None:
            return
        if not isinstance(value, dict):
            super().check(value, path, errors, partial)
            return
        prefix = f"{path}." if path else ""
        for name, item in value.items():
            field = self.fields.get(name)
            if field is None:
                if self.closed:
                    errors.unknown(prefix + name)
                continue
            field.check(item, prefix + name, errors, partial)
        if not partial:
            for name in self.required:
                if self.fields[name].blank(value.get(name)):
                    errors.add(
                        prefix + name,
                        blank_reason(self.fields[name]),
                        f"{prefix}{name} is required.",
                    )
            if self.rule is not None and not errors:
                self.rule(value, prefix, errors)


def blank_reason(field):
    return "missing" if isinstance(field, Uuid | Obj) else "blank"


def is_uuid(value):
    try:
        uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return False
    return True


def is_url(value):
    parts = urlsplit(value or "")
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def check(rule, body, partial=False):
    """Check a request body against a rule set; raise FusionAuth's 400 with every error found."""
    errors = Errors()
    body = {} if body is None else body
    rule.check(body, "", errors, partial)
    if partial and isinstance(body, dict):
        # A PATCH may leave out any field, but not the object it patches ({"webhook": null}).
        for name in rule.required:
            if body.get(name) is None:
                errors.add(name, "missing", f"{name} is required.")
    errors.raise_if_any()


# --- keys: docs/apis/keys.mdx (_key-import-post-request-body, _key-generate-post-request-body) -----


def _key_import_rule(key, prefix, errors):
    algorithm, key_type = key.get("algorithm"), key.get("type")
    hmac = key_type == "HMAC" or (algorithm or "").startswith("HS")
    if (
        hmac or key.get("secret") or key.get("publicKey") or key.get("privateKey")
    ) and not key_type:
        errors.add(
            prefix + "type",
            "blank",
            "key.type is required to import an HMAC key or a public / private key pair.",
        )
        return
    if key_type in ("HMAC", "SecretKeyValue") and not key.get("secret"):
        errors.add(
            prefix + "secret", "blank", f"key.secret is required to import a {key_type} key."
        )
    if key_type == "HMAC":
        if algorithm and not algorithm.startswith("HS"):
            errors.add(prefix + "algorithm", "invalid", "An HMAC key takes HS256, HS384 or HS512.")
        for name in ("publicKey", "privateKey", "certificate"):
            if key.get(name):
                errors.add(prefix + name, "invalid", f"An HMAC key has no key.{name}.")
    elif key_type in ("RSA", "EC", "OKP"):
        if algorithm and algorithm.startswith("HS"):
            errors.add(
                prefix + "algorithm", "invalid", f"An {key_type} key cannot use {algorithm}."
            )
        if not (key.get("publicKey") or key.get("privateKey") or key.get("certificate")):
            errors.add(prefix + "publicKey", "blank", "Give key.publicKey, key.privateKey or both.")
    if key_type == "SecretKeyValue" and len(key.get("secret") or "") > 256:
        errors.add(prefix + "secret", "tooLong", "Secrets must be 256 characters or less.")


def _key_generate_rule(key, prefix, errors):
    algorithm = key["algorithm"]
    length = key.get("length")
    if algorithm.startswith("RS"):
        allowed = RSA_LENGTHS
    elif algorithm.startswith("ES"):
        allowed = EC_LENGTHS
    else:
        return
    if length is None:
        errors.add(prefix + "length", "blank", f"key.length is required for {algorithm} keys.")
    elif int(length) not in allowed:
        choices = ", ".join(str(n) for n in allowed)
        errors.add(prefix + "length", "invalid", f"key.length must be one of {choices}.")


# Read-only fields of FusionAuth's Key object: a body copied from a GET answer still converts.
KEY_READ_ONLY = {
    "expirationInstant": Long(),
    "hasPrivateKey": Bool(),
    "id": Uuid(),
    "insertInstant": Long(),
    "lastUpdateInstant": Long(),
    "x5c": List(Str()),
}
KEY_IMPORT = Obj(
    {
        "key": Obj(
            {
                "algorithm": Enum(*KEY_ALGORITHMS, "None"),
                "certificate": Str(),
                "issuer": Str(),
                "kid": Str(),
                "length": Int(),
                "name": Str(),
                "publicKey": Str(),
                "privateKey": Str(),
                "secret": Str(),
                "type": Enum(*KEY_TYPES),
                **KEY_READ_ONLY,
            },
            required=("name",),
            rule=_key_import_rule,
        )
    },
    required=("key",),
)
KEY_GENERATE = Obj(
    {
        "key": Obj(
            {
                "algorithm": Enum(*KEY_ALGORITHMS),
                "issuer": Str(),
                "name": Str(),
                "length": Int(),
                **KEY_READ_ONLY,
            },
            required=("algorithm", "name"),
            rule=_key_generate_rule,
        )
    },
    required=("key",),
)


# --- tenants: docs/apis/tenants.mdx -------------------------------------------------------------


def _positive(fields):
    def rule(value, prefix, errors):
        for name in fields:
            if value.get(name) is not None and int(value[name]) <= 0:
                errors.add(prefix + name, "invalid", f"{prefix}{name} must be greater than 0.")

    return rule


TENANT_JWT = Obj(
    {
        "accessTokenKeyId": Uuid(),
        "enabled": Bool(),
        "idTokenKeyId": Uuid(),
        "refreshTokenExpirationPolicy": Enum(*EXPIRATION_POLICIES),
        "refreshTokenTimeToLiveInMinutes": Int(),
        "refreshTokenUsagePolicy": Enum(*USAGE_POLICIES),
        "timeToLiveInSeconds": Int(),
    },
    required=("timeToLiveInSeconds", "refreshTokenTimeToLiveInMinutes"),
    rule=_positive(("timeToLiveInSeconds", "refreshTokenTimeToLiveInMinutes")),
    closed=False,
)
TENANT = Obj(
    {
        "tenant": Obj(
            {
                "data": AnyObject(),
                "eventConfiguration": Obj(
                    {
                        "events": Map(
                            EVENT_TYPES,
                            Obj({"enabled": Bool(), "transactionType": Enum(*TRANSACTION_TYPES)}),
                        )
                    }
                ),
                "issuer": Str(),
                "jwtConfiguration": TENANT_JWT,
                "name": Str(),
            },
            required=("name", "issuer", "jwtConfiguration"),
            closed=False,
        )
    },
    required=("tenant",),
)


# --- applications: docs/apis/applications.mdx (_application-request-body) -----------------------


def _application_jwt_rule(jwt, prefix, errors):
    if jwt.get("enabled"):
        for name in ("timeToLiveInSeconds", "refreshTokenTimeToLiveInMinutes"):
            if jwt.get(name) is None:
                errors.add(prefix + name, "blank", f"{prefix}{name} is required when enabled.")
    _positive(("timeToLiveInSeconds", "refreshTokenTimeToLiveInMinutes"))(jwt, prefix, errors)


def _application_rule(application, prefix, errors):
    names = [r.get("name") for r in application.get("roles") or [] if isinstance(r, dict)]
    duplicates = sorted({n for n in names if n and names.count(n) > 1})
    if duplicates:
        errors.add(prefix + "roles", "duplicate", f"Duplicate role names: {', '.join(duplicates)}.")
    oauth = application.get("oauthConfiguration") or {}
    for index, url in enumerate(oauth.get("authorizedRedirectURLs") or []):
        if not _is_redirect_url(url):
            field = f"{prefix}oauthConfiguration.authorizedRedirectURLs[{index}]"
            errors.add(field, "invalid", f"{url!r} is not a valid redirect URL.")


def _is_redirect_url(url):
    """Any absolute URI (FusionAuth takes native schemes such as com.myApp:/redirect since 1.12)."""
    parts = urlsplit(url)
    return bool(parts.scheme) and bool(parts.netloc or parts.path) and " " not in url


ROLE = Obj(
    {
        "description": Str(),
        "id": Uuid(),
        "isDefault": Bool(),
        "isSuperRole": Bool(),
        "name": Str(),
    },
    required=("name",),
)
APPLICATION = Obj(
    {
        "application": Obj(
            {
                "active": Bool(),
                "data": AnyObject(),
                "id": Uuid(),
                "jwtConfiguration": Obj(
                    {
                        "accessTokenKeyId": Uuid(),
                        "enabled": Bool(),
                        "idTokenKeyId": Uuid(),
                        "refreshTokenExpirationPolicy": Enum(*EXPIRATION_POLICIES),
                        "refreshTokenTimeToLiveInMinutes": Int(),
                        "refreshTokenUsagePolicy": Enum(*USAGE_POLICIES),
                        "timeToLiveInSeconds": Int(),
                    },
                    rule=_application_jwt_rule,
                    closed=False,
                ),
                "loginConfiguration": Obj(
                    {
                        "allowTokenRefresh": Bool(),
                        "generateRefreshTokens": Bool(),
                        "requireAuthentication": Bool(),
                    }
                ),
                "name": Str(),
                "oauthConfiguration": Obj(
                    {
                        "authorizedOriginURLs": List(Str()),
                        "authorizedRedirectURLs": List(Str()),
                        "authorizedURLValidationPolicy": Enum("ExactMatch", "AllowWildcards"),
                        "clientAuthenticationPolicy": Enum(
                            "Required", "NotRequired", "NotRequiredWhenUsingPKCE"
                        ),
                        "clientId": Str(),
                        "clientSecret": Str(),
                        "consentMode": Enum("AlwaysPrompt", "RememberDecision", "NeverPrompt"),
                        "debug": Bool(),
                        "enabledGrants": List(Enum(*GRANTS)),
                        "generateRefreshTokens": Bool(),
                        "logoutBehavior": Enum("RedirectOnly", "AllApplications"),
                        "logoutURL": Str(),
                        "proofKeyForCodeExchangePolicy": Enum(
                            "Required", "NotRequired", "NotRequiredWhenUsingClientAuthentication"
                        ),
                        "relationship": Enum("FirstParty", "ThirdParty"),
                        "requireClientAuthentication": Bool(),
                        "requireRegistration": Bool(),
                        "scopeHandlingPolicy": Enum("Compatibility", "Strict"),
                        "unknownScopePolicy": Enum("Allow", "Remove", "Reject"),
                    },
                    closed=False,
                ),
                "registrationConfiguration": Obj(
                    {"enabled": Bool(), "type": Enum("basic", "advanced")}, closed=False
                ),
                "roles": List(ROLE),
                "tenantId": Uuid(),
                "verifyRegistration": Bool(),
            },
            required=("name",),
            rule=_application_rule,
            closed=False,
        )
    },
    required=("application",),
)


# --- webhooks: docs/apis/webhooks.mdx (_webhook-request-body) ------------------------------------


def _webhook_rule(webhook, prefix, errors):
    if not is_url(webhook["url"]):
        errors.add(prefix + "url", "invalid", "webhook.url must be a fully qualified http(s) URL.")
    _positive(("connectTimeout", "readTimeout"))(webhook, prefix, errors)
    signing = webhook.get("signatureConfiguration") or {}
    if signing.get("enabled") and not signing.get("signingKeyId"):
        errors.add(
            prefix + "signatureConfiguration.signingKeyId",
            "missing",
            "signingKeyId is required when signatureConfiguration.enabled is true.",
        )


WEBHOOK = Obj(
    {
        "webhook": Obj(
            {
                "connectTimeout": Int(),
                "data": AnyObject(),
                "description": Str(),
                "eventsEnabled": Map(EVENT_TYPES, Bool()),
                "global": Bool(),
                "headers": StringMap(),
                "httpAuthenticationPassword": Str(),
                "httpAuthenticationUsername": Str(),
                "id": Uuid(),
                "insertInstant": Long(),
                "lastUpdateInstant": Long(),
                "readTimeout": Int(),
                "signatureConfiguration": Obj({"enabled": Bool(), "signingKeyId": Uuid()}),
                "sslCertificate": Str(),
                "sslCertificateKeyId": Uuid(),
                "tenantIds": List(Uuid()),
                "url": Str(),
            },
            required=("url", "connectTimeout", "readTimeout"),
            rule=_webhook_rule,
        )
    },
    required=("webhook",),
)


# --- users and registrations: docs/apis/registrations.mdx --------------------------------------


def _registration_rule(registration, prefix, errors):
    timezone = registration.get("timezone")
    if timezone and not _is_time_zone(timezone):
        errors.add(prefix + "timezone", "invalid", f"{timezone!r} is not an IANA time zone.")


def _is_time_zone(name):
    try:
        zoneinfo.ZoneInfo(name)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        return False
    return True


def _user_rule(user, prefix, errors):
    email = user.get("email")
    if not (email or "").strip() and not (user.get("username") or "").strip():
        errors.add(prefix + "email", "blank", "Give user.email or user.username.")
    elif email and not EMAIL.match(email.strip()):
        errors.add(prefix + "email", "notEmail", f"{email!r} is not an e-mail address.")
    if user.get("timezone") and not _is_time_zone(user["timezone"]):
        errors.add(
            prefix + "timezone", "invalid", f"{user['timezone']!r} is not an IANA time zone."
        )
    password = user.get("password")
    if password is not None:
        shortest, longest = PASSWORD_LENGTH
        if len(password) < shortest:
            errors.add(
                prefix + "password", "tooShort", f"The password needs {shortest} characters."
            )
        elif len(password) > longest:
            errors.add(prefix + "password", "tooLong", f"The password takes {longest} at most.")


def _combined_rule(body, prefix, errors):
    user = body.get("user")
    if user is None:
        return
    if not user.get("password") and not body.get("sendSetPasswordEmail"):
        errors.add("user.password", "blank", "user.password is required (or sendSetPasswordEmail).")


REGISTRATION_FIELDS = {
    "applicationId": Uuid(),
    "authenticationToken": Str(),
    "data": AnyObject(),
    "id": Uuid(),
    "preferredLanguages": List(Str(), max_items=20),
    "roles": List(Str()),
    "timezone": Str(),
    "username": Str(),
    # Read-only fields of the Registration object: a GET answer sent back as a PUT is accepted.
    "cleanSpeakId": Uuid(),
    "insertInstant": Long(),
    "lastLoginInstant": Long(),
    "lastUpdateInstant": Long(),
    "tokens": AnyObject(),
    "usernameStatus": Enum("ACTIVE", "PENDING", "REJECTED"),
    "verified": Bool(),
    "verifiedInstant": Long(),
}
REGISTRATION = Obj(REGISTRATION_FIELDS, required=("applicationId",), rule=_registration_rule)
USER = Obj(
    {
        "birthDate": Date(),
        "data": AnyObject(),
        "email": Str(),
        "encryptionScheme": Str(),
        "expiry": Long(),
        "factor": Str(),
        "firstName": Str(),
        "fullName": Str(),
        "imageUrl": Str(),
        "lastName": Str(),
        "middleName": Str(),
        "mobilePhone": Str(),
        "password": Str(),
        "passwordChangeRequired": Bool(),
        "preferredLanguages": List(Str(), max_items=20),
        "timezone": Str(),
        "username": Str(),
    },
    rule=_user_rule,
    closed=False,
)
REGISTER = Obj(
    {
        "disableDomainBlock": Bool(),
        "generateAuthenticationToken": Bool(),
        "registration": REGISTRATION,
        "eventInfo": AnyObject(),
        "sendSetPasswordEmail": Bool(),
        "sendSetPasswordIdentityType": Str(),
        "skipRegistrationVerification": Bool(),
        "skipVerification": Bool(),
        "user": USER,
    },
    required=("registration",),
    rule=_combined_rule,
)
# PUT and PATCH: the application may come from the URL instead of the body.
UPDATE_REGISTRATION = Obj(
    {
        "registration": Obj(REGISTRATION_FIELDS, rule=_registration_rule),
        "skipRegistrationVerification": Bool(),
    },
    required=("registration",),
)


# --- user search: docs/apis/users.mdx (_user-search-request-body) -------------------------------


def _search_rule(search, prefix, errors):
    if not any(search.get(name) for name in ("ids", "query", "queryString", "nextResults")):
        errors.add(prefix + "queryString", "blank", "Give search.ids, query or queryString.")
    for name in ("numberOfResults", "startRow"):
        if search.get(name) is not None and int(search[name]) < 0:
            errors.add(prefix + name, "invalid", f"{prefix}{name} must not be negative.")


SEARCH = Obj(
    {
        "expand": List(Str()),
        "search": Obj(
            {
                "accurateTotal": Bool(),
                "ids": List(Uuid(), max_items=10000),
                "nextResults": Str(),
                "numberOfResults": Int(),
                "query": Str(),
                "queryString": Str(),
                "sortFields": List(
                    Obj(
                        {"missing": Str(), "name": Str(), "order": Enum("asc", "desc")},
                        required=("name",),
                    )
                ),
                "startRow": Int(),
            },
            rule=_search_rule,
        ),
    },
    required=("search",),
)


# --- the Login API: docs/apis/login.mdx -----------------------------------------------------------

LOGIN = Obj(
    {
        "applicationId": Uuid(),
        "ipAddress": Str(),
        "loginId": Str(),
        "loginIdTypes": List(Str()),
        "metaData": AnyObject(),
        "noJWT": Bool(),
        "password": Str(),
        "twoFactorTrustId": Str(),
    },
    required=("loginId", "password"),
    closed=False,
)
