"""userdata/webhooks.py and its view: signature over the raw body, replays, events applied."""

import base64
import hashlib
import json
import uuid

import jwt
import pytest

from userdata.models import ProcessedWebhook, UserData

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
        {"event": {"id": str(uuid.uuid4()), "type": "user.delete", "user": {"id": "sub-ada"}}}
    ).encode()
    assert post(hook, body).json() == {"status": "applied"}
    assert not UserData.objects.get(pk=row.pk).registered


def test_pending_edit_becomes_conflict_not_overwritten(hook, make_user):
    from userdata import mirror

    user, row = make_user(data={"userData": "base"}, remote_version=1)
    mirror.save_edit(user, "local")
    post(hook, event(data={"userData": "remote"}, version=2))
    row.refresh_from_db()
    assert row.data == {"userData": "local"} and row.sync_state == "conflict"


def test_signed_malformed_is_400(hook):
    for body in (b"not json", b"{}", json.dumps({"event": {"type": "x"}}).encode()):
        assert post(hook, body).status_code == 400


def test_get_not_allowed(hook):
    assert hook.get(URL).status_code == 405


def test_unknown_event_type_acknowledged(hook):
    body = json.dumps(
        {"event": {"id": "e1", "type": "user.login.success", "user": {"id": "x"}}}
    ).encode()
    assert post(hook, body).json() == {"status": "ignored"}
