"""userdata/webhooks.py and its view: signature over the raw body, replays, events applied."""

import base64
import hashlib
import json
import time
import uuid
import warnings
from datetime import timedelta

import jwt
import pytest
from django.utils import timezone

from userdata.models import ProcessedWebhook, SyncEvent, UserData
from userdata.stores.base import MAX_DEPTH

from .conftest import APP_ID, WEBHOOK_SECRET

pytestmark = pytest.mark.django_db
URL = "/webhooks/fusionauth/"


def signed(body, secret=WEBHOOK_SECRET, digest_of=None):
    digest = hashlib.sha256(digest_of if digest_of is not None else body).digest()
    return jwt.encode(
        {"request_body_sha256": base64.b64encode(digest).decode()},
        secret,
        algorithm="HS256",
        headers={"kid": "k1"},
    )


def event(kind="user.registration.update", subject="sub-ada", data=None, version=5000, **extra):
    payload = {
        "id": str(uuid.uuid4()),
        "type": kind,
        "createInstant": extra.pop("created", now_ms()),
        "tenantId": extra.pop("tenant", None),
        "applicationId": extra.pop("app", APP_ID),
        "user": {"id": subject, "email": "ada@example.com"},
        "registration": {
            "applicationId": APP_ID,
            "data": data or {"userData": "from idp"},
            "lastUpdateInstant": version,
        },
    }
    payload.update(extra)
    return json.dumps({"event": payload}).encode()


def now_ms():
    return int(time.time() * 1000)


def post(client, body, token="sign"):
    headers = {}
    if token == "sign":
        token = signed(body)
    if token:
        headers["HTTP_X_FUSIONAUTH_SIGNATURE_JWT"] = token
    return client.post(URL, body, content_type="application/json", **headers)


@pytest.fixture
def hook(fa_settings, memory_store, client):
    return client


def test_update_applied_to_mirror(hook, make_user):
    user, row = make_user(data={"userData": "old"})
    response = post(hook, event(data={"userData": "from idp"}, version=9000))
    assert response.status_code == 200 and response.json() == {"status": "applied"}
    row.refresh_from_db()
    assert row.data == {"userData": "from idp"} and row.remote_version == 9000
    assert row.events.filter(kind="webhook").exists()


@pytest.mark.parametrize("token", [None, "", "garbage", "forged"])
def test_unsigned_or_forged_is_401_and_not_applied(hook, make_user, token):
    user, row = make_user(data={"userData": "old"})
    body = event()
    if token == "forged":
        token = signed(body, secret="not-the-secret-but-long-enough-000")
    response = post(hook, body, token=token)
    assert response.status_code == 401
    assert UserData.objects.get(pk=row.pk).data == {"userData": "old"}
    assert not ProcessedWebhook.objects.exists()


@pytest.mark.parametrize(("alg", "status"), [("HS256", 200), ("HS384", 401), ("HS512", 401)])
def test_a_secret_shorter_than_the_algorithm_needs_is_refused(
    hook, make_user, settings, caplog, alg, status
):
    """RFC 7518 section 3.2: a 40-byte secret is enough for HS256, not for HS384 or HS512."""
    secret = "s" * 40
    fa = {**settings.USERDATA["FUSIONAUTH"], "WEBHOOK_SECRET": secret}
    settings.USERDATA = {**settings.USERDATA, "FUSIONAUTH": fa}
    make_user(data={"userData": "old"})
    body = event()
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jwt.InsecureKeyLengthWarning)
        token = jwt.encode({"request_body_sha256": digest}, secret, algorithm=alg)
    response = post(hook, body, token=token)
    assert response.status_code == status
    if status == 401:
        assert response.json() == {"error": "Invalid signature."}
        assert "RFC 7518" in caplog.text and not ProcessedWebhook.objects.exists()


def test_body_tampered_after_signing_is_401(hook, make_user):
    make_user()
    body = event()
    token = signed(body)
    response = post(hook, body.replace(b"from idp", b"evil data"), token=token)
    assert response.status_code == 401


def test_replay_ignored(hook, make_user):
    user, row = make_user(data={"userData": "old"})
    body = event(data={"userData": "first"})
    assert post(hook, body).json() == {"status": "applied"}
    UserData.objects.filter(pk=row.pk).update(data={"userData": "edited"}, remote_data={})
    assert post(hook, body).json() == {"status": "duplicate"}
    assert UserData.objects.get(pk=row.pk).data == {"userData": "edited"}


def test_create_for_unknown_user_makes_row(hook):
    assert post(hook, event("user.registration.create", subject="new-sub")).status_code == 200
    row = UserData.objects.get(subject="new-sub")
    assert row.user is None and row.email == "ada@example.com"


def test_other_application_ignored(hook, make_user):
    make_user()
    assert post(hook, event(app="other-app")).json() == {"status": "ignored"}


def test_registration_delete_and_user_delete(hook, make_user):
    user, row = make_user(data={"userData": "x"})
    assert post(hook, event("user.registration.delete")).json() == {"status": "applied"}
    row.refresh_from_db()
    assert not row.registered and row.data == {}
    UserData.objects.filter(pk=row.pk).update(registered=True, data={"userData": "y"})
    body = json.dumps(
        {
            "event": {
                "id": str(uuid.uuid4()),
                "type": "user.delete",
                "createInstant": now_ms(),
                "user": {"id": "sub-ada"},
            }
        }
    ).encode()
    assert post(hook, body).json() == {"status": "applied"}
    assert not UserData.objects.get(pk=row.pk).registered


@pytest.mark.parametrize("versions", [(1, 2), (None, None)], ids=["versioned", "unversioned"])
def test_pending_edit_becomes_conflict_not_overwritten(hook, make_user, versions):
    """Without lastUpdateInstant (absent from FusionAuth's documented body) the version is
    derived from the data, so the remote change is still seen."""
    from userdata import mirror

    user, row = make_user(data={}, remote_version=None)
    body = json.loads(event(data={"userData": "base"}))
    if versions[0] is None:
        del body["event"]["registration"]["lastUpdateInstant"]
    else:
        body["event"]["registration"]["lastUpdateInstant"] = versions[0]
    assert post(hook, json.dumps(body).encode()).json() == {"status": "applied"}
    mirror.save_edit(user, "local")
    body = json.loads(event(data={"userData": "remote"}, version=versions[1]))
    if versions[1] is None:
        del body["event"]["registration"]["lastUpdateInstant"]
    assert post(hook, json.dumps(body).encode()).json() == {"status": "applied"}
    row.refresh_from_db()
    assert row.data == {"userData": "local"} and row.sync_state == "conflict"
    assert row.conflict_remote_data == {"userData": "remote"}


def test_signed_malformed_is_400(hook):
    for body in (b"not json", b"{}", json.dumps({"event": {"type": "x"}}).encode()):
        assert post(hook, body).status_code == 400


def test_get_not_allowed(hook):
    assert hook.get(URL).status_code == 405


def test_unknown_event_type_acknowledged(hook):
    body = json.dumps(
        {
            "event": {
                "id": "e1",
                "type": "user.login.success",
                "createInstant": now_ms(),
                "user": {"id": "x"},
            }
        }
    ).encode()
    assert post(hook, body).json() == {"status": "ignored"}


def assert_refused_and_nothing_written(response, before, match):
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert match in response.json()["error"]
    assert rows() == before


def rows():
    return (
        list(UserData.objects.order_by("pk").values()),
        list(ProcessedWebhook.objects.values_list("event_id", flat=True)),
        SyncEvent.objects.count(),
    )


@pytest.mark.parametrize("subject", ["sub-ada", "sub-new"], ids=["known user", "new user"])
@pytest.mark.parametrize("version", [2**63, 10**30, -5, "9000", 1.5])
def test_a_signed_event_with_an_impossible_version_is_400_and_writes_nothing(
    hook, make_user, subject, version
):
    make_user(data={"userData": "old"})
    before = rows()
    response = post(hook, event(subject=subject, version=version))
    assert_refused_and_nothing_written(response, before, "version")


def deep_body(depth):
    head = (
        f'{{"event": {{"id": "{uuid.uuid4()}", "type": "user.registration.update", '
        f'"createInstant": {now_ms()}, "applicationId": "{APP_ID}", "user": {{"id": "sub-ada"}}, '
        f'"registration": {{"applicationId": "{APP_ID}", "data": {{"userData": "x", "deep": '
    )
    return (head + '{"a": ' * depth + "1" + "}" * depth + "}}}}").encode()


@pytest.mark.parametrize("depth", [40, 900, 100_000])
def test_a_signed_deeply_nested_event_is_400_and_writes_nothing(hook, make_user, depth):
    make_user(data={"userData": "old"})
    before = rows()
    response = post(hook, deep_body(depth))
    assert_refused_and_nothing_written(response, before, "nested")


def test_nesting_within_the_limit_is_applied(hook, make_user):
    make_user(data={"userData": "old"})
    assert post(hook, deep_body(MAX_DEPTH - 2)).json() == {"status": "applied"}


@pytest.mark.parametrize(
    "user",
    [{"id": "s" * 256, "email": "a@example.com"}, {"id": "sub-ada", "email": "a" * 250 + "@x.io"}],
    ids=["long id", "long e-mail"],
)
def test_a_user_that_does_not_fit_the_mirror_is_400(hook, make_user, user):
    make_user(data={"userData": "old"})
    before = rows()
    body = json.loads(event())
    body["event"]["user"] = user
    response = post(hook, json.dumps(body).encode())
    assert_refused_and_nothing_written(response, before, "user")


def test_an_event_older_than_the_replay_window_is_refused(hook, make_user, settings):
    make_user(data={"userData": "old"})
    settings.USERDATA = {**settings.USERDATA, "WEBHOOK_REPLAY_WINDOW": 3600}
    before = rows()
    response = post(hook, event(created=now_ms() - 3601 * 1000))
    assert_refused_and_nothing_written(response, before, "replay window")
    assert post(hook, event(created=now_ms() - 3500 * 1000)).json() == {"status": "applied"}


@pytest.mark.parametrize(
    "created", [None, "1700000000000", True, "future"], ids=["missing", "text", "bool", "future"]
)
def test_an_event_without_a_usable_create_instant_is_refused(hook, make_user, created):
    make_user(data={"userData": "old"})
    before = rows()
    body = json.loads(event())
    body["event"]["createInstant"] = now_ms() + 3600 * 1000 if created == "future" else created
    if created is None:
        del body["event"]["createInstant"]
    response = post(hook, json.dumps(body).encode())
    assert_refused_and_nothing_written(response, before, "createInstant")


def test_a_replay_after_its_id_was_pruned_is_refused(hook, make_user, monkeypatch):
    """The hole this closes: ids are forgotten after the window, so the age check must hold."""
    from userdata import webhooks

    user, row = make_user(data={"userData": "old"})
    window = webhooks.replay_window()
    body = event(data={"userData": "first"}, created=now_ms() - (window - 60) * 1000)
    assert post(hook, body).json() == {"status": "applied"}
    UserData.objects.filter(pk=row.pk).update(data={"userData": "edited"}, remote_data={})
    later = time.time() + 120
    monkeypatch.setattr(webhooks.time, "time", lambda: later)
    ProcessedWebhook.objects.update(
        received_at=timezone.now() - timedelta(seconds=window + webhooks.CLOCK_SKEW + 1)
    )
    assert webhooks.prune_processed() == 1
    response = post(hook, body)
    assert response.status_code == 400 and "replay window" in response.json()["error"]
    assert UserData.objects.get(pk=row.pk).data == {"userData": "edited"}


RAW = (
    b'{ "event" :{"type":"user.registration.update",  "id":"%s","createInstant":%d,\n'
    b'  "user":{"email":"ada@example.com","id":"sub-ada"},"applicationId":"%s",\n'
    b'"registration":{"lastUpdateInstant":9100,"data":{"userData":"caf\\u00e9 \xe2\x98\x95",'
    b'"z":1.0,"a":[ 1,2 ]},"applicationId":"%s"}}}\n'
)


def raw_body():
    return RAW % (str(uuid.uuid4()).encode(), now_ms(), APP_ID.encode(), APP_ID.encode())


def test_a_signature_over_the_exact_raw_bytes_verifies(hook, make_user):
    """FusionAuth signs the bytes it sends (its own spacing and key order), not our re-encoding."""
    user, row = make_user(data={"userData": "old"})
    body = raw_body()
    assert json.dumps(json.loads(body)).encode() != body
    response = post(hook, body, token=signed(body))
    assert response.json() == {"status": "applied"}
    row.refresh_from_db()
    assert row.data == {"userData": "café ☕", "z": 1.0, "a": [1, 2]}


@pytest.mark.parametrize(
    "reencode",
    [
        lambda b: json.dumps(json.loads(b)).encode(),
        lambda b: json.dumps(json.loads(b), separators=(",", ":"), sort_keys=True).encode(),
        lambda b: json.dumps(json.loads(b), ensure_ascii=False).encode(),
        lambda b: b.rstrip(b"\n"),
    ],
    ids=["json.dumps", "compact sorted", "utf-8", "trailing newline"],
)
def test_a_signature_does_not_cover_a_reserialised_body(hook, make_user, reencode):
    user, row = make_user(data={"userData": "old"})
    body = raw_body()
    token = signed(body)
    response = post(hook, reencode(body), token=token)
    assert response.status_code == 401
    assert not ProcessedWebhook.objects.exists()
    assert UserData.objects.get(pk=row.pk).data == {"userData": "old"}
