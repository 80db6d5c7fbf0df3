from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Wires the metrics to the apps' signals and registers the start-up checks."""

    name = "ops"
    verbose_name = "Operations"

    def ready(self):
        from ops import checks, metrics  # noqa: F401 - registers the system checks

        metrics.connect_receivers()
        metrics.observe_provider_calls()
