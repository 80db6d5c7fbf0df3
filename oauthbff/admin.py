"""Staff see people by e-mail and name, sessions by device, and what the identity provider owns read-only.

Usernames here are derived from (issuer, sub) (see ``backends.username_for``): stable, but not
something a person recognises. Every list, title and message in these admins names people by
``person_label`` instead. What the provider sends at each sign-in (e-mail, name, groups from roles,
staff and superuser flags) is read-only for the users it owns: an edit here would say "changed
successfully" and be undone at the next sign-in or token refresh.
"""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db.models.constants import LOOKUP_SEP
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import format_html, format_html_join
from django.utils.timesince import timesince
from django.utils.translation import ngettext

from oauthbff.devices import describe
from oauthbff.models import OIDCIdentity, OIDCSession
from oauthbff.sessions import end_session, end_sessions

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
    }
)

PROVIDER_OWNS = (
    "This person signs in through the identity provider, which owns their e-mail address, name, "
    "roles (shown here as groups) and staff access. Change those at the provider: the change "
    "applies here at their next sign-in or token refresh."
)
PEOPLE_COME_FROM_THE_PROVIDER = (
    "People are added at the identity provider; they appear here after their first sign-in."
)
GROUPS_ARE_ROLES = (
    "Each group is a role at the identity provider, created here at the first sign-in with that "
    "role; its members follow the provider at every sign-in and token refresh. Give a group the "
    "permissions its role needs here. Its name is the role's: rename the role at the provider."
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
        ("When", {"fields": ("signed_in_at", "used_at", "access_renews", "state")}),
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


class SignsInFilter(admin.SimpleListFilter):
    title = "signs in"
    parameter_name = "signs_in"

    def lookups(self, request, model_admin):
        return [("provider", "Through the identity provider"), ("local", "Local account only")]

    def queryset(self, request, queryset):
        if self.value() == "provider":
            return queryset.filter(oidc_identity__isnull=False)
        if self.value() == "local":
            return queryset.filter(oidc_identity__isnull=True)
        return queryset


class ProviderUserAdmin(LabelledAdminMixin, UserAdmin):
    """Django's UserAdmin for a site whose people come from the identity provider.

    For a user the provider owns, what each sign-in copies from the provider is read-only, the
    password (never used: they sign in at the provider) is not offered, nor is deleting them (the
    next sign-in would create them again). Nobody is added here: sign-in creates people.
    """

    change_list_template = "admin/oauthbff/noted_change_list.html"
    list_display = ("person", "signs_in", "is_staff", "is_active", "last_login")
    list_display_links = ("person",)
    list_filter = (SignsInFilter, "is_staff", "is_superuser", "is_active", "groups")
    list_select_related = ("oidc_identity",)
    # Plain multiple selects: the two-box widget's icons fail axe-core's aria-prohibited-attr.
    filter_horizontal = ()
    search_fields = ("email", "first_name", "last_name", "oidc_identity__subject")
    ordering = ("email",)
    provider_fieldsets = (
        (
            "Owned by the identity provider",
            {
                "description": PROVIDER_OWNS,
                "fields": (
                    "email",
                    "first_name",
                    "last_name",
                    "provider_identity",
                    "role_groups",
                    "is_staff",
                    "is_superuser",
                ),
            },
        ),
        (
            "Managed here",
            {
                "description": "Deactivating signs this person out of this site and refuses "
                "their next sign-in here (not at the provider). "
                "What staff may do comes with their groups: give a group permissions under "
                "Groups, and everyone with that role at the provider has them.",
                "fields": ("is_active",),
            },
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    provider_readonly = (
        "email",
        "first_name",
        "last_name",
        "provider_identity",
        "role_groups",
        "is_staff",
        "is_superuser",
        "last_login",
        "date_joined",
    )

    def object_label(self, obj):
        return person_label(obj)

    def get_fieldsets(self, request, obj=None):
        if is_provider_owned(obj):
            return self.provider_fieldsets
        return super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request, obj=None):
        if is_provider_owned(obj):
            return self.provider_readonly
        return super().get_readonly_fields(request, obj)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        if is_provider_owned(obj):
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request):
        # The bulk delete cannot tell provider-owned users apart; single local users are
        # still deleted from their own page.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data and not obj.is_active:
            # A deactivated person's open sessions end now, not at their next token refresh.
            ended = end_sessions(OIDCSession.objects.filter(user=obj), "revoked", revoke=True)
            if ended:
                self.message_user(
                    request,
                    ngettext(
                        "Signed %(person)s out of %(count)d session.",
                        "Signed %(person)s out of %(count)d sessions.",
                        ended,
                    )
                    % {"person": person_label(obj), "count": ended},
                    messages.SUCCESS,
                )

    def changelist_view(self, request, extra_context=None):
        context = {"changelist_note": PEOPLE_COME_FROM_THE_PROVIDER, **(extra_context or {})}
        return super().changelist_view(request, context)

    def user_change_password(self, request, id, form_url=""):
        user = self.get_object(request, unquote(id))
        if is_provider_owned(user):
            self.message_user(
                request,
                f"{person_label(user)} signs in through the identity provider: their password "
                "is set there, not here.",
                messages.WARNING,
            )
            return HttpResponseRedirect(
                reverse(f"{self.admin_site.name}:auth_user_change", args=[user.pk])
            )
        return super().user_change_password(request, id, form_url)

    @admin.display(description="person", ordering="email")
    def person(self, obj):
        return person_label(obj)

    @admin.display(description="signs in", boolean=False)
    def signs_in(self, obj):
        return "Identity provider" if is_provider_owned(obj) else "Local account"

    @admin.display(description="identity at the provider")
    def provider_identity(self, obj):
        identity = obj.oidc_identity
        return format_html("{}<br><small>at {}</small>", identity.subject, identity.issuer)

    @admin.display(description="groups (the provider's roles)")
    def role_groups(self, obj):
        names = obj.groups.order_by("name").values_list("name", flat=True)
        if not names:
            return "None"
        return format_html_join(", ", "{}", ((name,) for name in names))


class ProviderGroupAdmin(GroupAdmin):
    """Django's GroupAdmin where groups are the provider's roles: the name is read-only (a renamed
    group no longer matches its role, and the next sign-in makes a new one); permissions are
    what staff set here. A plain multiple select replaces the two-box widget, whose icons fail
    axe-core's aria-prohibited-attr."""

    change_list_template = "admin/oauthbff/noted_change_list.html"
    change_form_template = "admin/oauthbff/labelled_change_form.html"
    fields = ("name", "permissions")
    filter_horizontal = ()

    class Media:
        css = {"all": ["oauthbff/admin.css"]}

    def get_readonly_fields(self, request, obj=None):
        return ("name",) if obj is not None else ()

    def changelist_view(self, request, extra_context=None):
        context = {"changelist_note": GROUPS_ARE_ROLES, **(extra_context or {})}
        return super().changelist_view(request, context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        context = {"form_note": GROUPS_ARE_ROLES, **(extra_context or {})}
        return super().change_view(request, object_id, form_url, context)


if admin.site.is_registered(Group) and type(admin.site.get_model_admin(Group)) is GroupAdmin:
    admin.site.unregister(Group)
    admin.site.register(Group, ProviderGroupAdmin)

User = get_user_model()
# Only Django's own User with Django's own UserAdmin is replaced; a project with a custom user
# admin mixes ``LabelledAdminMixin`` and the provider-owned rules into its own.
if admin.site.is_registered(User) and type(admin.site.get_model_admin(User)) is UserAdmin:
    admin.site.unregister(User)
    admin.site.register(User, ProviderUserAdmin)
