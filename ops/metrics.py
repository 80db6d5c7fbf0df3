"""The product's Prometheus series, served at /metrics to a scraper holding METRICS_TOKEN.

Counters follow what the apps announce (oauthbff's and userdata's signals); the user-data mirror's
state and its
recent sync history are read from the database at scrape time, so they are right whichever process
(web, worker, management command) did the work, bulk writes included. Under gunicorn with
several workers set PROMETHEUS_MULTIPROC_DIR (prometheus-client's multiprocess mode) so the counters
of every worker are added up.
"""

import hmac
import os
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import Count, Max, Min, Q
from django.http import Http404, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily

SIGN_INS = Counter("bff_sign_ins_total", "Completed sign-ins through the identity provider.")
REFRESHES = Counter(
    "bff_token_refreshes_total",
    "Access-token refreshes, by result (failed: the provider refused and the session ended).",
    ["result"],
)
SESSIONS_ENDED = Counter("bff_sessions_ended_total", "Sessions ended, by reason.", ["reason"])
SYNCS = Counter(
    "bff_userdata_syncs_total",
    "Pushes and pulls of user data to and from the provider, by direction and result.",
    ["direction", "result"],
)
# The sync history is written in bulk (no model signals), so its activity is read, not counted.
RECENT_WINDOW = timedelta(minutes=5)
PROVIDER_LATENCY = Histogram(
    "bff_provider_request_duration_seconds",
    "Time of the calls to the identity provider's OIDC endpoints that got an answer, by endpoint.",
    ["endpoint"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


# --- signal receivers ------------------------------------------------------------------------------
def _signed_in(**kwargs):
    SIGN_INS.inc()


def _refreshed(**kwargs):
    REFRESHES.labels("ok").inc()


def _session_ended(reason="", **kwargs):
    reason = str(reason or "unknown")[:40]
    SESSIONS_ENDED.labels(reason).inc()
    if reason == "refresh_failed":
        REFRESHES.labels("failed").inc()


def _synced(direction):
    def receiver(ok=False, **kwargs):
        SYNCS.labels(direction, "ok" if ok else "failed").inc()

    return receiver


_pushed = _synced("push")
_pulled = _synced("pull")


def connect_receivers():
    from oauthbff.signals import session_ended, tokens_refreshed, user_signed_in
    from userdata.signals import data_pulled, data_pushed

    user_signed_in.connect(_signed_in, dispatch_uid="ops.metrics.signed_in")
    tokens_refreshed.connect(_refreshed, dispatch_uid="ops.metrics.refreshed")
    session_ended.connect(_session_ended, dispatch_uid="ops.metrics.session_ended")
    data_pushed.connect(_pushed, dispatch_uid="ops.metrics.data_pushed")
    data_pulled.connect(_pulled, dispatch_uid="ops.metrics.data_pulled")


# --- provider latency --------------------------------------------------------------------------------
def _observe_provider_response(response, *args, **kwargs):
    """A requests response hook: the path names the endpoint (a provider has a handful of them)."""
    path = urlsplit(response.request.url).path or "/"
    PROVIDER_LATENCY.labels(path).observe(response.elapsed.total_seconds())
    return response


def observe_provider_calls():
    """Time every answer on oauthbff's pooled provider session (a response hook, no edit inside)."""
    from oauthbff.http import provider_session

    hooks = provider_session.hooks.setdefault("response", [])
    if _observe_provider_response not in hooks:
        hooks.append(_observe_provider_response)


# --- state read at scrape time ---------------------------------------------------------------------
class StateCollector:
    """Gauges read from the database when scraped: sessions and the user-data mirror's backlog."""

    def describe(self):
        """The series' names without reading them (the registry asks when the collector is added)."""
        return [
            GaugeMetricFamily("bff_userdata_rows", "", labels=["state"]),
            GaugeMetricFamily("bff_userdata_push_lag_seconds", ""),
            GaugeMetricFamily("bff_active_sessions", ""),
            GaugeMetricFamily("bff_userdata_sync_events_recent", "", labels=["kind"]),
            GaugeMetricFamily("bff_userdata_last_push_timestamp_seconds", ""),
            GaugeMetricFamily("bff_userdata_last_pull_timestamp_seconds", ""),
        ]

    def collect(self):
        from oauthbff.models import OIDCSession
        from userdata.models import SyncEvent, UserData

        now = timezone.now()
        rows = UserData.objects.aggregate(
            pending_rows=Count("pk", filter=Q(pending=True)),
            conflict_rows=Count("pk", filter=Q(conflict_at__isnull=False)),
            error_rows=Count("pk", filter=~Q(last_error="")),
            oldest_edit=Min("edited_at", filter=Q(pending=True)),
            last_push=Max("pushed_at"),
            last_pull=Max("pulled_at"),
        )
        mirror = GaugeMetricFamily(
            "bff_userdata_rows",
            "User-data mirror rows by state (pending: edits waiting to be pushed).",
            labels=["state"],
        )
        for state in ("pending", "conflict", "error"):
            mirror.add_metric([state], rows[f"{state}_rows"])
        yield mirror
        lag = (now - rows["oldest_edit"]).total_seconds() if rows["oldest_edit"] else 0.0
        yield GaugeMetricFamily(
            "bff_userdata_push_lag_seconds",
            "Age of the oldest local edit still waiting to be pushed to the provider (0: none).",
            value=max(lag, 0.0),
        )
        for name, field, what in (
            ("bff_userdata_last_push_timestamp_seconds", "last_push", "push"),
            ("bff_userdata_last_pull_timestamp_seconds", "last_pull", "pull"),
        ):
            yield GaugeMetricFamily(
                name,
                f"Unix time of the latest successful {what} of any user's data (0: none yet).",
                value=rows[field].timestamp() if rows[field] else 0.0,
            )
        recent = dict.fromkeys(SyncEvent.Kind.values, 0)
        for entry in (
            SyncEvent.objects.filter(created_at__gte=now - RECENT_WINDOW)
            .values("kind")
            .annotate(count=Count("pk"))
        ):
            recent[entry["kind"]] = entry["count"]
        events = GaugeMetricFamily(
            "bff_userdata_sync_events_recent",
            "Sync history entries of the last 5 minutes by kind (push and pull: done; error: failed).",
            labels=["kind"],
        )
        for kind, count in recent.items():
            events.add_metric([kind], count)
        yield events
        yield GaugeMetricFamily(
            "bff_active_sessions",
            "Signed-in sessions that have not ended.",
            value=OIDCSession.objects.active().count(),
        )


_state_collector = StateCollector()
REGISTRY.register(_state_collector)


def registry():
    """The default registry, or, in multiprocess mode, one that adds up every worker's files."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    from prometheus_client import multiprocess

    merged = CollectorRegistry()
    multiprocess.MultiProcessCollector(merged)
    merged.register(_state_collector)
    return merged


def _bearer(request):
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


@require_safe
@never_cache
def metrics_view(request):
    """Prometheus text format; 404 when METRICS_TOKEN is unset, 401 without a token, 403 wrong."""
    expected = settings.METRICS_TOKEN
    if not expected:
        raise Http404("Metrics are not enabled.")
    supplied = _bearer(request)
    if not supplied:
        response = HttpResponse(
            "A bearer token is required.\n", status=401, content_type="text/plain"
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if not hmac.compare_digest(supplied.encode(), expected.encode()):
        return HttpResponse("This token is not allowed.\n", status=403, content_type="text/plain")
    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)
