"""/metrics (ops/metrics.py): readable only with the token, and the product's own series in it."""

from datetime import timedelta

import pytest
import responses
from django.contrib.auth import get_user_model
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from oauthbff.models import OIDCSession
from oauthbff.signals import session_ended, tokens_refreshed, user_signed_in
from userdata.models import SyncEvent, UserData
from userdata.signals import data_pulled, data_pushed

pytestmark = pytest.mark.django_db

TOKEN = "metrics-" + "t" * 32


@pytest.fixture
def metrics_on(settings):
    settings.METRICS_TOKEN = TOKEN


def scrape(client):
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_are_not_served_without_a_configured_token(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer anything").status_code == 404


def test_metrics_need_the_bearer_token(client, metrics_on):
    missing = client.get("/metrics")
    assert missing.status_code == 401
    assert missing["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Basic {TOKEN}").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}x").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"bearer {TOKEN}").status_code == 200


def test_sign_ins_refreshes_and_ended_sessions_are_counted(client, metrics_on):
    user = get_user_model().objects.create_user(username="m@example.com", email="m@example.com")
    before = scrape(client)
    user_signed_in.send(sender=OIDCSession, request=None, user=user, claims={}, access_claims={})
    tokens_refreshed.send(sender=OIDCSession, request=None, user=user, expires_at=None)
    session_ended.send(sender=OIDCSession, user=user, session_key="k", reason="refresh_failed")
    session_ended.send(sender=OIDCSession, user=user, session_key="k", reason="logout")
    after = scrape(client)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("bff_sign_ins_total") == 1
    assert delta("bff_token_refreshes_total", result="ok") == 1
    assert delta("bff_token_refreshes_total", result="failed") == 1
    assert delta("bff_sessions_ended_total", reason="logout") == 1
    assert delta("bff_sessions_ended_total", reason="refresh_failed") == 1


def test_pushes_and_pulls_are_counted_by_result(client, metrics_on):
    row = UserData.objects.create(subject="s9", email="p@example.com")
    before = scrape(client)
    data_pushed.send(UserData, row=row, ok=True, error="")
    data_pushed.send(UserData, row=row, ok=False, error="IdP unreachable")
    data_pulled.send(UserData, row=row, ok=True, error="")
    after = scrape(client)

    def delta(**labels):
        name = "bff_userdata_syncs_total"
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta(direction="push", result="ok") == 1
    assert delta(direction="push", result="failed") == 1
    assert delta(direction="pull", result="ok") == 1
    assert delta(direction="pull", result="failed") == 0


def test_the_mirror_backlog_and_push_lag_are_read_at_scrape_time(client, metrics_on):
    now = timezone.now()
    waiting = UserData.objects.create(
        subject="s1", email="a@example.com", pending=True, edited_at=now - timedelta(seconds=90)
    )
    UserData.objects.create(subject="s2", email="b@example.com", pending=True, edited_at=now)
    UserData.objects.create(subject="s3", email="c@example.com", conflict_at=now)
    UserData.objects.create(subject="s4", email="d@example.com", last_error="IdP unreachable")
    SyncEvent.objects.bulk_create(
        [
            SyncEvent(userdata=waiting, kind=SyncEvent.Kind.PUSH, message="Pushed."),
            SyncEvent(userdata=waiting, kind=SyncEvent.Kind.ERROR, message="IdP unreachable"),
        ]
    )
    UserData.objects.filter(pk=waiting.pk).update(pushed_at=now - timedelta(seconds=30))
    samples = scrape(client)
    assert value(samples, "bff_userdata_rows", state="pending") == 2
    assert value(samples, "bff_userdata_rows", state="conflict") == 1
    assert value(samples, "bff_userdata_rows", state="error") == 1
    assert 89 <= value(samples, "bff_userdata_push_lag_seconds") < 150
    assert value(samples, "bff_userdata_sync_events_recent", kind="push") == 1
    assert value(samples, "bff_userdata_sync_events_recent", kind="error") == 1
    assert value(samples, "bff_userdata_sync_events_recent", kind="pull") == 0
    last_push = value(samples, "bff_userdata_last_push_timestamp_seconds")
    assert abs(last_push - (now.timestamp() - 30)) < 2
    UserData.objects.update(pending=False)
    assert value(scrape(client), "bff_userdata_push_lag_seconds") == 0


@responses.activate
def test_provider_calls_are_timed_by_endpoint(client, metrics_on):
    from oauthbff.http import provider_session as http

    responses.add(responses.GET, "https://idp.example.com/.well-known/jwks.json", json={})
    before = scrape(client)
    http.get("https://idp.example.com/.well-known/jwks.json", timeout=2)
    after = scrape(client)
    key = ("bff_provider_request_duration_seconds_count", (("endpoint", "/.well-known/jwks.json"),))
    assert after[key] - before.get(key, 0) == 1
