from django.apps import AppConfig


class ChangebankConfig(AppConfig):
    name = "changebank"
    default_auto_field = "django.db.models.BigAutoField"
