"""Staff see and revoke signed-in sessions; identities are shown read-only."""

from django.contrib import admin, messages
from django.db.models.constants import LOOKUP_SEP

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
    }
)


@admin.register(OIDCSession)
class OIDCSessionAdmin(admin.ModelAdmin):
    list_display = ("user", "created_at", "last_used_at", "ip_address", "short_agent", "active")
    list_filter = ("ended_at", "end_reason")
    search_fields = ("user__username", "user__email", "subject", "sid", "ip_address")
    date_hierarchy = "created_at"
    readonly_fields = [
        "user",
        "issuer",
        "subject",
        "sid",
        "refresh_token_id",
        "created_at",
        "last_used_at",
        "ip_address",
        "user_agent",
        "access_expires_at",
        "version",
        "ended_at",
        "end_reason",
    ]
    exclude = ("session_key_hash", "sealed_session_key", "claims")
    actions = ["revoke_sessions"]

    def lookup_allowed(self, lookup, value, request=None):
        if lookup.split(LOOKUP_SEP, 1)[0] in SECRET_FIELDS:
            return False
        return super().lookup_allowed(lookup, value, request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(boolean=True, description="active")
    def active(self, obj):
        return obj.is_active

    @admin.display(description="browser")
    def short_agent(self, obj):
        return obj.user_agent[:60]

    @admin.action(description="Revoke (sign out) the selected sessions", permissions=["delete"])
    def revoke_sessions(self, request, queryset):
        ended = 0
        for row in queryset.active().select_related("user"):
            ended += end_session(row, "revoked", revoke=True)
        self.message_user(request, f"Signed out {ended} session(s).", messages.SUCCESS)


@admin.register(OIDCIdentity)
class OIDCIdentityAdmin(admin.ModelAdmin):
    list_display = ("user", "subject", "issuer", "last_login_at")
    search_fields = ("user__username", "user__email", "subject")
    readonly_fields = ("user", "issuer", "subject", "created_at", "last_login_at")

    def has_add_permission(self, request):
        return False
