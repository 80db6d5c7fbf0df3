"""oauthbff.session_store: signed-in requests keep working while the session cache (Redis) is down."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.cached_db import SessionStore as DjangoCachedDB
from django.test import Client

from oauthbff.session_store import SessionStore
from tests.fixtures.stack import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def dead_session_cache(settings):
    """A session cache on a port where no Redis listens (connections are refused at once)."""
    settings.CACHES = {
        **settings.CACHES,
        "sessions": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        },
    }
    settings.SESSION_CACHE_ALIAS = "sessions"
    settings.SESSION_ENGINE = "oauthbff.session_store"
    return settings


def stored_session(data):
    store = SessionStore()
    store.update(data)
    store.save(must_create=True)  # Django's save already logs a cache failure and goes on
    return store.session_key


def test_django_cached_db_fails_when_the_cache_is_down(dead_session_cache):
    """Why this store exists: Django's store refills the cache on a database read, uncaught."""
    key = stored_session({"answer": 42})
    with pytest.raises(Exception, match="onnect"):
        DjangoCachedDB(key).load()


def test_load_reads_the_database_while_the_cache_is_down(dead_session_cache, caplog):
    key = stored_session({"answer": 42})
    assert SessionStore(key).load() == {"answer": 42}
    assert "reading the database" in caplog.text


def test_delete_removes_the_database_row_while_the_cache_is_down(dead_session_cache, caplog):
    key = stored_session({"answer": 42})
    store = SessionStore(key)
    store.delete()
    assert not SessionStore().exists(key)
    assert SessionStore(key).load() == {}
    assert "could not delete an ended session from the cache" in caplog.text
    assert key not in caplog.text


def test_a_signed_in_page_answers_while_the_cache_is_down(dead_session_cache):
    user = get_user_model().objects.create_user("ada", email="ada@example.com")
    client = Client()
    client.force_login(user)
    response = client.get("/")
    assert response.status_code == 200
    assert "Hi, ada@example.com!" in response.content.decode()
