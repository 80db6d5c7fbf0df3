"""OpenID Connect at FusionAuth's paths, over HTTP against a live development IdP."""

import threading
import time

import jwt
import pytest
import requests

from tests.devidp.conftest import CALLBACK, code_for, token_request, tokens_for, verify
from tests.fixtures.devidp import SignInError, pkce_pair


def test_discovery_names_fusionauth_endpoints_and_its_own_url_as_issuer(idp):
    document = requests.get(idp.discovery_url, timeout=5).json()

    assert document["issuer"] == idp.url
    for name, path in [
        ("authorization_endpoint", "/oauth2/authorize"),
        ("token_endpoint", "/oauth2/token"),
        ("userinfo_endpoint", "/oauth2/userinfo"),
        ("jwks_uri", "/.well-known/jwks.json"),
        ("end_session_endpoint", "/oauth2/logout"),
        ("introspection_endpoint", "/oauth2/introspect"),
        ("revocation_endpoint", "/oauth2/revoke"),
    ]:
        assert document[name] == idp.url + path
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert {"client_secret_basic", "client_secret_post"} <= set(
        document["token_endpoint_auth_methods_supported"]
    )
    assert document["backchannel_logout_supported"] is False


def test_tokens_verify_against_jwks_with_fusionauth_claims(idp):
    tokens = tokens_for(idp, "teller@example.com")

    access = verify(idp, tokens["access_token"])
    identity = verify(idp, tokens["id_token"])
    header = jwt.get_unverified_header(tokens["access_token"])

    user_id = idp.user_id("teller@example.com")
    assert header["alg"] == "RS256" and header["kid"]
    assert access["sub"] == identity["sub"] == tokens["userId"] == user_id
    assert access["aud"] == idp.client_id
    assert access["applicationId"] == idp.application_id
    assert sorted(access["roles"]) == ["customer", "teller"]
    assert access["email"] == "teller@example.com" and access["email_verified"] is True
    assert access["exp"] - access["iat"] == tokens["expires_in"] == 3600
    assert access["sid"] == identity["sid"] == tokens["refresh_token_id"]
    assert identity["nonce"] == "nonce-1"
    assert "roles" not in identity
    assert tokens["token_type"] == "Bearer"


def test_client_secret_post_works_and_a_reused_code_is_invalid_grant(idp):
    code, verifier, _ = code_for(idp)
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": CALLBACK,
        "code_verifier": verifier,
    }

    first = token_request(idp, data, auth="post")
    second = token_request(idp, data, auth="post")

    assert first.status_code == 200
    assert second.status_code == 400
    assert second.json()["error"] == "invalid_grant"
    assert "access_token" not in second.text


def test_wrong_client_secret_is_401_invalid_client(idp):
    code, verifier, _ = code_for(idp)
    response = requests.post(
        f"{idp.url}/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": verifier,
        },
        auth=(idp.client_id, "not-the-secret"),
        timeout=5,
    )

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize("verifier", [None, "a" * 50])
def test_pkce_is_required_and_checked(idp, verifier):
    code, _right, _ = code_for(idp)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
    if verifier:
        data["code_verifier"] = verifier

    response = token_request(idp, data)

    assert response.status_code == 400
    assert response.json()["error"] in ("invalid_grant", "invalid_request")


def test_authorize_without_pkce_challenge_is_refused(idp):
    url = idp.authorize_url(CALLBACK)

    response = requests.get(url, allow_redirects=False, timeout=5)

    assert response.status_code == 302
    assert "error=invalid_request" in response.headers["Location"]


def test_token_endpoint_takes_form_bodies_only(idp):
    response = requests.post(
        f"{idp.url}/oauth2/token",
        json={"grant_type": "authorization_code", "code": "x"},
        auth=(idp.client_id, idp.client_secret),
        timeout=5,
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_unknown_redirect_uri_is_an_error_page_never_a_redirect(idp):
    _verifier, challenge = pkce_pair()
    url = idp.authorize_url("https://evil.example/callback", challenge=challenge)

    response = requests.get(url, allow_redirects=False, timeout=5)

    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "text/html" in response.headers["Content-Type"]
    assert "evil.example" not in response.headers.get("Location", "")


def test_unknown_client_is_an_error_page(idp):
    _verifier, challenge = pkce_pair()
    url = idp.authorize_url(CALLBACK, challenge=challenge).replace(idp.client_id, "nope")

    response = requests.get(url, allow_redirects=False, timeout=5)

    assert response.status_code in (400, 401)
    assert "Location" not in response.headers


def test_wrong_password_shows_the_form_again(idp):
    _verifier, challenge = pkce_pair()
    with pytest.raises(SignInError):
        idp.sign_in(idp.authorize_url(CALLBACK, challenge=challenge), "customer@example.com", "bad")


def test_an_existing_idp_session_signs_in_without_the_form(idp):
    browser = requests.Session()
    code_for(idp, session=browser)
    _verifier, challenge = pkce_pair()

    again = browser.get(
        idp.authorize_url(CALLBACK, challenge=challenge), allow_redirects=False, timeout=5
    )

    assert again.status_code == 302
    assert "code=" in again.headers["Location"]
    assert "devidp_session" in browser.cookies


def test_prompt_none_without_a_session_redirects_with_login_required(idp):
    _verifier, challenge = pkce_pair()
    url = idp.authorize_url(CALLBACK, challenge=challenge) + "&prompt=none"

    response = requests.get(url, allow_redirects=False, timeout=5)

    assert response.status_code == 302
    assert "error=login_required" in response.headers["Location"]
    assert "state=state-1" in response.headers["Location"]


def test_reusable_refresh_keeps_the_refresh_token(idp):
    tokens = tokens_for(idp)
    data = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}

    first = token_request(idp, data)
    second = token_request(idp, data)

    assert first.status_code == second.status_code == 200
    assert "refresh_token" not in first.json()
    claims = verify(idp, first.json()["access_token"])
    assert claims["sid"] == tokens["refresh_token_id"]
    assert claims["roles"] == ["customer"]
    assert verify(idp, first.json()["id_token"])["sub"] == claims["sub"]


def test_one_time_use_rotates_and_a_spent_token_is_invalid_grant(idp):
    idp.set_refresh_policy("OneTimeUse")
    tokens = tokens_for(idp)

    rotated = token_request(
        idp, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    reused = token_request(
        idp, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    following = token_request(
        idp, {"grant_type": "refresh_token", "refresh_token": rotated.json()["refresh_token"]}
    )

    assert rotated.status_code == 200
    assert rotated.json()["refresh_token"] != tokens["refresh_token"]
    assert rotated.json()["refresh_token_id"] == tokens["refresh_token_id"]
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    assert following.status_code == 200


def test_one_time_use_under_concurrency_exactly_one_refresh_wins(idp):
    idp.set_refresh_policy("OneTimeUse")
    tokens = tokens_for(idp)
    barrier = threading.Barrier(4)
    results = []

    def refresh():
        barrier.wait()
        response = token_request(
            idp, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
        )
        results.append((response.status_code, response.json().get("error")))

    threads = [threading.Thread(target=refresh) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(results, key=str) == sorted([(200, None)] + [(400, "invalid_grant")] * 3, key=str)


def test_access_token_lifetime_is_configurable(idp):
    idp.set_access_token_ttl(5)

    tokens = tokens_for(idp)
    claims = verify(idp, tokens["access_token"])
    identity = verify(idp, tokens["id_token"])

    assert tokens["expires_in"] == 5
    assert claims["exp"] - claims["iat"] == 5
    assert identity["exp"] - identity["iat"] in (5, 6)


def test_without_offline_access_there_is_no_refresh_token(idp):
    tokens = tokens_for(idp, scope="openid email")

    assert "refresh_token" not in tokens
    assert verify(idp, tokens["access_token"])["sid"]


def test_introspection_of_access_and_refresh_tokens(idp):
    tokens = tokens_for(idp)
    url = f"{idp.url}/oauth2/introspect"

    access = requests.post(
        url, data={"client_id": idp.client_id, "token": tokens["access_token"]}, timeout=5
    )
    refresh = requests.post(
        url,
        data={"token": tokens["refresh_token"], "token_type_hint": "refresh_token"},
        auth=(idp.client_id, idp.client_secret),
        timeout=5,
    )
    junk = requests.post(url, data={"client_id": idp.client_id, "token": "junk"}, timeout=5)
    no_client = requests.post(url, data={"token": tokens["access_token"]}, timeout=5)

    assert access.status_code == 200
    assert access.json()["active"] is True
    assert access.json()["sub"] == idp.user_id("customer@example.com")
    assert access.json()["roles"] == ["customer"]
    assert refresh.json()["active"] is True
    assert refresh.json()["sid"] == tokens["refresh_token_id"]
    assert junk.json() == {"active": False}
    assert no_client.status_code == 400


def test_revocation_ends_refresh_and_access_tokens(idp):
    tokens = tokens_for(idp)

    revoked = requests.post(
        f"{idp.url}/oauth2/revoke",
        data={"token": tokens["refresh_token"], "token_type_hint": "refresh_token"},
        auth=(idp.client_id, idp.client_secret),
        timeout=5,
    )
    refresh = token_request(
        idp, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    introspected = requests.post(
        f"{idp.url}/oauth2/introspect",
        data={"client_id": idp.client_id, "token": tokens["access_token"]},
        timeout=5,
    )

    assert revoked.status_code == 200
    assert refresh.status_code == 400 and refresh.json()["error"] == "invalid_grant"
    assert introspected.json() == {"active": False}


def test_userinfo_answers_for_a_bearer_access_token(idp):
    tokens = tokens_for(idp, "admin@example.com")

    response = requests.get(
        f"{idp.url}/oauth2/userinfo",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=5,
    )
    anonymous = requests.get(f"{idp.url}/oauth2/userinfo", timeout=5)

    assert response.status_code == 200
    assert response.json()["sub"] == idp.user_id("admin@example.com")
    assert response.json()["email"] == "admin@example.com"
    assert response.json()["roles"] == ["admin"]
    assert anonymous.status_code in (401, 403)


def test_logout_with_client_id_returns_to_a_registered_url_with_state(idp):
    browser = requests.Session()
    code_for(idp, session=browser)

    response = browser.get(
        f"{idp.url}/oauth2/logout",
        params={
            "client_id": idp.client_id,
            "post_logout_redirect_uri": "http://127.0.0.1:8000/",
            "state": "s-42",
        },
        allow_redirects=False,
        timeout=5,
    )
    _verifier, challenge = pkce_pair()
    after = browser.get(
        idp.authorize_url(CALLBACK, challenge=challenge), allow_redirects=False, timeout=5
    )

    assert response.status_code == 302
    assert response.headers["Location"] == "http://127.0.0.1:8000/?state=s-42"
    assert after.status_code == 200  # the login form again: the IdP session ended


def test_logout_with_id_token_hint_and_unregistered_uri_is_an_error_page(idp):
    tokens = tokens_for(idp)

    good = requests.get(
        f"{idp.url}/oauth2/logout",
        params={
            "id_token_hint": tokens["id_token"],
            "post_logout_redirect_uri": "http://localhost:8000/",
        },
        allow_redirects=False,
        timeout=5,
    )
    bad = requests.get(
        f"{idp.url}/oauth2/logout",
        params={"client_id": idp.client_id, "post_logout_redirect_uri": "https://evil.example/"},
        allow_redirects=False,
        timeout=5,
    )
    forged = requests.get(
        f"{idp.url}/oauth2/logout",
        params={"id_token_hint": tokens["id_token"][:-4] + "AAAA"},
        allow_redirects=False,
        timeout=5,
    )

    assert good.status_code == 302 and good.headers["Location"] == "http://localhost:8000/"
    assert bad.status_code == 400 and "Location" not in bad.headers
    assert forged.status_code == 400
    deadline = time.monotonic() + 5
    while "id_token_hint=[redacted]" not in idp.log_tail(200) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "id_token_hint=[redacted]" in idp.log_tail(200)
    assert tokens["id_token"].split(".")[1] not in idp.log_tail(200)


def test_stats_count_token_calls_per_grant_type(idp):
    idp.reset_stats()
    tokens = tokens_for(idp)
    token_request(idp, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    token_request(idp, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})

    assert idp.stats()["token_calls"] == {"authorization_code": 1, "refresh_token": 2}


def test_dev_logout_token_is_signed_with_the_idp_key(idp):
    token = idp.logout_token(sub="user-1", sid="session-1")

    claims = verify(idp, token, options={"require": ["iat", "exp", "jti"]})

    assert jwt.get_unverified_header(token)["typ"] == "logout+jwt"
    assert claims["sub"] == "user-1" and claims["sid"] == "session-1"
    assert "http://schemas.openid.net/event/backchannel-logout" in claims["events"]
    assert "nonce" not in claims


def test_the_idp_can_be_stopped_and_started_with_the_same_data(idp):
    tokens = tokens_for(idp)
    idp.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(idp.discovery_url, timeout=2)
    started = time.monotonic()
    idp.start()

    refreshed = token_request(
        idp, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )

    assert refreshed.status_code == 200
    assert time.monotonic() - started < 15
