from django.apps import AppConfig


class OauthbffConfig(AppConfig):
    name = "oauthbff"
    verbose_name = "Sign-in (OpenID Connect)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.contrib.auth.signals import user_logged_out
        from django.core.signals import setting_changed

        from oauthbff import checks  # noqa: F401 - registers the system checks
        from oauthbff.receivers import end_indexed_session, forget_derived_state

        user_logged_out.connect(end_indexed_session, dispatch_uid="oauthbff.end_indexed_session")
        setting_changed.connect(forget_derived_state, dispatch_uid="oauthbff.forget_derived_state")
