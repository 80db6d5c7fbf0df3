"""What every ChangeBank page may show besides its own content."""

from django.conf import settings


def site(request):
    """``demo_accounts``: the demo's sign-ins, shown only while the development profile is on."""
    return {
        "demo_accounts": settings.DEBUG and bool(getattr(settings, "DEMO_SECRET_FALLBACKS", []))
    }
