"""The URL conf of the apps' own tests: each app's URLs where a project would mount them."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("auth/", include("oauthbff.urls")),
    path("bff/api/", include("oauthbff.proxy_urls")),
    path("admin/login/", include("oauthbff.admin_urls")),
    path("admin/", admin.site.urls),
    path("", include("userdata.urls")),
]
