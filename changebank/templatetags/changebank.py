"""Template helpers for the ChangeBank panel on the home page (whose view belongs to another app)."""

from django import template
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.templatetags.static import static
from django.urls import get_script_prefix, get_urlconf, reverse

from oauthbff.conf import oauthbff_settings
from oauthbff.sessions import session_roles

register = template.Library()

PROXY_UPSTREAM = "changebank"
# How the bank names the provider's roles to the people who hold them.
ROLE_LABELS = {"customer": "Customer", "teller": "Teller", "admin": "Administrator"}


@register.filter
def role_label(role):
    """A role as the bank's site names it ("teller" -> "Teller"); unknown roles keep their name."""
    return ROLE_LABELS.get(role, str(role).replace("_", " ").capitalize())


@register.simple_tag(takes_context=True)
def user_roles(context):
    """The signed-in user's roles for this session, sorted (see ``oauthbff.sessions.session_roles``)."""
    request = context.get("request")
    return session_roles(request) if request is not None else []


@register.simple_tag
def changebank_api_base():
    """Where the page's script calls the API: through the BFF proxy when it is configured for it."""
    if PROXY_UPSTREAM in (oauthbff_settings.UPSTREAMS or {}):
        return reverse("oauthbff-proxy:proxy-root", args=[PROXY_UPSTREAM]).rstrip("/")
    return reverse("changebank:make-change").rsplit("/", 1)[0]


_links = {}


@register.simple_tag
def changebank_links():
    """The panel's URLs: its form targets, the API base and its script.

    They depend only on settings, the URL conf and the script prefix, so they are computed once per
    process for each of those (and again after a setting changes): reversing and resolving them on
    every page load was a quarter of the panel's rendering time.
    """
    key = (get_urlconf(), get_script_prefix())
    links = _links.get(key)
    if links is None:
        links = {
            "make_change": reverse("changebank-pages:make-change"),
            "panic": reverse("changebank-pages:panic"),
            "api_base": changebank_api_base(),
            "script": static("js/changebank.js"),
        }
        _links[key] = links
    return links


@receiver(setting_changed)
def _forget_links(**kwargs):
    _links.clear()
