import pytest
import responses
from django.core.cache import cache

from oauthbff.provider import reset_providers
from tests.oauthbff.fakeop import CLIENT_ID, CLIENT_SECRET, ISSUER, FakeOP


@pytest.fixture
def op(settings):
    """The BFF pointed at a fake provider served by `responses`."""
    settings.OAUTHBFF = {
        **settings.OAUTHBFF,
        "ISSUER": ISSUER,
        "CLIENT_ID": CLIENT_ID,
        "CLIENT_SECRET": CLIENT_SECRET,
        "TOKEN_AUTH_METHOD": "client_secret_basic",
        "STAFF_ROLES": ["admin"],
        "SUPERUSER_ROLES": ["admin"],
    }
    cache.clear()
    reset_providers()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakeOP(rsps)
    cache.clear()
    reset_providers()
