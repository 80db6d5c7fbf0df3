"""The BFF's public URL paths. Each app owns its own URLs; this file only mounts them."""

from django.contrib import admin
from django.urls import include, path

from changebank.views import favicon

from . import views

admin.site.site_header = "ChangeBank administration"
admin.site.site_title = "ChangeBank admin"
admin.site.index_title = "Users, sessions and synced data"

handler400 = "bffproject.errors.bad_request"
handler403 = "bffproject.errors.permission_denied"
handler404 = "bffproject.errors.page_not_found"
handler500 = "bffproject.errors.server_error"

urlpatterns = [
    path("", include("ops.urls")),
    # Browsers ask for /favicon.ico on pages (JSON, files) that do not name their icon.
    path("favicon.ico", favicon),
    path("auth/", include("oauthbff.urls")),
    path("bff/api/", include("oauthbff.proxy_urls")),
    path("api/", include("changebank.urls")),
    path("changebank/", include("changebank.page_urls")),
    path("admin/", include("oauthbff.admin_urls")),
    path("admin/", admin.site.urls),
    path("", views.home, name="home"),
    path("", include("userdata.urls")),
]
