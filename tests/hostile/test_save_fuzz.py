"""Hostile input to the save endpoint (POST /userdata/): any text is stored exactly or refused cleanly.

A signed-in customer posts arbitrary form fields, JSON and raw bytes. Accepted text must land in the
mirror as sent (CRLF normalised); a refused request must leave the mirror row and the session as
they were, and no answer may be a 5xx or show a traceback.
"""

import json

import pytest
from django.test import Client
from hypothesis import example, given
from hypothesis import strategies as st

from oauthbff.models import OIDCSession
from tests.hostile.conftest import HOSTILE, HOSTILE_LIVE, assert_safe
from userdata.models import UserData

URL = "/userdata/"
EMAIL = "customer@example.com"

pytestmark = pytest.mark.django_db(transaction=False)


@pytest.fixture
def customer(signed_in_client, devidp):
    """A signed-in customer; the IdP's copy of their data is put back afterwards."""
    user_id = devidp.user_id(EMAIL)
    path = f"/api/user/registration/{user_id}/{devidp.application_id}"
    original = devidp.api("GET", path).json()["registration"].get("data", {})
    client = signed_in_client(EMAIL)
    yield client
    devidp.set_registration_data(EMAIL, original)


def mirror_row(client):
    user_id = client.session["_auth_user_id"]
    return UserData.objects.filter(user_id=user_id).values().first()


def storable(text):
    """Text a database can hold exactly: no NUL (PostgreSQL refuses it), no lone surrogates."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def session_rows():
    return list(OIDCSession.objects.order_by("pk").values_list("pk", "ended_at"))


@HOSTILE_LIVE
@given(text=st.text(max_size=300))
@example(text="")
@example(text="line one\r\nline two\r\n")
@example(text="<script>alert(document.cookie)</script>")
@example(text="{{ request.session }} {% debug %}")
@example(text="\u202e\ufeff\u200b zero-width and bidi")
@example(text="a NUL \x00 in the middle")
def test_form_posts_store_any_text_exactly(customer, text):
    before = mirror_row(customer)
    response = customer.post(URL, {"userData": text, "version": before["edit_seq"]})
    assert_safe(response, allowed={302, 400} if storable(text) else {400})
    if response.status_code == 302:
        assert mirror_row(customer)["data"].get("userData") == text.replace("\r\n", "\n")
    else:
        assert mirror_row(customer) == before


@HOSTILE
@given(
    payload=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=60),
        lambda children: (
            st.lists(children, max_size=3)
            | st.dictionaries(
                st.sampled_from(["userData", "data", "user", "id", "x"]), children, max_size=3
            )
        ),
        max_leaves=8,
    )
)
@example(payload={"userData": "a NUL \x00 in the middle"})
@example(payload={"userData": "a lone surrogate \ud800 escaped in JSON"})
@example(payload={"userData": ["not", "a", "string"]})
def test_json_posts_of_any_shape_are_stored_or_refused_without_change(customer, payload):
    before = mirror_row(customer)
    sessions = session_rows()
    if isinstance(payload, dict):  # sent as the page's script does: with the version it shows
        payload = {**payload, "version": before["edit_seq"]}
    response = customer.post(URL, data=json.dumps(payload), content_type="application/json")
    assert_safe(response, allowed={200, 400, 413})
    accepted = isinstance(payload, dict) and isinstance(payload.get("userData"), str)
    if accepted and storable(payload["userData"]):
        assert response.status_code == 200
        assert mirror_row(customer)["data"]["userData"] == payload["userData"].replace("\r\n", "\n")
    else:
        assert response.status_code == 400
        assert response.json()["error"]
        assert mirror_row(customer) == before
    assert session_rows() == sessions


@HOSTILE
@given(body=st.binary(max_size=512))
def test_raw_bytes_as_json_are_refused_without_change(customer, body):
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    before = mirror_row(customer)
    response = customer.post(URL, data=body, content_type="application/json")
    # An empty body goes without a Content-Type (as a browser's would): the form path's redirect.
    assert_safe(response, allowed={200, 400, 413} | ({302} if not body else set()))
    if not (isinstance(parsed, dict) and isinstance(parsed.get("userData"), str)):
        assert response.status_code in (400, 302)
        assert mirror_row(customer) == before


def test_text_over_the_limit_is_refused_and_kept_for_the_user(customer, settings):
    settings.USERDATA = {**settings.USERDATA, "MAX_BYTES": 1024}
    before = mirror_row(customer)
    too_long = "é" * 600  # 1200 bytes in UTF-8, 600 characters
    response = customer.post(URL, {"userData": too_long, "version": before["edit_seq"]})
    body = assert_safe(response, allowed={413})
    assert too_long in body, "the refused text must be given back, not lost"
    as_json = customer.post(
        URL,
        data=json.dumps({"userData": too_long, "version": before["edit_seq"]}),
        content_type="application/json",
    )
    assert_safe(as_json, allowed={413})
    assert mirror_row(customer) == before


def test_a_post_without_the_csrf_token_changes_nothing(customer):
    strict = Client(enforce_csrf_checks=True)
    strict.cookies = customer.cookies
    before = mirror_row(customer)
    response = strict.post(URL, {"userData": "forged by another site"})
    assert_safe(response, allowed={403})
    response = strict.post(
        URL, data=json.dumps({"userData": "forged"}), content_type="application/json"
    )
    assert_safe(response, allowed={403})
    assert mirror_row(customer) == before


@pytest.mark.smoke
@pytest.mark.parametrize(
    "kwargs",
    [
        {"data": {"userData": "anonymous"}},
        {"data": json.dumps({"userData": "anonymous"}), "content_type": "application/json"},
    ],
)
def test_anonymous_posts_are_refused_and_store_nothing(client, kwargs):
    response = client.post(URL, **kwargs)
    assert_safe(response, allowed={302, 401})
    assert not UserData.objects.exists()


@pytest.mark.smoke
@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_only_post_saves(client, method):
    response = getattr(client, method)(URL)
    assert_safe(response, allowed={405})


@pytest.mark.smoke
def test_reading_the_state_needs_a_session(client):
    assert_safe(client.get(URL), allowed={401})
