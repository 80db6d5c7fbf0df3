"""The same-origin API proxy, mounted at /bff/api/ (see oauthbff.proxy)."""

from django.urls import path

from oauthbff.proxy import proxy_view

app_name = "oauthbff-proxy"
urlpatterns = [
    path("<str:name>/", proxy_view, name="proxy-root"),
    path("<str:name>/<path:path>", proxy_view, name="proxy"),
]
