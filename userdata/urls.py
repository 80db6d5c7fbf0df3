"""The home page, the save endpoint for the user-data field, and the FusionAuth webhook."""

from django.urls import path

from . import views

app_name = "userdata"
urlpatterns = [
    path("", views.home, name="home"),
    path("userdata/", views.save, name="save"),
    path("webhooks/fusionauth/", views.fusionauth_webhook, name="fusionauth-webhook"),
]
