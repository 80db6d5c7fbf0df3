"""How staff recognise people and objects in the admin: by name and e-mail, never by the
username derived from (issuer, sub); times in words with their zone."""

from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.timesince import timesince

from oauthbff.models import OIDCIdentity


def person_label(user):
    """How staff recognise a person: "Ada Lovelace (ada@example.com)", else the e-mail, else the
    username."""
    if user is None:
        return "—"
    name = user.get_full_name().strip() if hasattr(user, "get_full_name") else ""
    email = getattr(user, "email", "") or ""
    if name and email:
        return f"{name} ({email})"
    return name or email or user.get_username()


def when(value):
    """A time as staff read it: "1 Dec 2026, 09:12 UTC (3 minutes ago)"; "—" when never."""
    if value is None:
        return "—"
    local = timezone.localtime(value)
    text = date_format(local, "j M Y, H:i T")
    now = timezone.now()
    if abs((now - value).total_seconds()) < 60:
        return f"{text} (just now)"
    if value <= now:
        return f"{text} ({timesince(value, now, depth=1)} ago)"
    return f"{text} (in {timesince(now, value, depth=1)})"


def is_provider_owned(user):
    """True when the user signs in through the provider (has an ``OIDCIdentity``)."""
    if user is None or user.pk is None:
        return False
    try:
        return user.oidc_identity is not None
    except OIDCIdentity.DoesNotExist:
        return False


class _Labelled:
    """An object as staff read it in a message or the history: everything delegates to the object,
    only ``str()`` is its label. Used where Django writes ``str(obj)`` into text itself."""

    def __init__(self, obj, label):
        self._obj = obj
        self._label = label

    def __getattr__(self, name):
        return getattr(self._obj, name)

    def __str__(self):
        return self._label


class LabelledAdminMixin:
    """Titles, breadcrumbs and messages name an object by ``object_label`` rather than ``str()``."""

    change_form_template = "admin/oauthbff/labelled_change_form.html"
    object_history_template = "admin/oauthbff/labelled_object_history.html"

    class Media:
        css = {"all": ["oauthbff/admin.css"]}

    def object_label(self, obj):
        return str(obj)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if obj is not None:
            context.setdefault("subtitle", self.object_label(obj))
            context.setdefault("object_label", self.object_label(obj))
        return super().change_view(request, object_id, form_url, context)

    def history_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if obj is not None:
            label = self.object_label(obj)
            context.setdefault("title", f"Change history: {label}")
            context.setdefault("object_label", label)
        return super().history_view(request, object_id, context)

    def response_change(self, request, obj):
        return super().response_change(request, _Labelled(obj, self.object_label(obj)))

    def log_change(self, request, obj, message):
        return super().log_change(request, _Labelled(obj, self.object_label(obj)), message)

    def action_checkbox(self, obj):
        return super().action_checkbox(_Labelled(obj, self.object_label(obj)))
