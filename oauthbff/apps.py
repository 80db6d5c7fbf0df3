from django.apps import AppConfig


class OauthbffConfig(AppConfig):
    name = "oauthbff"
    default_auto_field = "django.db.models.BigAutoField"
