"""Hostile webhook deliveries: forged, mangled or oversized bodies and headers never reach the mirror.

Only a body signed with the shared HMAC key over its exact bytes may change a row; everything else
is refused with a 4xx and leaves every mirror row and the de-duplication table as they were.
"""

import base64
import hashlib
import json
import math
import time
import uuid

import jwt
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from hypothesis import given
from hypothesis import strategies as st

from tests.hostile.conftest import HOSTILE, assert_safe
from userdata.models import ProcessedWebhook, UserData
from userdata.stores.base import MAX_DEPTH

URL = "/webhooks/fusionauth/"
HEADER = "HTTP_X_FUSIONAUTH_SIGNATURE_JWT"
SUBJECT = "3c1f5a44-0d6b-4d55-9a0e-61e6f0c6a001"

pytestmark = pytest.mark.django_db


def secret():
    return settings.USERDATA["FUSIONAUTH"]["WEBHOOK_SECRET"]


def app_id():
    return settings.USERDATA["FUSIONAUTH"]["APPLICATION_ID"]


def sign(body, key=None, alg="HS256", claims=None):
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    payload = {"request_body_sha256": digest, "iat": int(time.time())}
    payload.update(claims or {})
    return jwt.encode(payload, key or secret(), algorithm=alg)


def event(data, *, event_type="user.registration.update", subject=SUBJECT):
    return {
        "event": {
            "id": str(uuid.uuid4()),
            "type": event_type,
            "createInstant": int(time.time() * 1000),
            "applicationId": app_id(),
            "user": {"id": subject, "email": "victim@example.com"},
            "registration": {
                "applicationId": app_id(),
                "data": data,
                "lastUpdateInstant": int(time.time() * 1000),
            },
        }
    }


@pytest.fixture
def victim():
    """A mirrored user whose data an attacker would love to change."""
    user = get_user_model().objects.create_user(username="victim", email="victim@example.com")
    return UserData.objects.create(
        user=user,
        issuer=settings.OAUTHBFF["ISSUER"],
        subject=SUBJECT,
        email="victim@example.com",
        data={"userData": "the original"},
        remote_data={"userData": "the original"},
        remote_version=1,
    )


def snapshot():
    rows = list(UserData.objects.order_by("pk").values())
    return rows, ProcessedWebhook.objects.count()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
forged_headers = st.one_of(
    st.none(),
    st.text(max_size=300),
    st.from_regex(r"[A-Za-z0-9_-]{1,40}\.[A-Za-z0-9_-]{1,80}\.[A-Za-z0-9_-]{0,60}", fullmatch=True),
)


@HOSTILE
@given(body=st.binary(max_size=2048), header=forged_headers)
def test_unsigned_or_forged_bodies_are_refused_and_change_nothing(client, victim, body, header):
    before = snapshot()
    extra = {HEADER: header} if header is not None else {}
    response = client.post(URL, data=body, content_type="application/json", **extra)
    assert_safe(response, allowed={400, 401, 413})
    assert snapshot() == before


@HOSTILE
@given(data=st.dictionaries(st.text(max_size=12), json_values, max_size=4))
def test_a_valid_event_signed_with_a_wrong_key_changes_nothing(client, victim, data):
    body = json.dumps(event(data)).encode()
    before = snapshot()
    for token in (
        sign(body, key="not-the-secret-" + "x" * 32),
        sign(body, alg="HS384", key=secret() + "!"),
        jwt.encode({"request_body_sha256": "AAAA"}, secret(), algorithm="HS256"),
        sign(b"another body"),
        jwt.encode(
            {"request_body_sha256": base64.b64encode(hashlib.sha256(body).digest()).decode()},
            None,
            algorithm="none",
        ),
    ):
        response = client.post(URL, data=body, content_type="application/json", **{HEADER: token})
        assert_safe(response, allowed={401})
    assert snapshot() == before


@HOSTILE
@given(payload=json_values)
def test_signed_bodies_of_any_shape_never_break_the_receiver(client, victim, payload):
    body = json.dumps(payload).encode()
    before = snapshot()
    response = client.post(URL, data=body, content_type="application/json", **{HEADER: sign(body)})
    assert_safe(response, allowed={200, 400})
    if response.status_code == 400:
        assert snapshot() == before


@HOSTILE
@given(
    registration=st.dictionaries(
        st.sampled_from(["applicationId", "data", "lastUpdateInstant", "roles", "id"]),
        json_values,
        max_size=5,
    ),
    user=st.one_of(json_values, st.fixed_dictionaries({"id": json_values})),
    event_type=st.sampled_from(
        [
            "user.registration.update",
            "user.registration.create",
            "user.registration.delete",
            "user.delete",
            "user.update",
            "jwt.refresh-token.revoke",
            "",
            "x" * 200,
        ]
    ),
)
def test_signed_events_with_hostile_fields_are_answered_cleanly(
    client, victim, registration, user, event_type
):
    payload = {
        "event": {
            "id": str(uuid.uuid4()),
            "type": event_type,
            "createInstant": int(time.time() * 1000),
            "user": user,
            "registration": registration,
            "applicationId": app_id(),
        }
    }
    body = json.dumps(payload).encode()
    before = snapshot()
    response = client.post(URL, data=body, content_type="application/json", **{HEADER: sign(body)})
    assert_safe(response, allowed={200, 400})
    if response.status_code == 400:
        assert snapshot() == before


@pytest.mark.smoke
def test_a_replayed_event_is_applied_once(client, victim):
    body = json.dumps(event({"userData": "from the IdP"})).encode()
    first = client.post(URL, data=body, content_type="application/json", **{HEADER: sign(body)})
    assert first.status_code == 200
    victim.refresh_from_db()
    assert victim.user_text == "from the IdP"
    UserData.objects.filter(pk=victim.pk).update(data={"userData": "edited since"})
    again = client.post(URL, data=body, content_type="application/json", **{HEADER: sign(body)})
    assert again.status_code == 200 and again.json() == {"status": "duplicate"}
    victim.refresh_from_db()
    assert victim.user_text == "edited since"


@pytest.mark.smoke
def test_an_oversized_body_is_refused_before_parsing(client, victim, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = json.dumps(event({"userData": "x" * 4096})).encode()
    before = snapshot()
    response = client.post(URL, data=body, content_type="application/json", **{HEADER: sign(body)})
    assert_safe(response, allowed={413})
    assert snapshot() == before


@pytest.mark.smoke
@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_other_methods_are_refused(client, victim, method):
    response = getattr(client, method)(URL)
    assert_safe(response, allowed={405})


NASTY_TEXTS = [
    "nul \x00 inside",
    "lone surrogate \ud800",
    "\u202eright-to-left override",
    "<script>alert(1)</script>",
    "x" * 70_000,
]


@pytest.mark.smoke
@pytest.mark.parametrize("text", NASTY_TEXTS, ids=["nul", "surrogate", "rtl", "script", "huge"])
def test_signed_events_with_nasty_text_are_stored_or_refused_cleanly(client, victim, text):
    body = json.dumps(event({"userData": text})).encode()
    before = snapshot()
    response = client.post(URL, data=body, content_type="application/json", **{HEADER: sign(body)})
    assert_safe(response, allowed={200, 400, 413})
    if response.status_code != 200:
        assert snapshot() == before


header_values = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=120)


@HOSTILE
@given(
    content_type=st.one_of(
        st.sampled_from(
            [
                "application/json",
                "text/plain",
                "application/x-www-form-urlencoded",
                "multipart/form-data; boundary=x",
                "application/json; charset=latin-1",
                "",
            ]
        ),
        header_values,
    ),
    extra=st.dictionaries(
        st.sampled_from(
            [
                "HTTP_X_FUSIONAUTH_TENANTID",
                "HTTP_AUTHORIZATION",
                "HTTP_CONTENT_ENCODING",
                "HTTP_TRANSFER_ENCODING",
                "HTTP_X_FORWARDED_FOR",
                "HTTP_HOST",
            ]
        ),
        header_values,
        max_size=3,
    ),
)
def test_hostile_headers_on_a_signed_delivery_never_break_the_receiver(
    client, victim, content_type, extra
):
    body = json.dumps(event({"userData": "via odd headers"})).encode()
    before = snapshot()
    response = client.post(
        URL, data=body, content_type=content_type, **{HEADER: sign(body)}, **extra
    )
    assert_safe(response, allowed={200, 400, 401, 413})
    if response.status_code != 200:
        assert snapshot() == before


def nested(depth, leaf):
    for _ in range(depth):
        leaf = {"k": leaf}
    return leaf


@HOSTILE
@given(
    version=st.one_of(
        st.none(),
        st.integers(),
        st.integers(min_value=2**62, max_value=2**70),
        st.floats(allow_nan=False),
        st.text(max_size=8),
    ),
    age_s=st.one_of(st.integers(-(10**6), 10**7), st.sampled_from([-301, 0, 604_799, 604_801])),
    depth=st.integers(0, 60),
    data=st.dictionaries(st.text(max_size=12), json_values, max_size=4),
)
def test_signed_events_at_the_limits_apply_whole_or_change_nothing(
    client, victim, version, age_s, depth, data
):
    """Exactly these are a 400 that writes nothing: a version that is not a 64-bit count, an event
    older than the replay window or more than 5 minutes ahead, data nested 32 levels or more, a
    number JSON cannot carry or text with NUL. Everything else is applied as sent."""
    UserData.objects.filter(pk=victim.pk).update(
        data={"userData": "the original"},
        remote_data={"userData": "the original"},
        remote_version=None,
    )
    payload = event({"userData": "new", "deep": nested(depth, 1), **data})
    payload["event"]["createInstant"] = int((time.time() - age_s) * 1000)
    payload["event"]["registration"]["lastUpdateInstant"] = version
    body = json.dumps(payload).encode()
    before = snapshot()
    response = client.post(URL, data=body, content_type="application/json", **{HEADER: sign(body)})
    assert_safe(response, allowed={200, 400})
    usable_version = version is None or (
        isinstance(version, int) and not isinstance(version, bool) and 0 <= version < 2**63
    )
    refused = (
        not usable_version
        or not -300 <= age_s <= 7 * 24 * 3600
        or depth >= MAX_DEPTH
        or unstorable(data)
    )
    assert response.status_code == (400 if refused else 200), response.content
    if refused:
        assert snapshot() == before
    else:
        victim.refresh_from_db()
        assert as_floats(victim.data) == as_floats(payload["event"]["registration"]["data"])


def as_floats(value):
    """Numbers as floats: PostgreSQL's jsonb keeps 3.6e16 as the integer 36028797018963970."""
    if isinstance(value, dict):
        return {key: as_floats(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_floats(item) for item in value]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return value


def unstorable(value):
    """What a database cannot keep: NaN or infinity, or text with NUL (in a key or a value)."""
    if isinstance(value, dict):
        return any(unstorable(key) or unstorable(item) for key, item in value.items())
    if isinstance(value, list):
        return any(unstorable(item) for item in value)
    if isinstance(value, str):
        return "\x00" in value
    return isinstance(value, float) and not math.isfinite(value)
