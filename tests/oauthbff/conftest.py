import pytest
import responses
from django.core.cache import cache

from oauthbff.provider import reset_providers
from tests.oauthbff.fakeop import CLIENT_ID, CLIENT_SECRET, ISSUER, FakeOP
from tests.oauthbff.hooks import SubclassedBackend

BACKENDS = {
    "backend": "oauthbff.backends.OIDCBackend",
    "subclassed-backend": SubclassedBackend.path,
}
# Modules whose tests run a separate BFF process (its settings are not this process's): once.
ONE_BACKEND_MODULES = ("test_concurrency",)


def pytest_generate_tests(metafunc):
    """The whole oauthbff suite runs twice: with oauthbff's backend and with a project's subclass
    of it (as Django's RemoteUserTest subclasses do), so every hook holds for subclasses."""
    if "oidc_backend" in metafunc.fixturenames:
        single = metafunc.module.__name__.rsplit(".", 1)[-1] in ONE_BACKEND_MODULES
        params = ["backend"] if single else list(BACKENDS)
        metafunc.parametrize("oidc_backend", params, indirect=True)


@pytest.fixture(autouse=True)
def oidc_backend(request, settings):
    """AUTHENTICATION_BACKENDS set to the backend under test; its dotted path."""
    path = BACKENDS[request.param]
    settings.AUTHENTICATION_BACKENDS = [path]
    return path


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
