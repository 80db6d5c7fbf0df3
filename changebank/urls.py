"""ChangeBank's JSON API, mounted at /api/ (the seed's /make-change and /panic)."""

from django.urls import path

from changebank import views

app_name = "changebank"
urlpatterns = [
    path("make-change", views.make_change_api, name="make-change"),
    path("panic", views.panic_api, name="panic"),
]
