"""Probe and metrics URLs, mounted at the site's root (where probes and scrapers expect them)."""

from django.urls import path

from ops import health, metrics

app_name = "ops"
urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
]
