from django.apps import AppConfig


class ChangebankConfig(AppConfig):
    """ChangeBank: the seed's resource server (/api/make-change, /api/panic) and its home-page panel."""

    name = "changebank"
    verbose_name = "ChangeBank"
    default_auto_field = "django.db.models.BigAutoField"
