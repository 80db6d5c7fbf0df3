from django.apps import AppConfig


class OauthbffConfig(AppConfig):
    name = "oauthbff"
    verbose_name = "Sign-in (OpenID Connect)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.conf import settings
        from django.contrib.auth.signals import user_logged_out
        from django.core.signals import setting_changed
        from django.db.models.signals import post_save, pre_save

        from oauthbff import checks  # noqa: F401 - registers the system checks
        from oauthbff.receivers import (
            end_indexed_session,
            end_sessions_of_deactivated_user,
            forget_derived_state,
            note_deactivation,
        )

        user_logged_out.connect(end_indexed_session, dispatch_uid="oauthbff.end_indexed_session")
        setting_changed.connect(forget_derived_state, dispatch_uid="oauthbff.forget_derived_state")
        user_model = settings.AUTH_USER_MODEL
        pre_save.connect(note_deactivation, sender=user_model, dispatch_uid="oauthbff.deactivation")
        post_save.connect(
            end_sessions_of_deactivated_user,
            sender=user_model,
            dispatch_uid="oauthbff.end_sessions_of_deactivated_user",
        )
