"""The session index for staff: who is signed in, on which device, and why a session ended;
signed out, never deleted, and never filterable by its secrets."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models.constants import LOOKUP_SEP
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import format_html
from django.utils.timesince import timesince
from django.utils.translation import ngettext

from oauthbff.admin.labels import LabelledAdminMixin, person_label, when
from oauthbff.devices import describe
from oauthbff.models import OIDCIdentity, OIDCSession
from oauthbff.sessions import end_session

# Never filterable from the admin's URL: a prefix lookup answers one character at a time.
SECRET_FIELDS = frozenset(
    {
        "session_key_hash",
        "sealed_session_key",
        "access_token",
        "refresh_token",
        "id_token",
        "claims",
        "dpop_key",
        "upstream_tokens",
    }
)

# Why a session ended, as staff read it (the codes are what ``end_session`` is given).
END_REASONS = {
    "logout": "Signed out",
    "ended_by_user": "Signed out from another session",
    "revoked": "Signed out by staff",
    "backchannel": "Signed out at the provider",
    "refresh_failed": "Provider refused to renew",
    "expired": "Expired",
    "replaced": "Replaced by a new sign-in",
}


class EndReasonFilter(admin.SimpleListFilter):
    """Active or ended, and why, in words rather than the stored codes."""

    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("active", "Active"), *END_REASONS.items()]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "active":
            return queryset.active()
        if value in END_REASONS:
            return queryset.filter(end_reason=value)
        return queryset


@admin.register(OIDCSession)
class OIDCSessionAdmin(LabelledAdminMixin, admin.ModelAdmin):
    change_form_template = "admin/oauthbff/oidcsession/change_form.html"
    # Five columns, so the index fits 1280 px beside the navigation and the filter.
    list_display = ("person", "device_and_address", "signed_in", "last_used", "state")
    list_display_links = ("person",)
    list_filter = (EndReasonFilter,)
    list_select_related = ("user",)
    search_fields = ("user__email", "user__first_name", "user__last_name", "ip_address", "sid")
    date_hierarchy = "created_at"
    fieldsets = (
        (None, {"fields": ("person", "device", "address", "agent")}),
        ("When", {"fields": ("signed_in_at", "used_at", "access_renews", "api_tokens", "state")}),
        (
            "At the identity provider",
            {
                "fields": ("issuer", "subject", "sid"),
                "description": "The provider's identifiers of this person and of this sign-in.",
            },
        ),
    )
    readonly_fields = (
        "person",
        "device",
        "address",
        "agent",
        "signed_in_at",
        "used_at",
        "access_renews",
        "api_tokens",
        "state",
        "issuer",
        "subject",
        "sid",
    )
    actions = ["revoke_sessions"]

    def lookup_allowed(self, lookup, value, request=None):
        if lookup.split(LOOKUP_SEP, 1)[0] in SECRET_FIELDS:
            return False
        return super().lookup_allowed(lookup, value, request)

    def object_label(self, obj):
        return f"{person_label(obj.user)} · {describe(obj.user_agent).label}"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        # A session is signed out, never deleted: its row is the record of who was signed in.
        # Without an object this is the permission the sign-out action and button require.
        if obj is not None:
            return False
        return super().has_delete_permission(request)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def get_urls(self):
        view = self.admin_site.admin_view(self.sign_out_view)
        name = f"{self.opts.app_label}_{self.opts.model_name}_sign_out"
        return [path("<path:object_id>/sign-out/", view, name=name), *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        context = dict(extra_context or {})
        context["can_sign_out"] = (
            obj is not None and obj.is_active and self.has_delete_permission(request)
        )
        return super().change_view(request, object_id, form_url, context)

    def sign_out_view(self, request, object_id):
        """POST from the session's page: revoke its refresh token and end it, like the action."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_delete_permission(request):
            raise PermissionDenied
        row = get_object_or_404(OIDCSession.objects.select_related("user"), pk=object_id)
        if row.is_active:
            end_session(row, "revoked", revoke=True)
            self.message_user(request, f"Signed out {self.object_label(row)}.", messages.SUCCESS)
        else:
            self.message_user(request, "This session had already ended.", messages.WARNING)
        return HttpResponseRedirect(
            reverse(f"{self.admin_site.name}:oauthbff_oidcsession_change", args=[row.pk])
        )

    @admin.display(description="person", ordering="user__email")
    def person(self, obj):
        return person_label(obj.user)

    @admin.display(description="device and browser")
    def device(self, obj):
        return describe(obj.user_agent).label

    @admin.display(description="IP address")
    def address(self, obj):
        return obj.ip_address or "Unknown"

    @admin.display(description="signed in")
    def signed_in_at(self, obj):
        return when(obj.created_at)

    @admin.display(description="last used")
    def used_at(self, obj):
        return when(obj.last_used_at)

    @admin.display(description="access token valid until")
    def access_renews(self, obj):
        if not obj.is_active or obj.access_expires_at is None:
            return "—"
        return when(obj.access_expires_at)

    @admin.display(description="tokens for APIs")
    def api_tokens(self, obj):
        """The upstream APIs this session holds a token of its own for, and until when (never the
        tokens themselves)."""
        tokens = obj.upstream_tokens.order_by("upstream")
        return ", ".join(f"{t.upstream} (until {when(t.expires_at)})" for t in tokens) or "—"

    @admin.display(description="User-Agent header")
    def agent(self, obj):
        return obj.user_agent or "—"

    @admin.display(description="device and address")
    def device_and_address(self, obj):
        return format_html(
            "{}<br><small>{}</small>",
            describe(obj.user_agent).label,
            obj.ip_address or "address unknown",
        )

    @admin.display(description="signed in", ordering="created_at")
    def signed_in(self, obj):
        return date_format(timezone.localtime(obj.created_at), "j M, H:i T")

    @admin.display(description="last used", ordering="last_used_at")
    def last_used(self, obj):
        if (timezone.now() - obj.last_used_at).total_seconds() < 60:
            return "just now"
        return f"{timesince(obj.last_used_at, depth=1)} ago"

    @admin.display(description="state", ordering="ended_at")
    def state(self, obj):
        if obj.is_active:
            return "Active"
        return END_REASONS.get(obj.end_reason, obj.end_reason or "Ended")

    @admin.action(description="Sign out the selected sessions", permissions=["delete"])
    def revoke_sessions(self, request, queryset):
        ended = 0
        for row in queryset.active().select_related("user"):
            ended += end_session(row, "revoked", revoke=True)
        self.message_user(
            request,
            ngettext("Signed out %(count)d session.", "Signed out %(count)d sessions.", ended)
            % {"count": ended},
            messages.SUCCESS,
        )


@admin.register(OIDCIdentity)
class OIDCIdentityAdmin(LabelledAdminMixin, admin.ModelAdmin):
    list_display = ("person", "issuer", "last_login_at")
    list_select_related = ("user",)
    search_fields = ("user__email", "user__first_name", "user__last_name", "subject")
    fields = ("person", "issuer", "subject", "created_at", "last_login_at")
    readonly_fields = fields

    def object_label(self, obj):
        return person_label(obj.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="person", ordering="user__email")
    def person(self, obj):
        return person_label(obj.user)
