"""Django's user and group admins for people the identity provider owns: what each sign-in
copies from the provider is read-only here."""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import ngettext

from oauthbff.admin.labels import LabelledAdminMixin, is_provider_owned, person_label
from oauthbff.models import OIDCSession
from oauthbff.sessions import end_sessions

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
