"""Template helpers for the ChangeBank panel on the home page (whose view belongs to another app)."""

from django import template
from django.urls import reverse

from oauthbff.conf import bff_settings

register = template.Library()

PROXY_UPSTREAM = "changebank"


@register.simple_tag
def user_roles(user):
    """The signed-in user's roles (Django groups named after the IdP's roles), sorted."""
    if not getattr(user, "is_authenticated", False):
        return []
    return sorted(user.groups.values_list("name", flat=True))


@register.simple_tag
def changebank_api_base():
    """Where the page's script calls the API: through the BFF proxy when it is configured for it."""
    if PROXY_UPSTREAM in (bff_settings.UPSTREAMS or {}):
        return reverse("oauthbff-proxy:proxy-root", args=[PROXY_UPSTREAM]).rstrip("/")
    return reverse("changebank:make-change").rsplit("/", 1)[0]
