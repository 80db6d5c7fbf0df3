"""ChangeBank's pages for browsers without JavaScript, mounted at /changebank/."""

from django.urls import path

from changebank import views

app_name = "changebank-pages"
urlpatterns = [
    path("make-change/", views.make_change_page, name="make-change"),
    path("panic/", views.panic_page, name="panic"),
]
