from django.apps import AppConfig


class ChangebankConfig(AppConfig):
    """ChangeBank: the seed's resource server (/api/make-change, /api/panic) and its home-page panel."""

    name = "changebank"
    verbose_name = "ChangeBank"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.core import checks

        from oauthbff.client import check_upstreams

        # The panel calls the API through the proxy: a broken BFF_UPSTREAMS must show at start-up.
        checks.register(check_upstreams, "oauthbff")
