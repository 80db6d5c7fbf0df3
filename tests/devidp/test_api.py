"""The FusionAuth API subset, called with the official fusionauth-client over HTTP."""

import base64
import hashlib
import json
import uuid

import jwt
import pytest
import requests
from fusionauth.fusionauth_client import FusionAuthClient


@pytest.fixture
def client(devidp):
    return FusionAuthClient(devidp.api_key, devidp.url)


@pytest.fixture
def teller(devidp):
    """The teller's user id; its registration data is put back after the test."""
    original = devidp.registration("teller@example.com")
    yield devidp.user_id("teller@example.com")
    path = f"/api/user/registration/{devidp.user_id('teller@example.com')}/{devidp.application_id}"
    devidp.api("PUT", path, json={"registration": {k: original[k] for k in ("data", "roles")}})


def test_retrieve_registration(client, devidp, teller):
    response = client.retrieve_registration(teller, devidp.application_id)

    assert response.status == 200
    registration = response.success_response["registration"]
    assert registration["applicationId"] == devidp.application_id
    assert sorted(registration["roles"]) == ["customer", "teller"]
    assert isinstance(registration["data"]["userData"], str)
    for instant in ("insertInstant", "lastUpdateInstant", "lastLoginInstant"):
        assert isinstance(registration.get(instant, 0), int)
    uuid.UUID(registration["id"])


def test_unknown_registration_is_404_and_bad_key_is_401_both_with_empty_bodies(devidp, teller):
    missing = FusionAuthClient(devidp.api_key, devidp.url).retrieve_registration(
        str(uuid.uuid4()), devidp.application_id
    )
    unauthorised = FusionAuthClient("wrong-key", devidp.url).retrieve_registration(
        teller, devidp.application_id
    )

    assert missing.status == 404 and missing.response.content == b""
    assert unauthorised.status == 401 and unauthorised.response.content == b""


def test_patch_registration_merges_data_and_bumps_last_update_instant(client, devidp, teller):
    before = devidp.registration("teller@example.com")

    response = client.patch_registration(
        teller,
        {"registration": {"applicationId": devidp.application_id, "data": {"theme": "dark"}}},
    )

    assert response.status == 200
    after = response.success_response["registration"]
    assert after["data"] == {**before["data"], "theme": "dark"}
    assert sorted(after["roles"]) == sorted(before["roles"])
    assert after["lastUpdateInstant"] > before["lastUpdateInstant"]
    assert response.success_response["user"]["email"] == "teller@example.com"


def test_update_registration_replaces_it(client, devidp, teller):
    response = client.update_registration(
        teller,
        {
            "registration": {
                "applicationId": devidp.application_id,
                "roles": ["teller"],
                "data": {"userData": "replaced"},
            }
        },
    )

    assert response.status == 200
    assert response.success_response["registration"]["data"] == {"userData": "replaced"}
    assert response.success_response["registration"]["roles"] == ["teller"]


def test_last_update_instant_strictly_increases_on_every_change(devidp, teller):
    instants = [
        devidp.set_registration_data("teller@example.com", {"n": n})["lastUpdateInstant"]
        for n in range(5)
    ]

    assert instants == sorted(set(instants))


def test_merge_patch_deletes_with_null_and_unknown_roles_are_400(devidp, teller):
    path = f"/api/user/registration/{teller}/{devidp.application_id}"
    devidp.set_registration_data("teller@example.com", {"a": 1, "b": 2})

    deleted = devidp.set_registration_data("teller@example.com", {"a": None})
    bad_roles = devidp.api("PATCH", path, json={"registration": {"roles": ["pilot"]}})
    bad_json = devidp.api(
        "PUT", path, data="{not json", headers={"Content-Type": "application/json"}
    )

    assert "a" not in deleted["data"] and deleted["data"]["b"] == 2
    assert bad_roles.status_code == 400
    assert "registration.roles" in bad_roles.json()["fieldErrors"]
    assert bad_json.status_code == 400
    assert bad_json.json()["generalErrors"][0]["code"] == "[invalidJSON]"


def test_search_by_ids(client, devidp):
    ids = [devidp.user_id("admin@example.com"), devidp.user_id("customer@example.com")]

    response = client.search_users_by_ids(ids + [str(uuid.uuid4())])

    assert response.status == 200
    found = response.success_response
    assert found["total"] == 2
    assert sorted(u["id"] for u in found["users"]) == sorted(ids)
    customer = next(u for u in found["users"] if u["email"] == "customer@example.com")
    assert customer["registrations"][0]["roles"] == ["customer"]


def test_search_by_query_pages_and_expands_registrations(client, devidp):
    request = {
        "search": {
            "queryString": "*",
            "numberOfResults": 2,
            "startRow": 0,
            "sortFields": [{"name": "email", "order": "asc"}],
        },
        "expand": ["registrations"],
    }

    first = client.search_users_by_query(request).success_response
    request["search"]["startRow"] = 2
    second = client.search_users_by_query(request).success_response

    emails = [u["email"] for u in first["users"] + second["users"]]
    assert first["total"] == second["total"] == 3
    assert emails == ["admin@example.com", "customer@example.com", "teller@example.com"]
    assert all("registrations" in u for u in first["users"])
    assert first["expandable"] == ["memberships"]


def test_search_with_an_elasticsearch_nested_query_on_roles(client, devidp):
    query = {
        "bool": {
            "must": [
                {
                    "nested": {
                        "path": "registrations",
                        "query": {
                            "bool": {
                                "must": [
                                    {
                                        "match": {
                                            "registrations.applicationId": devidp.application_id
                                        }
                                    },
                                    {"match": {"registrations.roles": "teller"}},
                                ]
                            }
                        },
                    }
                }
            ]
        }
    }

    response = client.search_users_by_query({"search": {"query": json.dumps(query)}, "expand": []})

    assert response.status == 200
    assert [u["email"] for u in response.success_response["users"]] == ["teller@example.com"]
    assert "registrations" not in response.success_response["users"][0]


def test_search_without_criteria_is_400(devidp):
    response = devidp.api("POST", "/api/user/search", json={"search": {}})

    assert response.status_code == 400
    assert "fieldErrors" in response.json()


def test_registration_update_sends_a_signed_webhook(devidp, teller, webhook_receiver):
    before = devidp.registration("teller@example.com")

    after = devidp.set_registration_data("teller@example.com", {"userData": "from the IdP"})
    delivery = webhook_receiver.next(event_type="user.registration.update")

    event = delivery["json"]["event"]
    assert uuid.UUID(event["id"])
    assert event["applicationId"] == devidp.application_id
    assert event["original"]["data"] == before["data"]
    assert event["registration"]["data"]["userData"] == "from the IdP"
    assert event["registration"]["lastUpdateInstant"] == after["lastUpdateInstant"]
    assert event["user"]["id"] == teller
    signature = delivery["headers"]["X-FusionAuth-Signature-JWT"]
    header = jwt.get_unverified_header(signature)
    claims = jwt.decode(signature, devidp.webhook_secret, algorithms=["HS256"])
    digest = base64.b64encode(hashlib.sha256(delivery["body"]).digest()).decode()
    assert header["kid"] == devidp.webhook_signing_key_id
    assert claims["request_body_sha256"] == digest


def test_failed_webhooks_are_retried_with_the_same_event(devidp, teller, webhook_receiver):
    webhook_receiver.statuses = [500, 503]

    devidp.set_registration_data("teller@example.com", {"retry": True})
    attempts = [webhook_receiver.next(event_type="user.registration.update") for _ in range(3)]

    assert len({a["json"]["event"]["id"] for a in attempts}) == 1
    assert attempts[0]["body"] == attempts[2]["body"]


def test_registration_create_and_delete_send_events(devidp, webhook_receiver):
    email = f"new-{uuid.uuid4().hex[:8]}@example.com"
    created = devidp.api(
        "POST",
        "/api/user/registration",
        json={
            "user": {"email": email, "password": "password"},
            "registration": {"applicationId": devidp.application_id, "roles": ["customer"]},
        },
    )
    user_id = created.json()["user"]["id"]
    create_event = webhook_receiver.next(event_type="user.registration.create")["json"]["event"]

    deleted = devidp.api("DELETE", f"/api/user/registration/{user_id}/{devidp.application_id}")
    delete_event = webhook_receiver.next(event_type="user.registration.delete")["json"]["event"]
    user_deleted = devidp.api("DELETE", f"/api/user/{user_id}")
    user_event = webhook_receiver.next(event_type="user.delete")["json"]["event"]

    assert created.status_code == 200
    assert create_event["user"]["email"] == email
    assert deleted.status_code == 200 and delete_event["registration"]["roles"] == ["customer"]
    assert user_deleted.status_code == 200 and user_event["user"]["id"] == user_id
    assert devidp.api("GET", f"/api/user/{user_id}").status_code == 404


def test_tenant_and_application_switches_answer_fusionauth_shapes(devidp):
    tenant = devidp.api("GET", f"/api/tenant/{devidp.tenant_id}").json()["tenant"]
    application = devidp.api("GET", f"/api/application/{devidp.application_id}").json()[
        "application"
    ]

    assert tenant["issuer"] == devidp.url
    assert tenant["jwtConfiguration"]["refreshTokenUsagePolicy"] == "Reusable"
    assert tenant["eventConfiguration"]["events"]["user.registration.update"]["enabled"] is True
    assert {r["name"] for r in application["roles"]} == {"admin", "teller", "customer"}
    assert application["oauthConfiguration"]["clientId"] == devidp.client_id
    assert "clientSecret" not in application["oauthConfiguration"]
    assert (
        "http://127.0.0.1:8000/auth/callback/"
        in application["oauthConfiguration"]["authorizedRedirectURLs"]
    )


def test_unknown_api_paths_are_empty_404s_after_the_key_check(devidp):
    assert devidp.api("GET", "/api/nothing-here").status_code == 404
    assert devidp.api("GET", "/api/nothing-here").content == b""
    assert requests.get(f"{devidp.url}/api/nothing-here", timeout=5).status_code == 401


def test_json_patch_registration(devidp, teller):
    path = f"/api/user/registration/{teller}/{devidp.application_id}"
    patch = [
        {"op": "add", "path": "/registration/data/colour", "value": "green"},
        {"op": "replace", "path": "/registration/roles", "value": ["teller"]},
    ]

    patched = devidp.api(
        "PATCH",
        path,
        data=json.dumps(patch),
        headers={"Content-Type": "application/json-patch+json"},
    )
    failed_test = devidp.api(
        "PATCH",
        path,
        data=json.dumps([{"op": "test", "path": "/registration/data/colour", "value": "red"}]),
        headers={"Content-Type": "application/json-patch+json"},
    )

    assert patched.status_code == 200, patched.text
    assert patched.json()["registration"]["data"]["colour"] == "green"
    assert patched.json()["registration"]["roles"] == ["teller"]
    assert failed_test.status_code == 400
    assert devidp.registration("teller@example.com")["data"]["colour"] == "green"


def test_refresh_token_api_reads_and_revokes_a_session_by_sid(devidp):
    from tests.devidp.conftest import token_request, tokens_for

    tokens = tokens_for(devidp, "admin@example.com")
    sid = tokens["refresh_token_id"]

    found = devidp.api("GET", f"/api/jwt/refresh/{sid}")
    revoked = devidp.api("DELETE", f"/api/jwt/refresh/{sid}")
    refresh = token_request(
        devidp, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )

    assert found.status_code == 200
    assert found.json()["refreshToken"]["userId"] == devidp.user_id("admin@example.com")
    assert revoked.status_code == 200
    assert devidp.api("GET", f"/api/jwt/refresh/{sid}").status_code == 404
    assert refresh.status_code == 400 and refresh.json()["error"] == "invalid_grant"


def test_login_api_issues_a_jwt_like_fusionauth(devidp):
    from tests.devidp.conftest import verify

    body = {
        "loginId": "teller@example.com",
        "password": "password",
        "applicationId": devidp.application_id,
    }

    response = devidp.api("POST", "/api/login", json=body)
    wrong = devidp.api("POST", "/api/login", json={**body, "password": "nope"})

    assert response.status_code == 200
    claims = verify(devidp, response.json()["token"])
    assert claims["roles"] == ["customer", "teller"]
    assert claims["sub"] == devidp.user_id("teller@example.com")
    assert response.json()["tokenExpirationInstant"] == claims["exp"] * 1000
    assert response.json()["user"]["email"] == "teller@example.com"
    assert wrong.status_code == 404 and wrong.content == b""
    introspected = requests.post(
        f"{devidp.url}/oauth2/introspect",
        data={"client_id": devidp.client_id, "token": response.json()["token"]},
        timeout=5,
    )
    assert introspected.json()["active"] is True


def test_login_api_for_an_unregistered_user_is_202_without_roles(devidp):
    email = f"walk-in-{uuid.uuid4().hex[:8]}@example.com"
    created = devidp.api(
        "POST",
        "/api/user/registration",
        json={
            "user": {"email": email, "password": "password"},
            "registration": {"applicationId": "3c219e58-ed0e-4b18-ad48-f4f92793ae32"},
        },
    )
    assert created.status_code == 200

    response = devidp.api(
        "POST",
        "/api/login",
        json={"loginId": email, "password": "password", "applicationId": devidp.application_id},
    )

    assert response.status_code == 202
    assert "roles" not in jwt.decode(response.json()["token"], options={"verify_signature": False})
    devidp.api("DELETE", f"/api/user/{created.json()['user']['id']}")
