from django.contrib import admin
from django.urls import include, path

from minimal import views

urlpatterns = [
    path("", views.home, name="home"),
    path("auth/", include("oauthbff.urls")),
    path("", include("userdata.urls")),
    path("admin/", admin.site.urls),
]
