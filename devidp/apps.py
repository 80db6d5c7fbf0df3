"""App configuration for the development IdP."""

from django.apps import AppConfig


class DevIdpConfig(AppConfig):
    name = "devidp"
    verbose_name = "Development IdP (FusionAuth dialect)"
    default_auto_field = "django.db.models.BigAutoField"
