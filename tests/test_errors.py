"""The product's error pages (bffproject/errors.py): a page in the product's look for people, JSON for
API callers, and a CSRF failure that explains itself and offers the action again."""

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.test import Client
from django.urls import path

pytestmark = pytest.mark.django_db

HTML = {"HTTP_ACCEPT": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
FETCH = {"HTTP_ACCEPT": "application/json", "HTTP_X_REQUESTED_WITH": "XMLHttpRequest"}


def _boom(request):
    raise RuntimeError("a bug, with a secret token abc.def.ghi in its message")


def _suspicious(request):
    raise SuspiciousOperation("a tampered request")


def _denied(request):
    raise PermissionDenied


def _needs_cache(request):
    from django.core.cache import cache

    cache.get("anything")


urlpatterns = [
    path("boom/", _boom),
    path("api/boom", _boom),
    path("suspicious/", _suspicious),
    path("denied/", _denied),
    path("api/needs-cache", _needs_cache),
]


@pytest.fixture
def production_pages(settings):
    """Django shows its own debug pages with DEBUG on; the product's pages are for DEBUG off."""
    settings.DEBUG = False


@pytest.fixture
def failing_urls(settings):
    from bffproject import urls as project_urls

    settings.ROOT_URLCONF = type(
        "Urls",
        (),
        {
            "urlpatterns": urlpatterns + project_urls.urlpatterns,
            **{
                f"handler{code}": getattr(project_urls, f"handler{code}")
                for code in (400, 403, 404, 500)
            },
        },
    )


def make_user(email="c@example.com"):
    return get_user_model().objects.create_user(username=email, email=email)


def test_404_is_a_page_with_a_way_home(client, production_pages):
    response = client.get("/no-such-page/", **HTML)
    assert response.status_code == 404
    text = response.content.decode()
    assert "We can't find that page" in text
    assert 'href="/"' in text and "Go to the home page" in text
    assert '<link rel="stylesheet"' in text, "in the product's look"


def test_404_on_an_api_path_stays_json(client, production_pages):
    response = client.get("/api/no-such-endpoint", HTTP_ACCEPT="application/json")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


@pytest.mark.parametrize("path", ["/auth/refresh/", "/webhooks/fusionauth/"])
def test_a_browser_opening_a_post_only_address_gets_a_405_page(client, path):
    response = client.get(path, **HTML)
    assert response.status_code == 405
    assert "POST" in response["Allow"]
    text = response.content.decode()
    assert "This address isn't a page" in text and path in text


def test_a_script_gets_a_json_405(client):
    response = client.get("/auth/refresh/", **FETCH)
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"
    assert "POST" in response["Allow"]


def test_500_is_a_page_without_the_error(client, production_pages, failing_urls):
    client.raise_request_exception = False
    response = client.get("/boom/", **HTML)
    assert response.status_code == 500
    text = response.content.decode()
    assert "Something went wrong on our side" in text
    assert "abc.def.ghi" not in text and "RuntimeError" not in text and "Traceback" not in text
    api = client.get("/api/boom", HTTP_ACCEPT="application/json")
    assert api.status_code == 500 and api.json()["error"] == "server_error"
    assert "abc.def.ghi" not in api.content.decode()


def test_400_and_403_are_pages(client, production_pages, failing_urls):
    bad = client.get("/suspicious/", **HTML)
    assert bad.status_code == 400 and "Something in the request was wrong" in bad.content.decode()
    denied = client.get("/denied/", **HTML)
    assert denied.status_code == 403
    assert "You don't have access to this page" in denied.content.decode()


def test_a_stale_sign_out_form_gets_a_fresh_one():
    """A tab left open across a re-login posts an old token: say so, and offer sign-out again."""
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(make_user())
    response = browser.post("/auth/logout/", {"csrfmiddlewaretoken": "stale" * 8}, **HTML)
    assert response.status_code == 403
    text = response.content.decode()
    assert "This page was out of date" in text and "still signed in" in text
    assert "More information is available with DEBUG=True" not in text
    # The fresh form works: its token matches the cookie this answer set.
    token = text.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
    assert 'action="/auth/logout/"' in text
    again = browser.post("/auth/logout/", {"csrfmiddlewaretoken": token}, **HTML)
    assert again.status_code in (200, 302), again.content[:300]
    assert "_auth_user_id" not in browser.session


def test_a_stale_sign_out_when_already_signed_out_says_so():
    browser = Client(enforce_csrf_checks=True)
    response = browser.post("/auth/logout/", {"csrfmiddlewaretoken": "stale" * 8}, **HTML)
    assert response.status_code == 403
    assert "You are already signed out" in response.content.decode()


def test_a_script_with_a_stale_token_learns_the_session_is_still_valid():
    """userdata.js says "session ended" only when it has; a stale page is told to reload."""
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(make_user())
    response = browser.post(
        "/userdata/",
        '{"userData": "x"}',
        content_type="application/json",
        HTTP_X_CSRFTOKEN="stale" * 8,
        **FETCH,
    )
    assert response.status_code == 403
    body = response.json()
    assert body["error"] == "csrf_failed" and body["signed_in"] is True
    assert "reload" in body["message"].lower() and "ended" not in body["message"]


def test_favicon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith("favicon.svg")
    page = client.get("/").content.decode()
    assert 'rel="icon"' in page


@pytest.fixture
def redis_down(settings):
    """The default cache on a port where no Redis listens: every cache call is refused."""
    from tests.fixtures.stack import free_port

    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
        }
    }
    settings.SESSION_ENGINE = "oauthbff.session_store"


def test_sign_in_while_redis_is_down_is_a_503_page_to_try_again(production_pages, redis_down):
    response = Client(raise_request_exception=False).get("/auth/login/", **HTML)
    html = response.content.decode()
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "Back in a moment" in html and "Traceback" not in html


def test_an_api_call_while_redis_is_down_is_a_503_json(failing_urls, production_pages, redis_down):
    response = Client(raise_request_exception=False).get("/api/needs-cache", **FETCH)
    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"
    assert response["Retry-After"] == "5"
