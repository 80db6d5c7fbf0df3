"""Hostile sign-in callbacks: forged, replayed or mangled parameters never sign anyone in.

Every answer is a friendly 4xx page; no user, session or identity row appears, and a real sign-in
started in the same browser still works afterwards.
"""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model
from hypothesis import example, given
from hypothesis import strategies as st

from oauthbff.models import OIDCIdentity, OIDCSession
from tests.hostile.conftest import HOSTILE, HOSTILE_LIVE, assert_safe

URL = "/auth/callback/"

pytestmark = pytest.mark.django_db

param_names = st.sampled_from(
    [
        "code",
        "state",
        "iss",
        "error",
        "error_description",
        "error_reason",
        "session_state",
        "locale",
        "userState",
        "next",
        "id_token",
        "access_token",
    ]
)
param_values = st.one_of(
    st.text(max_size=80),
    st.from_regex(r"[A-Za-z0-9_-]{10,60}", fullmatch=True),
    st.sampled_from(["access_denied", "login_required", "http://evil.example/", "", "null", "%00"]),
)


def counts():
    return (
        get_user_model().objects.count(),
        OIDCSession.objects.count(),
        OIDCIdentity.objects.count(),
    )


def start_login(client):
    response = client.get("/auth/login/")
    assert response.status_code == 302, response.status_code
    return parse_qs(urlsplit(response["Location"]).query)["state"][0]


@HOSTILE
@given(params=st.dictionaries(param_names, param_values, max_size=6))
@example(params={"code": "x", "state": "x"})
@example(params={"error": "access_denied", "state": "x"})
def test_callbacks_without_a_started_sign_in_are_refused(client, bff_on_devidp, params):
    before = counts()
    response = client.get(URL, params)
    assert_safe(response, allowed={400, 403})
    assert "_auth_user_id" not in client.session
    assert counts() == before


@HOSTILE_LIVE
@given(
    code=param_values,
    iss=st.one_of(st.none(), param_values),
    extra=st.dictionaries(
        param_names.filter(lambda n: n not in ("code", "state", "iss")), param_values, max_size=3
    ),
)
def test_a_started_sign_in_with_a_forged_code_is_refused(client, bff_on_devidp, code, iss, extra):
    state = start_login(client)
    before = counts()
    params = {**extra, "state": state, "code": code}
    if iss is not None:
        params["iss"] = iss
    response = client.get(URL, params)
    assert_safe(response, allowed={400, 403})
    assert "_auth_user_id" not in client.session
    assert counts() == before


def test_a_used_callback_cannot_be_replayed(client, bff_on_devidp, devidp):
    response = client.get("/auth/login/")
    callback = devidp.sign_in(response["Location"], "customer@example.com")
    path = urlsplit(callback)
    first = client.get(path.path, parse_qs(path.query))
    assert first.status_code == 302
    client.logout()
    before = counts()
    again = client.get(path.path, {k: v[0] for k, v in parse_qs(path.query).items()})
    assert_safe(again, allowed={400})
    assert "_auth_user_id" not in client.session
    assert counts()[1] == before[1]


def test_state_from_another_browser_is_refused(client, bff_on_devidp, devidp):
    from django.test import Client

    other = Client()
    response = other.get("/auth/login/")
    callback = devidp.sign_in(response["Location"], "customer@example.com")
    path = urlsplit(callback)
    before = counts()
    stolen = client.get(path.path, {k: v[0] for k, v in parse_qs(path.query).items()})
    assert_safe(stolen, allowed={400})
    assert "_auth_user_id" not in client.session
    assert counts() == before


@pytest.mark.parametrize("spelling", ["added slash", "case", "trailing dot"])
def test_an_iss_spelt_unlike_the_issuer_is_refused(client, bff_on_devidp, devidp, spelling):
    """Issuers compare as exact strings (RFC 9207 §2.4): the slash-less development IdP's sign-in
    with ``iss`` + "/" is refused (tests/nodeop has the reverse: a slashed issuer, iss without)."""
    response = client.get("/auth/login/")
    callback = urlsplit(devidp.sign_in(response["Location"], "customer@example.com"))
    params = {k: v[0] for k, v in parse_qs(callback.query).items()}
    iss = {
        "added slash": devidp.url + "/",
        "case": devidp.url.upper(),
        "trailing dot": devidp.url.replace("127.0.0.1", "127.0.0.1."),
    }[spelling]
    before = counts()
    refused = client.get(callback.path, {**params, "iss": iss})
    body = assert_safe(refused, allowed={400})
    assert "unexpected identity provider" in body
    assert "_auth_user_id" not in client.session
    assert counts() == before
