"""FusionAuth's refusals over HTTP: 400 with its Errors object for bad bodies and ids, the rules that
need the stored objects (existing keys, unique names, registered users), and nothing changed."""

import uuid

import jwt
import pytest

from tests.devidp.conftest import CALLBACK, code_for, token_request


def field_codes(response):
    assert response.status_code == 400, response.text
    return {e["code"] for errors in response.json()["fieldErrors"].values() for e in errors}


def test_the_old_kickstart_key_import_is_a_400_and_no_key_is_made(devidp):
    key_id = str(uuid.uuid4())
    body = {"key": {"algorithm": "HS256", "name": f"hooks-{key_id}", "secret": "s" * 64}}

    refused = devidp.api("POST", f"/api/key/import/{key_id}", json=body)
    body["key"]["type"] = "HMAC"
    imported = devidp.api("POST", f"/api/key/import/{key_id}", json=body)

    assert field_codes(refused) == {"[blank]key.type"}
    assert imported.status_code == 200, imported.text
    assert imported.json()["key"]["type"] == "HMAC"


def test_key_names_are_unique(devidp):
    name = f"signing-{uuid.uuid4().hex[:8]}"
    body = {"key": {"algorithm": "HS512", "name": name}}

    first = devidp.api("POST", "/api/key/generate", json=body)
    second = devidp.api("POST", "/api/key/generate", json=body)

    assert first.status_code == 200, first.text
    assert field_codes(second) == {"[duplicate]key.name"}


def test_a_webhook_signed_with_an_unknown_key_is_refused(devidp):
    body = {
        "webhook": {
            "url": "http://127.0.0.1:9/hook",
            "connectTimeout": 1000,
            "readTimeout": 1000,
            "signatureConfiguration": {"enabled": True, "signingKeyId": str(uuid.uuid4())},
        }
    }

    response = devidp.api("POST", f"/api/webhook/{uuid.uuid4()}", json=body)

    assert field_codes(response) == {"[invalid]webhook.signatureConfiguration.signingKeyId"}


def test_a_refused_patch_changes_nothing(devidp):
    path = f"/api/webhook/{devidp.webhook_id}"
    before = devidp.api("GET", path).json()["webhook"]

    bad_url = devidp.api("PATCH", path, json={"webhook": {"url": "not a url"}})
    bad_type = devidp.api("PATCH", path, json={"webhook": {"global": "yes"}})

    assert field_codes(bad_url) == {"[invalid]webhook.url"}
    assert field_codes(bad_type) == {"[couldNotConvert]webhook.global"}
    assert devidp.api("GET", path).json()["webhook"] == before


def test_tenant_and_application_refuse_unknown_keys_and_bad_enums(devidp):
    key = {"jwtConfiguration": {"accessTokenKeyId": str(uuid.uuid4())}}

    tenant = devidp.api("PATCH", f"/api/tenant/{devidp.tenant_id}", json={"tenant": key})
    application = devidp.api(
        "PATCH",
        f"/api/application/{devidp.application_id}",
        json={"application": {"oauthConfiguration": {"logoutBehavior": "Everywhere"}}},
    )

    assert field_codes(tenant) == {"[invalid]tenant.jwtConfiguration.accessTokenKeyId"}
    assert field_codes(application) == {
        "[couldNotConvert]application.oauthConfiguration.logoutBehavior"
    }


def test_ids_in_urls_must_be_uuids(devidp):
    response = devidp.api("GET", f"/api/user/registration/ada/{devidp.application_id}")

    assert field_codes(response) == {"[couldNotConvert]userId"}


def test_registering_an_unknown_user_is_an_empty_404(devidp):
    body = {"registration": {"applicationId": devidp.application_id}}

    response = devidp.api("POST", f"/api/user/registration/{uuid.uuid4()}", json=body)

    assert response.status_code == 404 and response.content == b""


def test_registration_rules_that_need_the_stored_objects(devidp):
    customer = devidp.user_id("customer@example.com")
    again = {"registration": {"applicationId": devidp.application_id}}
    taken = {
        "user": {"email": "customer@example.com", "password": "password"},
        "registration": {"applicationId": devidp.application_id},
    }
    nowhere = {
        "user": {"email": f"n-{uuid.uuid4().hex[:6]}@example.com", "password": "password"},
        "registration": {"applicationId": str(uuid.uuid4())},
    }

    assert field_codes(devidp.api("POST", f"/api/user/registration/{customer}", json=again)) == {
        "[duplicate]registration"
    }
    assert field_codes(devidp.api("POST", "/api/user/registration", json=taken)) == {
        "[duplicate]user.email"
    }
    assert field_codes(devidp.api("POST", "/api/user/registration", json=nowhere)) == {
        "[invalid]registration.applicationId"
    }


def test_search_ids_must_be_uuids(devidp):
    response = devidp.api("POST", "/api/user/search", json={"search": {"ids": ["sub-1"]}})

    assert field_codes(response) == {"[couldNotConvert]search.ids[0]"}


# --- ids in capitals (FusionAuth parses ids as UUIDs) -------------------------------------------


@pytest.fixture
def upper(devidp):
    return devidp.client_id.upper()


def test_authorize_and_token_take_a_client_id_in_capitals(idp, upper, monkeypatch):
    monkeypatch.setattr(idp, "client_id", upper)

    code, verifier, _ = code_for(idp, "teller@example.com")
    basic = token_request(
        idp,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": verifier,
        },
    )
    code, verifier, _ = code_for(idp, "teller@example.com")
    post = token_request(
        idp,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": verifier,
        },
        auth="post",
    )

    assert basic.status_code == 200, basic.text
    assert post.status_code == 200, post.text
    refreshed = token_request(
        idp, {"grant_type": "refresh_token", "refresh_token": basic.json()["refresh_token"]}
    )
    assert refreshed.status_code == 200, refreshed.text
    claims = jwt.decode(basic.json()["access_token"], options={"verify_signature": False})
    assert claims["aud"] == upper.lower()


def test_the_apis_take_ids_in_capitals(devidp, upper):
    teller = devidp.user_id("teller@example.com").upper()

    application = devidp.api("GET", f"/api/application/{upper}")
    registration = devidp.api("GET", f"/api/user/registration/{teller}/{upper}")
    login = devidp.api(
        "POST",
        "/api/login",
        json={"loginId": "teller@example.com", "password": "password", "applicationId": upper},
    )
    search = devidp.api("POST", "/api/user/search", json={"search": {"ids": [teller]}})
    logout = devidp.http.get(
        f"{devidp.url}/oauth2/logout",
        params={"client_id": upper},
        allow_redirects=False,
        timeout=10,
    )

    assert application.status_code == 200
    assert application.json()["application"]["id"] == upper.lower()
    assert registration.status_code == 200
    assert login.status_code == 200
    introspected = devidp.http.post(
        f"{devidp.url}/oauth2/introspect",
        data={"client_id": upper, "token": login.json()["token"]},
        timeout=10,
    )
    assert introspected.json()["active"] is True
    assert search.json()["total"] == 1
    assert logout.status_code == 302


def test_the_login_api_takes_no_application_id_and_no_jwt_as_fusionauth_does(devidp):
    from tests.devidp.conftest import verify

    body = {"loginId": "teller@example.com", "password": "password"}

    tenant = devidp.api("POST", "/api/login", json=body)
    no_jwt = devidp.api(
        "POST", "/api/login", json={**body, "applicationId": devidp.application_id, "noJWT": True}
    )

    assert tenant.status_code == 200, tenant.text
    claims = verify(devidp, tenant.json()["token"], options={"verify_aud": False})
    assert "aud" not in claims and "roles" not in claims
    assert claims["sub"] == devidp.user_id("teller@example.com")
    assert no_jwt.status_code == 200 and "token" not in no_jwt.json()
    assert no_jwt.json()["user"]["email"] == "teller@example.com"


def test_the_refresh_token_api_needs_a_token_or_a_user(devidp):
    from tests.devidp.conftest import tokens_for

    tokens = tokens_for(devidp, "customer@example.com")
    path = "/api/jwt/refresh"

    assert field_codes(devidp.api("GET", path)) == {"[missing]userId"}
    assert field_codes(devidp.api("DELETE", f"{path}?userId=cleo")) == {"[couldNotConvert]userId"}
    revoked = devidp.api("DELETE", path, params={"token": tokens["refresh_token"]})
    again = devidp.api("DELETE", path, params={"token": tokens["refresh_token"]})
    assert revoked.status_code == 200
    assert again.status_code == 404
    assert devidp.api("GET", f"{path}/{tokens['refresh_token_id']}").status_code == 404


# Values no field of these endpoints can convert (none of the fields below is a Boolean or Long).
UNCONVERTIBLE = [[None], 1.5, True, 2**70]


def test_odd_bodies_are_400s_never_server_errors(devidp):
    """Every shape a JSON body can take, at every API that checks one: FusionAuth's 400, never a
    500 (the view would otherwise reach code that assumes the checked shape), nothing changed."""
    teller = devidp.user_id("teller@example.com")
    targets = [
        ("POST", f"/api/key/import/{uuid.uuid4()}", "key", ["name", "type"]),
        ("POST", f"/api/key/generate/{uuid.uuid4()}", "key", ["algorithm", "length"]),
        ("PATCH", f"/api/tenant/{devidp.tenant_id}", "tenant", ["jwtConfiguration", "issuer"]),
        ("PATCH", f"/api/application/{devidp.application_id}", "application", ["roles", "name"]),
        ("PATCH", f"/api/webhook/{devidp.webhook_id}", "webhook", ["eventsEnabled", "tenantIds"]),
        ("POST", "/api/user/registration", "registration", ["applicationId", "roles"]),
        (
            "PATCH",
            f"/api/user/registration/{teller}/{devidp.application_id}",
            "registration",
            ["roles", "data"],
        ),
        ("POST", "/api/user/search", "search", ["ids", "sortFields"]),
    ]
    before = devidp.registration("teller@example.com")
    answers = []
    for method, path, top, fields in targets:
        bodies = [[], "x", 1.5, {top: None}, {top: []}, {top: "x"}]
        bodies += [{top: {field: value}} for field in fields for value in UNCONVERTIBLE]
        for body in bodies:
            response = devidp.api(method, path, json=body)
            answers.append((response.status_code, method, path, body))

    assert [answer for answer in answers if answer[0] != 400] == []
    assert devidp.registration("teller@example.com") == before
