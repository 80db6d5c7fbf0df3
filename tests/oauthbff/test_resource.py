"""oauthbff.resource: who may call our JSON APIs, proven against a real (local) issuer over HTTP."""

import time

import pytest
from django.contrib.auth.models import Group, User
from django.http import JsonResponse
from django.test import Client, RequestFactory
from django.views import View

from oauthbff.models import OIDCSession
from oauthbff.resource import TokenRequiredMixin, require_token
from tests.changebank.fakes import CLIENT_ID, sign_in_locally, use_local_issuer

pytestmark = pytest.mark.django_db

CHANGE = "/api/make-change?total=3.24"
PANIC = "/api/panic"


@pytest.fixture
def issuer(settings):
    return use_local_issuer(settings)


def bearer(token):
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def make_user(email, roles):
    user = User.objects.create_user(username=email, email=email)
    for role in roles:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


def assert_challenge(response, error=None):
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    challenge = response["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="api"')
    if error:
        assert f'error="{error}"' in challenge
    else:
        assert "error=" not in challenge
    return response.json()


# --- the happy paths -----------------------------------------------------------------------------
def test_header_token_with_role_is_accepted(client, issuer):
    response = client.get(CHANGE, **bearer(issuer.mint(roles=["customer"])))
    assert response.status_code == 200
    assert response.json() == {"total": 3.24, "nickels": 64, "pennies": 4}


def test_cookie_token_is_accepted(client, issuer):
    client.cookies["app.at"] = issuer.mint(roles=["teller"])
    assert client.get(CHANGE).json()["nickels"] == 64


def test_the_cookie_is_a_setting(client, settings, issuer):
    token = issuer.mint(roles=["teller"])
    settings.OAUTHBFF = {**settings.OAUTHBFF, "ACCESS_TOKEN_COOKIE": "api.token"}
    client.cookies["app.at"] = token
    assert_challenge(client.get(CHANGE))
    client.cookies["api.token"] = token
    assert client.get(CHANGE).status_code == 200
    settings.OAUTHBFF = {**settings.OAUTHBFF, "ACCESS_TOKEN_COOKIE": ""}
    assert_challenge(client.get(CHANGE))


def test_header_wins_over_cookie(client, issuer):
    client.cookies["app.at"] = issuer.mint(roles=["customer"])
    response = client.get(CHANGE, **bearer("not-a-token"))
    assert_challenge(response, "invalid_token")


def test_token_within_the_clock_skew_is_still_accepted(client, issuer):
    now = int(time.time())
    token = issuer.mint(iat=now - 400, exp=now - 20)
    assert client.get(CHANGE, **bearer(token)).status_code == 200


def test_jwks_is_fetched_once_and_then_cached(client, issuer):
    for _ in range(3):
        assert client.get(CHANGE, **bearer(issuer.mint())).status_code == 200
    assert issuer.hits.count("/.well-known/jwks.json") == 1


# --- 401: missing and bad tokens -----------------------------------------------------------------------
def test_no_credentials_is_401_with_a_bare_challenge(client, issuer):
    body = assert_challenge(client.get(CHANGE))
    assert body["error"] == "unauthorized"
    assert body["message"]


def _now():
    return int(time.time())


BAD_TOKENS = {
    "expired": lambda i: i.mint(iat=_now() - 7200, exp=_now() - 3600),
    "not yet valid": lambda i: i.mint(nbf=_now() + 3600),
    "issued in the future": lambda i: i.mint(iat=_now() + 3600, exp=_now() + 7200),
    "another audience": lambda i: i.mint(aud="some-other-client"),
    "another issuer": lambda i: i.mint(iss="https://evil.example"),
    "unknown key id": lambda i: i.mint(key=i.stranger_key, kid="someone-elses-key"),
    "forged with our kid": lambda i: i.mint(key=i.stranger_key),
    "alg none": lambda i: i.mint_unsigned(roles=["teller"]),
    "HS256 keyed with the public key": lambda i: i.mint_hmac_with_public_key(),
    "no exp": lambda i: i.mint(exp=None),
    "no sub": lambda i: i.mint(sub=None),
    "tampered payload": lambda i: _tamper(i.mint()),
    "not a JWT": lambda i: "opaque-looking-token",
}


def _tamper(token):
    header, payload, signature = token.split(".")
    return f"{header}.{payload[:-2]}{'AA' if payload[-2:] != 'AA' else 'BB'}.{signature}"


@pytest.mark.parametrize("case", BAD_TOKENS)
@pytest.mark.parametrize("via", ["header", "cookie"])
def test_bad_tokens_are_401(client, issuer, case, via):
    token = BAD_TOKENS[case](issuer)
    if via == "header":
        response = client.get(CHANGE, **bearer(token))
    else:
        client.cookies["app.at"] = token
        response = client.get(CHANGE)
    body = assert_challenge(response, "invalid_token")
    assert body["error"] == "invalid_token"
    assert token not in response.content.decode()
    assert token not in response["WWW-Authenticate"]


def test_specific_reasons_are_given(client, issuer):
    def reason(token):
        return client.get(CHANGE, **bearer(token)).json()["message"]

    assert "expired" in reason(BAD_TOKENS["expired"](issuer))
    assert "not valid yet" in reason(BAD_TOKENS["not yet valid"](issuer))
    assert "audience" in reason(BAD_TOKENS["another audience"](issuer))
    assert "issuer" in reason(BAD_TOKENS["another issuer"](issuer))
    assert "unknown key" in reason(BAD_TOKENS["unknown key id"](issuer))
    assert "algorithm is not allowed" in reason(BAD_TOKENS["alg none"](issuer))
    assert "algorithm" in reason(BAD_TOKENS["HS256 keyed with the public key"](issuer))


@pytest.mark.parametrize(
    "claims",
    [{"nonce": "n"}, {"at_hash": "x"}, {"events": {}}, {"exp": "soon"}, {"aud": 5}, {"iat": True}],
)
def test_id_tokens_logout_tokens_and_odd_claims_are_refused(client, issuer, claims):
    assert_challenge(client.get(CHANGE, **bearer(issuer.mint(**claims))), "invalid_token")


def test_unknown_key_refetches_the_jwks_at_most_once(client, issuer):
    for _ in range(3):
        token = issuer.mint(key=issuer.stranger_key, kid="rotated-away")
        assert client.get(CHANGE, **bearer(token)).status_code == 401
    assert issuer.hits.count("/.well-known/jwks.json") == 2


@pytest.mark.parametrize(
    "header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer  ", "Bearer a b", "Token abc"]
)
def test_malformed_authorization_header_is_invalid_request(client, issuer, header):
    response = client.get(CHANGE, HTTP_AUTHORIZATION=header)
    assert assert_challenge(response, "invalid_request")["error"] == "invalid_request"


def test_configured_api_audience_replaces_the_client_id(client, settings, issuer):
    settings.OAUTHBFF = {**settings.OAUTHBFF, "API_AUDIENCE": ["https://api.changebank.example"]}
    assert client.get(CHANGE, **bearer(issuer.mint(aud=CLIENT_ID))).status_code == 401
    token = issuer.mint(aud=["https://api.changebank.example", "other"])
    assert client.get(CHANGE, **bearer(token)).status_code == 200


def test_algorithm_outside_the_allowlist_is_refused(client, settings, issuer):
    settings.OAUTHBFF = {**settings.OAUTHBFF, "ALLOWED_ALGORITHMS": ["ES256"]}
    response = client.get(CHANGE, **bearer(issuer.mint()))
    assert "algorithm" in assert_challenge(response, "invalid_token")["message"]


def test_unreachable_provider_is_503_not_a_crash(client, settings, issuer):
    from tests.fixtures.stack import free_port

    settings.OAUTHBFF = {**settings.OAUTHBFF, "ISSUER": f"http://127.0.0.1:{free_port()}"}
    response = client.get(CHANGE, **bearer(issuer.mint()))
    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"
    assert response["Retry-After"]


# --- 403: roles ----------------------------------------------------------------------------------------
def test_panic_is_for_tellers_only(client, issuer):
    response = client.post(PANIC, **bearer(issuer.mint(roles=["customer"])))
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    assert 'error="insufficient_scope"' in response["WWW-Authenticate"]
    response = client.post(PANIC, **bearer(issuer.mint(roles=["teller", "customer"])))
    assert response.status_code == 200
    assert response.json() == {"message": "We've called the police!"}


@pytest.mark.parametrize("roles", [[], ["admin"], "customer", None])
def test_make_change_needs_customer_or_teller(client, issuer, roles):
    response = client.get(CHANGE, **bearer(issuer.mint(roles=roles)))
    if roles == "customer":  # a bare string is read as one role
        assert response.status_code == 200
    else:
        assert response.status_code == 403


# --- CSRF: ambient credentials only ----------------------------------------------------------------------
def test_bearer_header_posts_need_no_csrf_token(issuer):
    client = Client(enforce_csrf_checks=True)
    assert client.post(PANIC, **bearer(issuer.mint(roles=["teller"]))).status_code == 200


def test_cookie_token_posts_need_a_csrf_token(issuer):
    client = Client(enforce_csrf_checks=True)
    client.cookies["app.at"] = issuer.mint(roles=["teller"])
    response = client.post(PANIC)
    assert response.status_code == 403
    assert response.json()["error"] == "csrf_failed"
    client.get("/api/make-change?total=1")  # any request; the CSRF cookie is set below
    client.cookies["bff_csrftoken"] = "a" * 32
    response = client.post(PANIC, HTTP_X_CSRFTOKEN="a" * 32)
    assert response.status_code == 200


# --- the BFF session ----------------------------------------------------------------------------------
def test_session_is_authorised_by_the_users_roles(client, issuer):
    teller = make_user("teller@example.com", ["teller", "customer"])
    sign_in_locally(client, teller, issuer.mint(roles=["teller"]), issuer=issuer)
    assert client.get(CHANGE).json()["pennies"] == 4
    assert client.post(PANIC).status_code == 200


def test_session_without_the_role_is_403(client, issuer):
    customer = make_user("customer@example.com", ["customer"])
    sign_in_locally(client, customer, issuer.mint(), issuer=issuer)
    assert client.get(CHANGE).status_code == 200
    assert client.post(PANIC).status_code == 403


def test_session_posts_stay_csrf_protected(issuer):
    client = Client(enforce_csrf_checks=True)
    teller = make_user("teller@example.com", ["teller"])
    sign_in_locally(client, teller, issuer.mint(roles=["teller"]), issuer=issuer)
    response = client.post(PANIC)
    assert response.status_code == 403
    assert response.json()["error"] == "csrf_failed"
    client.cookies["bff_csrftoken"] = "b" * 32
    assert client.post(PANIC, HTTP_X_CSRFTOKEN="b" * 32).status_code == 200


def test_ended_session_is_401_json_not_a_redirect(client, issuer):
    customer = make_user("customer@example.com", ["customer"])
    sign_in_locally(client, customer, issuer.mint(), issuer=issuer)
    OIDCSession.objects.update(access_expires_at=None, refresh_token="")
    response = client.get(CHANGE)
    assert response.status_code == 401
    assert response.json()["error"] in ("session_expired", "unauthorized")


def test_bearer_header_is_checked_even_with_a_session(client, issuer):
    teller = make_user("teller@example.com", ["teller"])
    sign_in_locally(client, teller, issuer.mint(roles=["teller"]), issuer=issuer)
    response = client.get(CHANGE, **bearer(issuer.mint(aud="elsewhere")))
    assert_challenge(response, "invalid_token")


# --- introspection for opaque tokens -------------------------------------------------------------------
def test_opaque_tokens_are_introspected_when_configured(client, settings, issuer):
    settings.OAUTHBFF = {**settings.OAUTHBFF, "INTROSPECT_OPAQUE_TOKENS": True}
    issuer.introspection["opaque-teller"] = {
        "active": True,
        "iss": issuer.url,
        "aud": CLIENT_ID,
        "sub": "u-1",
        "exp": int(time.time()) + 300,
        "roles": ["teller"],
    }
    issuer.introspection["opaque-elsewhere"] = {**issuer.introspection["opaque-teller"], "aud": "x"}
    issuer.introspection["opaque-stale"] = {
        **issuer.introspection["opaque-teller"],
        "exp": (int(time.time()) - 3600) * 1000,  # milliseconds, as in FusionAuth's docs example
    }
    assert client.post(PANIC, **bearer("opaque-teller")).status_code == 200
    assert issuer.hits.count("/oauth2/introspect") == 1
    assert_challenge(client.get(CHANGE, **bearer("opaque-unknown")), "invalid_token")
    assert_challenge(client.get(CHANGE, **bearer("opaque-elsewhere")), "invalid_token")
    assert_challenge(client.get(CHANGE, **bearer("opaque-stale")), "invalid_token")


def test_opaque_tokens_are_refused_without_introspection(client, issuer):
    issuer.introspection["opaque-teller"] = {"active": True, "roles": ["teller"]}
    response = client.get(CHANGE, **bearer("opaque-teller"))
    assert "not a signed JWT" in assert_challenge(response, "invalid_token")["message"]
    assert "/oauth2/introspect" not in issuer.hits


# --- the decorator and the mixin on their own ----------------------------------------------------------
class TellerView(TokenRequiredMixin, View):
    required_roles = "teller"

    def post(self, request):
        return JsonResponse({"sub": request.principal.subject, "via": request.principal.via})


@require_token()
def any_role_view(request):
    return JsonResponse({"roles": sorted(request.principal.roles)})


def test_mixin_protects_a_class_based_view(issuer):
    factory = RequestFactory()
    view = TellerView.as_view()
    assert view.csrf_exempt
    token = issuer.mint(roles=["teller"], sub="teller-sub")
    response = view(factory.post("/x", **bearer(token)))
    assert response.status_code == 200
    assert response.content == b'{"sub": "teller-sub", "via": "header"}'
    assert view(factory.post("/x", **bearer(issuer.mint(roles=["customer"])))).status_code == 403
    request = factory.post("/x")
    request.user = type("Anon", (), {"is_authenticated": False})()
    assert view(request).status_code == 401


def test_decorator_without_roles_needs_only_a_valid_token(issuer):
    factory = RequestFactory()
    response = any_role_view(factory.get("/x", **bearer(issuer.mint(roles=[]))))
    assert response.status_code == 200
    assert response.content == b'{"roles": []}'


def test_introspection_with_the_provider_down_is_503(client, settings, issuer):
    from tests.fixtures.stack import free_port

    settings.OAUTHBFF = {
        **settings.OAUTHBFF,
        "INTROSPECT_OPAQUE_TOKENS": True,
        "ISSUER": f"http://127.0.0.1:{free_port()}",
    }
    response = client.get(CHANGE, **bearer("opaque-token"))
    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"
    assert "opaque-token" not in response.content.decode()
