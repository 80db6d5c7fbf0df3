"""Mounted at /admin/login/: the admin's sign-in goes through the identity provider."""

from django.urls import path

from oauthbff.views import admin_login_view

urlpatterns = [path("", admin_login_view, name="oauthbff_admin_login")]
