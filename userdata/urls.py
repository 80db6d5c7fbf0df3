"""userdata's endpoints: the field's save/state endpoint and the FusionAuth webhook.

The field itself goes on any page of the project with `{% load userdata %}{% userdata_field %}`.
"""

from django.urls import path

from . import views

app_name = "userdata"
urlpatterns = [
    path("userdata/", views.save, name="save"),
    path("webhooks/fusionauth/", views.fusionauth_webhook, name="fusionauth-webhook"),
]
