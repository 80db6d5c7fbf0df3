"""Staff view of the mirror: sync state, errors, conflicts resolved side by side, and paged history.

Nothing here edits the mirror by hand: every field is read-only and the change page has no Save
button. Staff act through the provider (pull now, push now) or decide a conflict (keep the local
edit, or take the provider's copy), from the list's actions or from the row's own page.
"""

import difflib
import json
import re
from datetime import UTC, datetime
from itertools import zip_longest

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import ngettext

from oauthbff.admin import LabelledAdminMixin, person_label, when

from . import conflicts, pull, push
from .models import UserData

HISTORY_PER_PAGE = 20
# Provider versions that are epoch milliseconds (FusionAuth's lastUpdateInstant) fall in here.
EPOCH_MS = range(10**12, 5 * 10**12)


def short_when(value):
    """A time in a list column: "1 Dec, 09:12 UTC"."""
    return "—" if value is None else date_format(timezone.localtime(value), "j M, H:i T")


def provider_version(version):
    """The provider's version of a copy in words: its time when it is one, else its number."""
    if version is None:
        return "—"
    if version in EPOCH_MS:
        moment = datetime.fromtimestamp(version / 1000, tz=UTC)
        return f"changed {when(moment)}"
    if version < 0:
        return "no version from the provider (compared by content)"
    return f"revision {version}"


def _pretty(value):
    return format_html(
        "<pre>{}</pre>", json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)
    )


def readable_lines(data):
    """Data as lines people read: each key, then its value (text as typed, anything else as JSON)."""
    lines = []
    for key in sorted(data or {}):
        value = data[key]
        if isinstance(value, str):
            text = value
        else:
            text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)
        lines.append(f"{key}:")
        lines.extend("  " + line for line in (text.splitlines() or [""]))
    return lines


_WORDS = re.compile(r"\s+|\w+|[^\w\s]")


def _marked_pair(left, right):
    """Two changed lines with the words that differ wrapped in <mark>."""
    a, b = _WORDS.findall(left), _WORDS.findall(right)
    out_a, out_b = [], []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        part_a, part_b = "".join(a[i1:i2]), "".join(b[j1:j2])
        if tag == "equal":
            out_a.append(format_html("{}", part_a))
            out_b.append(format_html("{}", part_b))
            continue
        if part_a:
            out_a.append(format_html("<mark>{}</mark>", part_a))
        if part_b:
            out_b.append(format_html("<mark>{}</mark>", part_b))
    # Every part was escaped by format_html above.
    return mark_safe("".join(out_a)), mark_safe("".join(out_b))  # noqa: S308


def side_by_side(local, remote):
    """Rows (left HTML, right HTML, changed) comparing two data dicts line by line, with the
    differing words marked: difflib's matching, our own accessible markup."""
    a, b = readable_lines(local), readable_lines(remote)
    rows = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            rows.extend((line, line, False) for line in a[i1:i2])
            continue
        for left, right in zip_longest(a[i1:i2], b[j1:j2]):
            if left is not None and right is not None:
                rows.append((*_marked_pair(left, right), True))
            else:
                rows.append(
                    (
                        format_html("<mark>{}</mark>", left) if left is not None else "",
                        format_html("<mark>{}</mark>", right) if right is not None else "",
                        True,
                    )
                )
    return rows


class SyncStateFilter(admin.SimpleListFilter):
    title = "sync state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [
            ("pending", "Waiting to be sent"),
            ("conflict", "Conflict to resolve"),
            ("error", "Last sync failed"),
            ("not_registered", "No longer at the provider"),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "pending":
            return queryset.filter(pending=True)
        if value == "conflict":
            return queryset.conflicted()
        if value == "error":
            return queryset.exclude(last_error="")
        if value == "not_registered":
            return queryset.filter(registered=False)
        return queryset


@admin.register(UserData)
class UserDataAdmin(LabelledAdminMixin, admin.ModelAdmin):
    change_form_template = "admin/userdata/userdata/change_form.html"

    class Media:
        css = {"all": ["oauthbff/admin.css", "userdata/admin.css"]}

    list_display = (
        "display_email",
        "sync_state_label",
        "listed_pulled",
        "listed_pushed",
        "short_error",
    )
    list_filter = (SyncStateFilter,)
    search_fields = ("email", "user__email", "user__first_name", "user__last_name", "subject")
    list_select_related = ("user",)
    ordering = ("email",)
    actions = ["pull_now", "push_now", "keep_local", "take_remote"]
    fieldsets = (
        (None, {"fields": ("person", "sync_state_label", "at_provider")}),
        (
            "The data",
            {
                "description": "What this site shows the person, and the provider's copy as of "
                "the last sync (the base a conflict is judged against).",
                "fields": ("pretty_data", "pretty_remote_data", "remote_version_label"),
            },
        ),
        (
            "Sync",
            {
                "fields": (
                    "edited",
                    "last_pulled",
                    "last_pushed",
                    "waiting",
                    "last_error",
                    "error_at",
                )
            },
        ),
        (
            "At the identity provider",
            {
                "description": "The provider's identifiers of this person.",
                "fields": ("issuer", "subject"),
            },
        ),
    )
    # Staff never edit the mirror by hand: every field shown is read-only; actions change it.
    readonly_fields = tuple(name for _, options in fieldsets for name in options["fields"])

    def object_label(self, obj):
        return self.display_email(obj)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        # Deleting a row that holds an unsent edit or an open conflict would lose what the
        # person typed; such a row is resolved or pushed first.
        if obj is not None and (obj.pending or obj.has_conflict):
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request):
        # The bulk delete cannot tell rows with unsent edits apart; see has_delete_permission.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def get_urls(self):
        view = self.admin_site.admin_view(self.resolve_view)
        name = f"{self.opts.app_label}_{self.opts.model_name}_resolve"
        return [path("<path:object_id>/resolve/", view, name=name), *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        context = {
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
            **(extra_context or {}),
        }
        if obj is not None:
            context["can_resolve"] = obj.has_conflict and self.has_change_permission(request, obj)
            if obj.has_conflict:
                context["conflict_rows"] = side_by_side(obj.data, obj.conflict_remote_data)
                context["conflict_since"] = when(obj.conflict_at)
                context["conflict_version"] = provider_version(obj.conflict_remote_version)
            paginator = Paginator(
                obj.events.order_by("-created_at", "-id"),
                HISTORY_PER_PAGE,
                allow_empty_first_page=True,
            )
            page = paginator.get_page(request.GET.get("history"))
            context["history_page"] = page
            context["history"] = [
                {
                    "when": when(event.created_at),
                    "iso": event.created_at.isoformat(),
                    "kind": event.get_kind_display(),
                    "message": event.message,
                    "version": provider_version(event.remote_version),
                    "detail": _pretty(event.detail) if event.detail is not None else "",
                }
                for event in page.object_list
            ]
        return super().change_view(request, object_id, form_url, context)

    def resolve_view(self, request, object_id):
        """POST keep=local|remote from the row's page: one staff decision, then back to the row."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        row = get_object_or_404(UserData, pk=object_id)
        if not self.has_change_permission(request, row):
            raise PermissionDenied
        back = reverse(f"{self.admin_site.name}:userdata_userdata_change", args=[row.pk])
        keep = request.POST.get("keep")
        if keep not in ("local", "remote"):
            self.message_user(
                request,
                "Choose to keep the local edit or take the provider's copy.",
                messages.ERROR,
            )
            return HttpResponseRedirect(back)
        if not row.has_conflict:
            self.message_user(
                request, "This conflict was already resolved; nothing changed.", messages.WARNING
            )
            return HttpResponseRedirect(back)
        conflicts.resolve_conflict(row, keep, actor=person_label(request.user))
        if keep == "local":
            text = f"Kept the local edit for {self.display_email(row)}; it is being sent to the provider."
        else:
            text = f"Took the provider's copy for {self.display_email(row)}."
        self.message_user(request, text, messages.SUCCESS)
        return HttpResponseRedirect(back)

    @admin.display(description="person", ordering="email")
    def display_email(self, obj):
        if obj.user is not None:
            label = person_label(obj.user)
            if label != obj.user.get_username():
                return label
        return obj.email or obj.subject or "—"

    @admin.display(description="person")
    def person(self, obj):
        label = self.display_email(obj)
        if obj.user is None:
            return label
        url = reverse(f"{self.admin_site.name}:auth_user_change", args=[obj.user.pk])
        return format_html('<a href="{}">{}</a>', url, label)

    @admin.display(description="sync state")
    def sync_state_label(self, obj):
        return obj.sync_state.label

    @admin.display(description="at the provider")
    def at_provider(self, obj):
        if obj.registered:
            return "Registered for this application"
        return "No longer registered (deleted at the provider); kept here with its history"

    @admin.display(description="error")
    def short_error(self, obj):
        return (obj.last_error[:80] + "…") if len(obj.last_error) > 80 else obj.last_error

    @admin.display(description="on this site")
    def pretty_data(self, obj):
        return _pretty(obj.data)

    @admin.display(description="at the provider, last sync")
    def pretty_remote_data(self, obj):
        return _pretty(obj.remote_data)

    @admin.display(description="provider's copy")
    def remote_version_label(self, obj):
        return provider_version(obj.remote_version)

    @admin.display(description="last edited here")
    def edited(self, obj):
        return when(obj.edited_at)

    @admin.display(description="last read from the provider", ordering="pulled_at")
    def last_pulled(self, obj):
        return when(obj.pulled_at)

    @admin.display(description="last sent to the provider", ordering="pushed_at")
    def last_pushed(self, obj):
        return when(obj.pushed_at)

    @admin.display(description="last read", ordering="pulled_at")
    def listed_pulled(self, obj):
        return short_when(obj.pulled_at)

    @admin.display(description="last sent", ordering="pushed_at")
    def listed_pushed(self, obj):
        return short_when(obj.pushed_at)

    @admin.display(description="waiting to be sent")
    def waiting(self, obj):
        if not obj.pending:
            return "Nothing waits"
        if obj.has_conflict:
            return "An edit waits for the conflict to be resolved"
        if obj.push_attempts:
            tries = ngettext("%(n)d failed try", "%(n)d failed tries", obj.push_attempts) % {
                "n": obj.push_attempts
            }
            return f"An edit waits: {tries}; next try {when(obj.next_push_at)}"
        return "An edit waits to be sent"

    @admin.display(description="error since")
    def error_at(self, obj):
        return when(obj.last_error_at) if obj.last_error else "—"

    @admin.action(description="Pull now from the provider", permissions=["change"])
    def pull_now(self, request, queryset):
        self._report(request, "Pulled", [pull.pull(row) for row in queryset])

    @admin.action(description="Push now to the provider", permissions=["change"])
    def push_now(self, request, queryset):
        self._report(request, "Pushed", [push.push(row) for row in queryset])

    @admin.action(description="Resolve conflict: keep the local edit", permissions=["change"])
    def keep_local(self, request, queryset):
        self._resolve(request, queryset, "local")

    @admin.action(description="Resolve conflict: take the provider's copy", permissions=["change"])
    def take_remote(self, request, queryset):
        self._resolve(request, queryset, "remote")

    def _resolve(self, request, queryset, keep):
        rows = list(queryset.conflicted())
        for row in rows:
            conflicts.resolve_conflict(row, keep, actor=person_label(request.user))
        self.message_user(
            request,
            ngettext("Resolved %(n)d conflict.", "Resolved %(n)d conflicts.", len(rows))
            % {"n": len(rows)},
            messages.SUCCESS,
        )

    def _report(self, request, verb, outcomes):
        errors = outcomes.count("error")
        done = len(outcomes) - errors
        text = ngettext("%(verb)s %(n)d row", "%(verb)s %(n)d rows", done) % {
            "verb": verb,
            "n": done,
        }
        if errors:
            text += ngettext(
                "; %(n)d failed (see its error).", "; %(n)d failed (see each row's error).", errors
            ) % {"n": errors}
        else:
            text += "."
        self.message_user(request, text, messages.WARNING if errors else messages.SUCCESS)
