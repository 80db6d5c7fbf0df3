from django.apps import AppConfig


class UserdataConfig(AppConfig):
    name = "userdata"
    verbose_name = "User data"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import checks, receivers, stores  # noqa: F401  (checks register on import)

        try:
            from oauthbff import signals
        except ImportError:
            return
        user_signed_in = getattr(signals, "user_signed_in", None)
        session_ended = getattr(signals, "session_ended", None)
        if user_signed_in is not None:
            user_signed_in.connect(
                receivers.pull_on_sign_in, dispatch_uid="userdata.pull_on_sign_in"
            )
        if session_ended is not None:
            session_ended.connect(
                receivers.push_on_session_end, dispatch_uid="userdata.push_on_session_end"
            )
