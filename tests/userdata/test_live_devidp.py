"""userdata against the live development IdP over HTTP: sign-in pull, push, outage, webhooks,
conflicts, echo and the bulk command."""

import io
import json
import time

import pytest
import requests
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from userdata import conflicts, push, stores
from userdata import mirror as ud_mirror
from userdata.models import ProcessedWebhook, SyncEvent, UserData

EMAIL = "customer@example.com"
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.smoke]


@pytest.fixture
def idp(bff_on_devidp):
    stores.reset_store()
    yield bff_on_devidp
    stores.reset_store()


@pytest.fixture
def outbound(monkeypatch):
    """Every HTTP call the BFF process makes, by URL (at the transport every client here shares)."""
    calls = []
    original = requests.adapters.HTTPAdapter.send

    def spy(self, request, **kwargs):
        calls.append(request.url)
        return original(self, request, **kwargs)

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", spy)
    return calls


def save(client, text):
    """Save as the page's script does: based on the version the page shows."""
    return client.post(
        "/userdata/",
        json.dumps({"userData": text, "version": mirror().version}),
        content_type="application/json",
        HTTP_ACCEPT="application/json",
    )


def idp_data(idp, email=EMAIL):
    return idp.registration(email)["data"]


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met before the timeout")


def mirror(email=EMAIL):
    return UserData.objects.get(email=email)


def test_sign_in_pulls_then_warm_page_makes_no_idp_call(idp, signed_in_client, outbound):
    idp.set_registration_data(EMAIL, {"userData": "written at the IdP <3"})
    client = signed_in_client(EMAIL)
    row = mirror()
    assert row.subject == idp.user_id(EMAIL) and row.user.email == EMAIL
    assert row.data["userData"] == "written at the IdP <3"
    outbound.clear()
    html = client.get("/").content.decode()
    assert f"<h1>Hi, {EMAIL}!</h1>" in html
    assert "written at the IdP &lt;3</textarea>" in html
    assert outbound == []
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/").status_code == 200
    # Besides loading the session: the user with the mirror row, then the session's token row
    # (the roles come from that row).
    tables = [q["sql"].split(" FROM ")[1].split()[0] for q in queries.captured_queries]
    assert [t for t in tables if t != '"django_session"'] == [
        '"auth_user"',
        '"oauthbff_oidcsession"',
    ]


def test_edit_is_pushed_to_the_idp_keeping_other_fields(idp, signed_in_client):
    idp.set_registration_data(EMAIL, {"other": {"keep": True}})
    client = signed_in_client(EMAIL)
    roles_before = idp.registration(EMAIL).get("roles")
    response = save(client, "typed on the page")
    # The save commits locally; the push ran on commit (eager here; a worker in production).
    assert response.status_code == 200 and response.json()["state"] == "pending"
    assert not mirror().pending
    data = idp_data(idp)
    assert data["userData"] == "typed on the page" and data["other"] == {"keep": True}
    assert idp.registration(EMAIL).get("roles") == roles_before
    row = mirror()
    assert row.remote_version == idp.registration(EMAIL)["lastUpdateInstant"]
    assert save(client, "typed on the page").json()["state"] == "saved"  # nothing to push


def test_idp_down_edit_waits_then_command_delivers(idp, signed_in_client):
    client = signed_in_client(EMAIL)
    idp.stop()
    try:
        response = save(client, "written while the IdP was down")
        assert response.json()["state"] == "pending"
        html = client.get("/").content.decode()
        assert "written while the IdP was down</textarea>" in html
        assert 'data-state="pending"' in html
    finally:
        idp.start()
    out = io.StringIO()
    call_command("syncuserdata", "push", stdout=out)
    assert out.getvalue().startswith("pushed 1, changed 1, conflicts 0, errors 0")
    assert idp_data(idp)["userData"] == "written while the IdP was down"
    assert not mirror().pending


def test_webhook_from_idp_updates_mirror_and_own_echo_is_not_a_conflict(
    idp, signed_in_client, live_server
):
    client = signed_in_client(EMAIL)
    idp.set_webhook_url(f"{live_server.url}/webhooks/fusionauth/")
    idp.set_registration_data(EMAIL, {"userData": "changed by an IdP admin"})
    wait_for(lambda: mirror().data.get("userData") == "changed by an IdP admin")
    assert mirror().events.filter(kind=SyncEvent.Kind.WEBHOOK).exists()
    assert "changed by an IdP admin</textarea>" in client.get("/").content.decode()
    hooks_before = ProcessedWebhook.objects.count()
    assert save(client, "my own edit").status_code == 200
    wait_for(lambda: ProcessedWebhook.objects.count() > hooks_before)
    row = mirror()
    assert not row.has_conflict and not row.pending
    assert row.data["userData"] == "my own edit"


def test_remote_change_while_edit_waits_is_a_conflict_resolved_by_staff(
    idp, signed_in_client, live_server
):
    signed_in_client(EMAIL)
    idp.set_webhook_url(f"{live_server.url}/webhooks/fusionauth/")
    idp.stop()
    try:
        push.push(ud_mirror.save_edit(mirror().user, "local while down"))
    finally:
        idp.start()
    idp.set_registration_data(EMAIL, {"userData": "remote meanwhile"})
    wait_for(lambda: mirror().has_conflict)
    row = mirror()
    assert row.data["userData"] == "local while down"
    assert row.conflict_remote_data["userData"] == "remote meanwhile"
    assert idp_data(idp)["userData"] == "remote meanwhile"
    assert push.push(row) == "conflict"
    conflicts.resolve_conflict(row, "local", actor="staff")
    push.push(row)
    assert idp_data(idp)["userData"] == "local while down"
    assert not mirror().has_conflict


def test_bulk_pull_command_uses_search(idp, outbound):
    idp.set_registration_data("teller@example.com", {"userData": "teller note"})
    outbound.clear()
    out = io.StringIO()
    call_command("syncuserdata", "pull", "--json", stdout=out)
    result = json.loads(out.getvalue())
    assert result["errors"] == 0 and result["total"] >= 3
    assert UserData.objects.get(email="teller@example.com").data["userData"] == "teller note"
    assert outbound and all("/api/user/search" in url for url in outbound)
    assert len(outbound) <= 2
