"""Mounted at /admin/ before the admin site: the admin's sign-in and sign-out go through the provider.

path("admin/", include("oauthbff.admin_urls")),
path("admin/", admin.site.urls),
"""

from django.urls import path

from oauthbff.views import admin_login_view, admin_logout_view

urlpatterns = [
    path("login/", admin_login_view, name="oauthbff_admin_login"),
    path("logout/", admin_logout_view, name="oauthbff_admin_logout"),
]
