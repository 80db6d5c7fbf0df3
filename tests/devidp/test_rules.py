"""FusionAuth's request rules (devidp/rules.py), one case per rule of FusionAuth's API reference.

Each case is a body FusionAuth refuses and the field error it answers with; the bodies of the
kickstart (tests/devidp/test_kickstart.py) and of the documentation's examples pass.
"""

import copy

import pytest

from devidp import rules
from devidp.errors import ApiError

UUID = "25a872da-bb44-4af8-a43d-e7bcb5351ebc"

HMAC_IMPORT = {"key": {"algorithm": "HS256", "name": "hooks", "type": "HMAC", "secret": "s" * 64}}
RSA_GENERATE = {"key": {"algorithm": "RS256", "name": "tokens", "length": 2048}}
TENANT = {
    "tenant": {
        "name": "Default",
        "issuer": "https://auth.example.com",
        "jwtConfiguration": {"timeToLiveInSeconds": 3600, "refreshTokenTimeToLiveInMinutes": 60},
    }
}
APPLICATION = {
    "application": {
        "name": "ChangeBank",
        "roles": [{"name": "admin"}, {"name": "teller"}],
        "oauthConfiguration": {
            "authorizedRedirectURLs": ["https://bank.example.com/auth/callback/"],
            "enabledGrants": ["authorization_code", "refresh_token"],
        },
        "jwtConfiguration": {
            "enabled": True,
            "timeToLiveInSeconds": 3600,
            "refreshTokenTimeToLiveInMinutes": 60,
        },
    }
}
WEBHOOK = {
    "webhook": {
        "url": "http://host.docker.internal:8000/webhooks/fusionauth/",
        "connectTimeout": 1000,
        "readTimeout": 2000,
        "global": True,
        "eventsEnabled": {"user.registration.update": True},
        "signatureConfiguration": {"enabled": True, "signingKeyId": UUID},
    }
}
REGISTER = {
    "user": {"email": "ada@example.com", "password": "password"},
    "registration": {"applicationId": UUID, "roles": ["customer"], "data": {"userData": "x"}},
    "skipVerification": True,
}
SEARCH = {"search": {"queryString": "*", "numberOfResults": 25, "startRow": 0}}
LOGIN = {"loginId": "ada@example.com", "password": "password", "applicationId": UUID}


def changed(body, path, value):
    """A copy of ``body`` with the value at a dotted ``path`` set (or removed, for ``...``)."""
    body = copy.deepcopy(body)
    *parents, last = path.split(".")
    cursor = body
    for part in parents:
        cursor = cursor[int(part)] if isinstance(cursor, list) else cursor.setdefault(part, {})
    if value is ...:
        del cursor[last]
    elif isinstance(cursor, list):
        cursor[int(last)] = value
    else:
        cursor[last] = value
    return body


def refusal(rule, body, partial=False):
    with pytest.raises(ApiError) as caught:
        rules.check(rule, body, partial=partial)
    assert caught.value.status == 400
    return caught.value.body


CASES = [
    # Keys API, import (_key-import-post-request-body): type is required for HMAC keys...
    (
        "key-import-hmac-needs-type",
        rules.KEY_IMPORT,
        changed(HMAC_IMPORT, "key.type", ...),
        "key.type",
        "blank",
    ),
    (
        "key-import-hmac-needs-secret",
        rules.KEY_IMPORT,
        changed(HMAC_IMPORT, "key.secret", ...),
        "key.secret",
        "blank",
    ),
    (
        "key-import-name-required",
        rules.KEY_IMPORT,
        changed(HMAC_IMPORT, "key.name", ...),
        "key.name",
        "blank",
    ),
    (
        "key-import-name-not-blank",
        rules.KEY_IMPORT,
        changed(HMAC_IMPORT, "key.name", "  "),
        "key.name",
        "blank",
    ),
    (
        "key-import-algorithm-enum",
        rules.KEY_IMPORT,
        changed(HMAC_IMPORT, "key.algorithm", "HS1024"),
        "key.algorithm",
        "couldNotConvert",
    ),
    (
        "key-import-type-enum",
        rules.KEY_IMPORT,
        changed(HMAC_IMPORT, "key.type", "AES"),
        "key.type",
        "couldNotConvert",
    ),
    (
        "key-import-hmac-takes-hs-algorithms",
        rules.KEY_IMPORT,
        changed(HMAC_IMPORT, "key.algorithm", "RS256"),
        "key.algorithm",
        "invalid",
    ),
    (
        "key-import-hmac-has-no-public-key",
        rules.KEY_IMPORT,
        changed(HMAC_IMPORT, "key.publicKey", "-----BEGIN PUBLIC KEY-----"),
        "key.publicKey",
        "invalid",
    ),
    (
        "key-import-pair-needs-a-key",
        rules.KEY_IMPORT,
        {"key": {"name": "rsa", "type": "RSA", "algorithm": "RS256"}},
        "key.publicKey",
        "blank",
    ),
    (
        "key-import-secret-at-most-256",
        rules.KEY_IMPORT,
        {"key": {"name": "s", "type": "SecretKeyValue", "secret": "x" * 257}},
        "key.secret",
        "tooLong",
    ),
    (
        "key-import-secret-is-a-string",
        rules.KEY_IMPORT,
        changed(HMAC_IMPORT, "key.secret", 42),
        "key.secret",
        "couldNotConvert",
    ),
    ("key-body-required", rules.KEY_IMPORT, {}, "key", "missing"),
    # Keys API, generate (_key-generate-post-request-body).
    (
        "key-generate-algorithm-required",
        rules.KEY_GENERATE,
        changed(RSA_GENERATE, "key.algorithm", ...),
        "key.algorithm",
        "blank",
    ),
    (
        "key-generate-name-required",
        rules.KEY_GENERATE,
        changed(RSA_GENERATE, "key.name", ...),
        "key.name",
        "blank",
    ),
    (
        "key-generate-rsa-length-required",
        rules.KEY_GENERATE,
        changed(RSA_GENERATE, "key.length", ...),
        "key.length",
        "blank",
    ),
    (
        "key-generate-rsa-length-values",
        rules.KEY_GENERATE,
        changed(RSA_GENERATE, "key.length", 1024),
        "key.length",
        "invalid",
    ),
    (
        "key-generate-ec-length-values",
        rules.KEY_GENERATE,
        {"key": {"algorithm": "ES256", "name": "ec", "length": 300}},
        "key.length",
        "invalid",
    ),
    (
        "key-generate-length-is-a-number",
        rules.KEY_GENERATE,
        changed(RSA_GENERATE, "key.length", "long"),
        "key.length",
        "couldNotConvert",
    ),
    # Tenant API.
    (
        "tenant-name-required",
        rules.TENANT,
        changed(TENANT, "tenant.name", ...),
        "tenant.name",
        "blank",
    ),
    (
        "tenant-issuer-required",
        rules.TENANT,
        changed(TENANT, "tenant.issuer", ...),
        "tenant.issuer",
        "blank",
    ),
    (
        "tenant-jwt-ttl-required",
        rules.TENANT,
        changed(TENANT, "tenant.jwtConfiguration.timeToLiveInSeconds", ...),
        "tenant.jwtConfiguration.timeToLiveInSeconds",
        "blank",
    ),
    (
        "tenant-jwt-ttl-positive",
        rules.TENANT,
        changed(TENANT, "tenant.jwtConfiguration.timeToLiveInSeconds", 0),
        "tenant.jwtConfiguration.timeToLiveInSeconds",
        "invalid",
    ),
    (
        "tenant-jwt-ttl-is-a-number",
        rules.TENANT,
        changed(TENANT, "tenant.jwtConfiguration.timeToLiveInSeconds", "soon"),
        "tenant.jwtConfiguration.timeToLiveInSeconds",
        "couldNotConvert",
    ),
    (
        "tenant-refresh-usage-policy-enum",
        rules.TENANT,
        changed(TENANT, "tenant.jwtConfiguration.refreshTokenUsagePolicy", "Rotating"),
        "tenant.jwtConfiguration.refreshTokenUsagePolicy",
        "couldNotConvert",
    ),
    (
        "tenant-refresh-expiration-policy-enum",
        rules.TENANT,
        changed(TENANT, "tenant.jwtConfiguration.refreshTokenExpirationPolicy", "Sliding"),
        "tenant.jwtConfiguration.refreshTokenExpirationPolicy",
        "couldNotConvert",
    ),
    (
        "tenant-key-id-is-a-uuid",
        rules.TENANT,
        changed(TENANT, "tenant.jwtConfiguration.accessTokenKeyId", "rs256"),
        "tenant.jwtConfiguration.accessTokenKeyId",
        "couldNotConvert",
    ),
    (
        "tenant-event-types",
        rules.TENANT,
        changed(TENANT, "tenant.eventConfiguration.events", {"user.registration.changed": {}}),
        "tenant.eventConfiguration.events",
        "couldNotConvert",
    ),
    (
        "tenant-event-transaction-type-enum",
        rules.TENANT,
        changed(
            TENANT,
            "tenant.eventConfiguration.events",
            {"user.delete": {"enabled": True, "transactionType": "All"}},
        ),
        "tenant.eventConfiguration.events[user.delete].transactionType",
        "couldNotConvert",
    ),
    (
        "tenant-event-enabled-is-boolean",
        rules.TENANT,
        changed(TENANT, "tenant.eventConfiguration.events", {"user.delete": {"enabled": "yes"}}),
        "tenant.eventConfiguration.events[user.delete].enabled",
        "couldNotConvert",
    ),
    # Application API (_application-request-body).
    (
        "application-name-required",
        rules.APPLICATION,
        changed(APPLICATION, "application.name", ...),
        "application.name",
        "blank",
    ),
    (
        "application-role-name-required",
        rules.APPLICATION,
        changed(APPLICATION, "application.roles.1", {"description": "no name"}),
        "application.roles[1].name",
        "blank",
    ),
    (
        "application-role-names-unique",
        rules.APPLICATION,
        changed(APPLICATION, "application.roles.1", {"name": "admin"}),
        "application.roles",
        "duplicate",
    ),
    (
        "application-role-is-super-role-boolean",
        rules.APPLICATION,
        changed(APPLICATION, "application.roles.0", {"name": "admin", "isSuperRole": "yes"}),
        "application.roles[0].isSuperRole",
        "couldNotConvert",
    ),
    (
        "application-logout-behavior-enum",
        rules.APPLICATION,
        changed(APPLICATION, "application.oauthConfiguration.logoutBehavior", "Redirect"),
        "application.oauthConfiguration.logoutBehavior",
        "couldNotConvert",
    ),
    (
        "application-client-authentication-policy-enum",
        rules.APPLICATION,
        changed(APPLICATION, "application.oauthConfiguration.clientAuthenticationPolicy", "Always"),
        "application.oauthConfiguration.clientAuthenticationPolicy",
        "couldNotConvert",
    ),
    (
        "application-pkce-policy-enum",
        rules.APPLICATION,
        changed(
            APPLICATION, "application.oauthConfiguration.proofKeyForCodeExchangePolicy", "S256"
        ),
        "application.oauthConfiguration.proofKeyForCodeExchangePolicy",
        "couldNotConvert",
    ),
    (
        "application-enabled-grants-enum",
        rules.APPLICATION,
        changed(
            APPLICATION,
            "application.oauthConfiguration.enabledGrants",
            ["authorization_code", "client_secret"],
        ),
        "application.oauthConfiguration.enabledGrants[1]",
        "couldNotConvert",
    ),
    (
        "application-redirect-urls-array",
        rules.APPLICATION,
        changed(
            APPLICATION,
            "application.oauthConfiguration.authorizedRedirectURLs",
            "https://bank.example.com/",
        ),
        "application.oauthConfiguration.authorizedRedirectURLs",
        "couldNotConvert",
    ),
    (
        "application-redirect-urls-absolute",
        rules.APPLICATION,
        changed(APPLICATION, "application.oauthConfiguration.authorizedRedirectURLs", ["/cb"]),
        "application.oauthConfiguration.authorizedRedirectURLs[0]",
        "invalid",
    ),
    (
        "application-generate-refresh-tokens-boolean",
        rules.APPLICATION,
        changed(APPLICATION, "application.oauthConfiguration.generateRefreshTokens", "yes"),
        "application.oauthConfiguration.generateRefreshTokens",
        "couldNotConvert",
    ),
    (
        "application-jwt-ttl-required-when-enabled",
        rules.APPLICATION,
        changed(APPLICATION, "application.jwtConfiguration.timeToLiveInSeconds", ...),
        "application.jwtConfiguration.timeToLiveInSeconds",
        "blank",
    ),
    (
        "application-jwt-refresh-ttl-required-when-enabled",
        rules.APPLICATION,
        changed(APPLICATION, "application.jwtConfiguration.refreshTokenTimeToLiveInMinutes", ...),
        "application.jwtConfiguration.refreshTokenTimeToLiveInMinutes",
        "blank",
    ),
    (
        "application-jwt-expiration-policy-enum",
        rules.APPLICATION,
        changed(APPLICATION, "application.jwtConfiguration.refreshTokenExpirationPolicy", "Never"),
        "application.jwtConfiguration.refreshTokenExpirationPolicy",
        "couldNotConvert",
    ),
    (
        "application-tenant-id-is-a-uuid",
        rules.APPLICATION,
        changed(APPLICATION, "application.tenantId", "default"),
        "application.tenantId",
        "couldNotConvert",
    ),
    # Webhook API (_webhook-request-body).
    (
        "webhook-url-required",
        rules.WEBHOOK,
        changed(WEBHOOK, "webhook.url", ...),
        "webhook.url",
        "blank",
    ),
    (
        "webhook-url-fully-qualified",
        rules.WEBHOOK,
        changed(WEBHOOK, "webhook.url", "/webhooks/fusionauth/"),
        "webhook.url",
        "invalid",
    ),
    (
        "webhook-connect-timeout-required",
        rules.WEBHOOK,
        changed(WEBHOOK, "webhook.connectTimeout", ...),
        "webhook.connectTimeout",
        "blank",
    ),
    (
        "webhook-read-timeout-required",
        rules.WEBHOOK,
        changed(WEBHOOK, "webhook.readTimeout", ...),
        "webhook.readTimeout",
        "blank",
    ),
    (
        "webhook-read-timeout-positive",
        rules.WEBHOOK,
        changed(WEBHOOK, "webhook.readTimeout", -1),
        "webhook.readTimeout",
        "invalid",
    ),
    (
        "webhook-events-enabled-event-types",
        rules.WEBHOOK,
        changed(WEBHOOK, "webhook.eventsEnabled", {"registration.update": True}),
        "webhook.eventsEnabled",
        "couldNotConvert",
    ),
    (
        "webhook-events-enabled-booleans",
        rules.WEBHOOK,
        changed(WEBHOOK, "webhook.eventsEnabled", {"user.delete": "on"}),
        "webhook.eventsEnabled[user.delete]",
        "couldNotConvert",
    ),
    (
        "webhook-global-boolean",
        rules.WEBHOOK,
        changed(WEBHOOK, "webhook.global", "everywhere"),
        "webhook.global",
        "couldNotConvert",
    ),
    (
        "webhook-tenant-ids-uuids",
        rules.WEBHOOK,
        changed(WEBHOOK, "webhook.tenantIds", ["t1"]),
        "webhook.tenantIds[0]",
        "couldNotConvert",
    ),
    (
        "webhook-signing-key-required-when-signed",
        rules.WEBHOOK,
        changed(WEBHOOK, "webhook.signatureConfiguration.signingKeyId", ...),
        "webhook.signatureConfiguration.signingKeyId",
        "missing",
    ),
    (
        "webhook-headers-strings",
        rules.WEBHOOK,
        changed(WEBHOOK, "webhook.headers", {"X-N": 1}),
        "webhook.headers",
        "couldNotConvert",
    ),
    # User Registration API (_user-registration-request-body, ...-combined-request-body).
    (
        "registration-required",
        rules.REGISTER,
        changed(REGISTER, "registration", ...),
        "registration",
        "missing",
    ),
    (
        "registration-application-id-required",
        rules.REGISTER,
        changed(REGISTER, "registration.applicationId", ...),
        "registration.applicationId",
        "missing",
    ),
    (
        "registration-application-id-uuid",
        rules.REGISTER,
        changed(REGISTER, "registration.applicationId", "changebank"),
        "registration.applicationId",
        "couldNotConvert",
    ),
    (
        "registration-roles-strings",
        rules.REGISTER,
        changed(REGISTER, "registration.roles", [{"name": "customer"}]),
        "registration.roles[0]",
        "couldNotConvert",
    ),
    (
        "registration-data-object",
        rules.REGISTER,
        changed(REGISTER, "registration.data", "notes"),
        "registration.data",
        "couldNotConvert",
    ),
    (
        "registration-timezone-iana",
        rules.REGISTER,
        changed(REGISTER, "registration.timezone", "Mars/Olympus"),
        "registration.timezone",
        "invalid",
    ),
    (
        "registration-preferred-languages-at-most-20",
        rules.REGISTER,
        changed(REGISTER, "registration.preferredLanguages", ["en"] * 21),
        "registration.preferredLanguages",
        "tooMany",
    ),
    (
        "registration-skip-verification-boolean",
        rules.REGISTER,
        changed(REGISTER, "skipVerification", "yes"),
        "skipVerification",
        "couldNotConvert",
    ),
    (
        "user-email-or-username-required",
        rules.REGISTER,
        changed(REGISTER, "user.email", ...),
        "user.email",
        "blank",
    ),
    (
        "user-email-is-an-email",
        rules.REGISTER,
        changed(REGISTER, "user.email", "ada"),
        "user.email",
        "notEmail",
    ),
    (
        "user-password-required",
        rules.REGISTER,
        changed(REGISTER, "user.password", ...),
        "user.password",
        "blank",
    ),
    (
        "user-password-minimum-length",
        rules.REGISTER,
        changed(REGISTER, "user.password", "pw"),
        "user.password",
        "tooShort",
    ),
    (
        "user-birth-date-iso-8601",
        rules.REGISTER,
        changed(REGISTER, "user.birthDate", "1/2/1990"),
        "user.birthDate",
        "couldNotConvert",
    ),
    (
        "user-data-object",
        rules.REGISTER,
        changed(REGISTER, "user.data", ["x"]),
        "user.data",
        "couldNotConvert",
    ),
    (
        "registration-update-roles-strings",
        rules.UPDATE_REGISTRATION,
        {"registration": {"roles": "teller"}},
        "registration.roles",
        "couldNotConvert",
    ),
    # User Search API.
    ("search-required", rules.SEARCH, {}, "search", "missing"),
    (
        "search-needs-criteria",
        rules.SEARCH,
        {"search": {"numberOfResults": 5}},
        "search.queryString",
        "blank",
    ),
    (
        "search-ids-uuids",
        rules.SEARCH,
        {"search": {"ids": ["sub-1"]}},
        "search.ids[0]",
        "couldNotConvert",
    ),
    (
        "search-number-of-results-integer",
        rules.SEARCH,
        changed(SEARCH, "search.numberOfResults", "many"),
        "search.numberOfResults",
        "couldNotConvert",
    ),
    (
        "search-start-row-not-negative",
        rules.SEARCH,
        changed(SEARCH, "search.startRow", -1),
        "search.startRow",
        "invalid",
    ),
    (
        "search-sort-order-enum",
        rules.SEARCH,
        changed(SEARCH, "search.sortFields", [{"name": "email", "order": "up"}]),
        "search.sortFields[0].order",
        "couldNotConvert",
    ),
    (
        "search-sort-name-required",
        rules.SEARCH,
        changed(SEARCH, "search.sortFields", [{"order": "asc"}]),
        "search.sortFields[0].name",
        "blank",
    ),
    (
        "search-query-is-a-json-string",
        rules.SEARCH,
        {"search": {"query": {"match_all": {}}}},
        "search.query",
        "couldNotConvert",
    ),
    # Login API.
    ("login-id-required", rules.LOGIN, changed(LOGIN, "loginId", ...), "loginId", "blank"),
    ("login-password-required", rules.LOGIN, changed(LOGIN, "password", ""), "password", "blank"),
    (
        "login-application-id-uuid",
        rules.LOGIN,
        changed(LOGIN, "applicationId", "bank"),
        "applicationId",
        "couldNotConvert",
    ),
]


@pytest.mark.parametrize(
    ("rule", "body", "field", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_fusionauth_refuses(rule, body, field, reason):
    errors = refusal(rule, body)

    assert field in errors["fieldErrors"], errors
    assert {e["code"] for e in errors["fieldErrors"][field]} == {f"[{reason}]{field}"}


@pytest.mark.parametrize(
    "rule, body",
    [
        (rules.KEY_IMPORT, HMAC_IMPORT),
        (rules.KEY_GENERATE, RSA_GENERATE),
        (rules.TENANT, TENANT),
        (rules.APPLICATION, APPLICATION),
        (rules.WEBHOOK, WEBHOOK),
        (rules.REGISTER, REGISTER),
        (rules.REGISTER, {"registration": {"applicationId": UUID.upper()}}),
        (rules.UPDATE_REGISTRATION, {"registration": {"data": {}, "timezone": "Europe/Paris"}}),
        (rules.SEARCH, SEARCH),
        (rules.SEARCH, {"search": {"ids": [UUID]}, "expand": ["registrations"]}),
        (rules.LOGIN, LOGIN),
    ],
)
def test_valid_bodies_pass(rule, body):
    rules.check(rule, body)


def test_an_unknown_property_is_a_json_error_and_every_error_is_reported_at_once():
    body = {"key": {"name": "", "type": "HMAC", "algorithm": "HS1", "secert": "x"}}

    errors = refusal(rules.KEY_IMPORT, body)

    assert errors["generalErrors"][0]["code"] == "[invalidJSON]"
    assert "[key.secert]" in errors["generalErrors"][0]["message"]
    assert set(errors["fieldErrors"]) == {"key.name", "key.algorithm"}


def test_a_patch_body_is_checked_for_types_only():
    rules.check(rules.WEBHOOK, {"webhook": {"url": "http://bff.example/hooks/"}}, partial=True)
    errors = refusal(rules.WEBHOOK, {"webhook": {"readTimeout": "slow"}}, partial=True)

    assert list(errors["fieldErrors"]) == ["webhook.readTimeout"]


def test_the_old_kickstart_key_import_is_refused():
    """Issue: FusionAuth's kickstart stopped at this body (no "type": "HMAC")."""
    old = {
        "key": {
            "algorithm": "HS256",
            "name": "ChangeBank webhook signing key",
            "secret": "dev-webhook-signing-secret-change-me-0123456789abcdef0123456789",
        }
    }

    errors = refusal(rules.KEY_IMPORT, old)

    assert errors["fieldErrors"]["key.type"][0]["code"] == "[blank]key.type"
