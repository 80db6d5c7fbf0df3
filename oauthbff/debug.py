"""Error reports without tokens: a ``DEFAULT_EXCEPTION_REPORTER_FILTER`` for projects using oauthbff.

Django's own filter honours ``sensitive_variables`` only when DEBUG is off, and cannot know the
locals of third-party frames (mozilla-django-oidc's ``authenticate`` holds the token response). This
one applies at every DEBUG level and also hides, in every frame, variables and dict keys named like
a credential and any value that looks like a JWT.

    DEFAULT_EXCEPTION_REPORTER_FILTER = "oauthbff.debug.SafeExceptionReporterFilter"
"""

import re

from django.utils.datastructures import MultiValueDict
from django.views import debug

# A compact JWS or JWE: base64url segments separated by dots, starting with an encoded "{".
JWT_RE = re.compile(r"eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.")
MAX_DEPTH = 6


class SafeExceptionReporterFilter(debug.SafeExceptionReporterFilter):
    """Hides tokens from debug pages and error reports, with DEBUG on or off."""

    hidden_settings = re.compile(
        "API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|VERIFIER|NONCE|ASSERTION|^CODE$",
        flags=re.I,
    )

    def is_active(self, request):
        """Always: a development machine's debug page is shown, shared and screenshotted too."""
        return True

    def cleanse_value(self, name, value, depth=0):
        """``value`` with credentials replaced: by its name, by dict key, or by looking like a JWT."""
        if name and isinstance(name, str) and self.hidden_settings.search(name):
            return self.cleansed_substitute
        if isinstance(value, str):
            return self.cleansed_substitute if JWT_RE.search(value) else value
        if isinstance(value, bytes):
            return self.cleansed_substitute if JWT_RE.search(value.decode("latin-1")) else value
        if depth >= MAX_DEPTH:
            return value
        if isinstance(value, dict) and not isinstance(value, MultiValueDict):
            return {k: self.cleanse_value(k, v, depth + 1) for k, v in value.items()}
        if type(value) in (list, tuple, set, frozenset):
            return type(value)(self.cleanse_value("", v, depth + 1) for v in value)
        return value

    def cleanse_setting(self, key, value):
        cleansed = super().cleanse_setting(key, value)
        return self.cleanse_value("", cleansed) if isinstance(cleansed, str) else cleansed

    def get_traceback_frame_variables(self, request, tb_frame):
        return [
            (name, self.cleanse_value(name, value))
            for name, value in super().get_traceback_frame_variables(request, tb_frame)
        ]
