"""Staff view of the mirror: sync state, errors, conflicts (with both versions) and history."""

import json

from django.contrib import admin, messages
from django.utils.html import format_html

from . import conflicts, pull, push
from .models import SyncEvent, UserData


class SyncStateFilter(admin.SimpleListFilter):
    title = "sync state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [
            ("pending", "Waiting to push"),
            ("conflict", "Conflict"),
            ("error", "Error"),
            ("not_registered", "Not registered at the IdP"),
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


class SyncEventInline(admin.TabularInline):
    model = SyncEvent
    extra = 0
    can_delete = False
    max_num = 0
    fields = ("created_at", "kind", "message", "remote_version", "pretty_detail")
    readonly_fields = fields
    ordering = ("-created_at", "-id")
    show_change_link = False

    @admin.display(description="detail")
    def pretty_detail(self, obj):
        return _pretty(obj.detail) if obj.detail is not None else ""

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("-created_at", "-id")


def _pretty(value):
    return format_html(
        "<pre>{}</pre>", json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)
    )


@admin.register(UserData)
class UserDataAdmin(admin.ModelAdmin):
    list_display = ("display_email", "sync_state_label", "pulled_at", "pushed_at", "short_error")
    list_filter = (SyncStateFilter,)
    search_fields = ("email", "user__email", "subject")
    list_select_related = ("user",)
    ordering = ("email",)
    actions = ["pull_now", "push_now", "keep_local", "take_remote"]
    inlines = [SyncEventInline]
    fieldsets = (
        (
            None,
            {"fields": ("user", "email", "issuer", "subject", "registered", "sync_state_label")},
        ),
        ("Data", {"fields": ("pretty_data", "pretty_remote_data", "remote_version")}),
        (
            "Conflict",
            {"fields": ("pretty_conflict_remote_data", "conflict_remote_version", "conflict_at")},
        ),
        (
            "Sync",
            {
                "fields": (
                    "pending",
                    "edit_seq",
                    "edited_at",
                    "pulled_at",
                    "pushed_at",
                    "push_attempts",
                    "next_push_at",
                    "last_error",
                    "last_error_at",
                )
            },
        ),
    )
    # Staff never edit the mirror by hand: every field shown is read-only; actions change it.
    readonly_fields = tuple(name for _, options in fieldsets for name in options["fields"])

    def has_add_permission(self, request):
        return False

    @admin.display(description="e-mail", ordering="email")
    def display_email(self, obj):
        return obj.email or (obj.user.email if obj.user else "") or obj.subject or "—"

    @admin.display(description="sync state")
    def sync_state_label(self, obj):
        return obj.sync_state.label

    @admin.display(description="error")
    def short_error(self, obj):
        return (obj.last_error[:80] + "…") if len(obj.last_error) > 80 else obj.last_error

    @admin.display(description="data (local)")
    def pretty_data(self, obj):
        return _pretty(obj.data)

    @admin.display(description="data at the IdP (last sync)")
    def pretty_remote_data(self, obj):
        return _pretty(obj.remote_data)

    @admin.display(description="IdP's conflicting data")
    def pretty_conflict_remote_data(self, obj):
        return _pretty(obj.conflict_remote_data) if obj.has_conflict else "—"

    @admin.action(description="Pull now from the IdP", permissions=["change"])
    def pull_now(self, request, queryset):
        self._report(request, "Pulled", [pull.pull(row) for row in queryset])

    @admin.action(description="Push now to the IdP", permissions=["change"])
    def push_now(self, request, queryset):
        self._report(request, "Pushed", [push.push(row) for row in queryset])

    @admin.action(description="Resolve conflict: keep the local edit", permissions=["change"])
    def keep_local(self, request, queryset):
        self._resolve(request, queryset, "local")

    @admin.action(description="Resolve conflict: take the IdP's data", permissions=["change"])
    def take_remote(self, request, queryset):
        self._resolve(request, queryset, "remote")

    def _resolve(self, request, queryset, keep):
        rows = list(queryset.conflicted())
        for row in rows:
            conflicts.resolve_conflict(row, keep, actor=request.user.get_username())
        self.message_user(request, f"Resolved {len(rows)} conflict(s).", messages.SUCCESS)

    def _report(self, request, verb, outcomes):
        errors = outcomes.count("error")
        level = messages.WARNING if errors else messages.SUCCESS
        self.message_user(
            request,
            f"{verb} {len(outcomes) - errors} row(s); {errors} error(s) (see each row's error).",
            level,
        )
