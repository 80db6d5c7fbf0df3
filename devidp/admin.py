"""The development IdP's own admin: change a registration's data here and the webhook fires."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm

from devidp import services
from devidp.models import ApiKey, Key, Registration, Tenant, TokenCall, User, Webhook

# Named for what it is; no "View site" link (the IdP has no home page, "/" is a 404).
admin.site.site_header = "Development IdP"
admin.site.site_title = "Development IdP admin"
admin.site.index_title = "Users, registrations and configuration"
admin.site.site_url = None


class RegistrationInline(admin.TabularInline):
    model = Registration
    extra = 0
    fields = ("application", "roles", "data", "last_update_instant")
    readonly_fields = ("application", "roles", "data", "last_update_instant")
    can_delete = False
    show_change_link = True


class DevUserCreationForm(UserCreationForm):
    class Meta:
        model = User
        fields = ("email",)


class DevUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    form = DevUserChangeForm
    add_form = DevUserCreationForm
    ordering = ("email",)
    list_display = ("email", "first_name", "last_name", "is_active", "is_staff")
    search_fields = ("email", "first_name", "last_name")
    readonly_fields = ("id", "insert_instant", "last_update_instant", "last_login")
    fieldsets = (
        (None, {"fields": ("id", "email", "password")}),
        (
            "Profile",
            {"fields": ("first_name", "last_name", "username", "birth_date", "data", "verified")},
        ),
        ("Admin", {"fields": ("is_active", "is_staff", "is_superuser")}),
        ("Instants", {"fields": ("insert_instant", "last_update_instant", "last_login")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    inlines = [RegistrationInline]


@admin.register(Registration)
class RegistrationAdmin(admin.ModelAdmin):
    list_display = ("user", "application", "roles", "last_update_instant")
    list_select_related = ("user", "application")
    search_fields = ("user__email",)
    readonly_fields = ("id", "insert_instant", "last_update_instant", "last_login_instant")
    fields = (
        "id",
        "user",
        "application",
        "roles",
        "data",
        "username",
        "timezone",
        "insert_instant",
        "last_update_instant",
        "last_login_instant",
    )

    def save_model(self, request, obj, form, change):
        """Save through the service so the user.registration.* webhook fires, as in FusionAuth."""
        services.save_registration(obj, request)


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ("name", "id")
    readonly_fields = ("id",)


@admin.register(Key)
class KeyAdmin(admin.ModelAdmin):
    list_display = ("name", "algorithm", "id")
    readonly_fields = ("id", "algorithm", "length", "public_key", "insert_instant")
    exclude = ("secret",)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("description", "id")


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    list_display = ("url", "description", "id")


@admin.register(TokenCall)
class TokenCallAdmin(admin.ModelAdmin):
    list_display = ("grant_type", "count")
