"""Fixtures for the userdata tests: an in-memory IdP store and mirror rows for plain users."""

import itertools
import threading

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from userdata import stores
from userdata.models import UserData
from userdata.stores.base import NotRegistered, RemoteData, StoreError, UserDataStore

FA_URL = "http://fa.test"
APP_ID = "e9fdb985-9173-4e01-9d73-ac2d60d1dc8e"
TENANT_ID = "d7d09513-a3f5-401c-9685-34ab6c552453"
WEBHOOK_SECRET = "test-webhook-secret-0123456789abcdef"


class MemoryStore(UserDataStore):
    """A FusionAuth-like store in memory: versions move on each write; faults can be switched on."""

    name = "memory"

    def __init__(self):
        self.users = {}
        self.clock = itertools.count(1_700_000_000_000, 1000)
        self.down = False
        self.calls = []
        self.lock = threading.Lock()

    def set(self, subject, data, email=""):
        self.users[subject] = RemoteData(subject, dict(data), next(self.clock), email)
        return self.users[subject]

    def _check(self, call):
        self.calls.append(call)
        if self.down:
            raise StoreError("Reading the registration: the IdP is unreachable.")

    def fetch(self, subject):
        self._check("fetch")
        if subject not in self.users:
            raise NotRegistered()
        remote = self.users[subject]
        return RemoteData(subject, dict(remote.data), remote.version, remote.email)

    def push(self, subject, data, *, base=None):
        with self.lock:
            self._check("push")
            if subject not in self.users:
                raise NotRegistered()
            old = self.users[subject]
            if old.data == data:
                return RemoteData(subject, dict(old.data), old.version, old.email)
            return self.set(subject, data, old.email)

    def fetch_many(self, subjects):
        self._check("fetch_many")
        return {s: self.fetch(s) for s in subjects if s in self.users}

    def iter_all(self):
        self._check("iter_all")
        page = []
        for remote in list(self.users.values()):
            page.append(RemoteData(remote.subject, dict(remote.data), remote.version, remote.email))
            if len(page) == 2:
                yield page
                page = []
        if page:
            yield page


@pytest.fixture
def memory_store(monkeypatch):
    store = MemoryStore()
    monkeypatch.setattr("userdata.stores.get_store", lambda: store)
    return store


@pytest.fixture
def fa_settings(settings):
    """Point the FusionAuth store at a fake host for `responses`."""
    settings.USERDATA = {
        **settings.USERDATA,
        "STORE": "fusionauth",
        "RETRIES": 2,
        "RETRY_AFTER_MAX": 5,
        "FUSIONAUTH": {
            "API_URL": FA_URL,
            "API_KEY": "test-api-key",
            "APPLICATION_ID": APP_ID,
            "TENANT_ID": TENANT_ID,
            "WEBHOOK_SECRET": WEBHOOK_SECRET,
        },
    }
    stores.reset_store()
    yield settings
    stores.reset_store()


@pytest.fixture
def make_user(db):
    def make(email="ada@example.com", subject="sub-ada", data=None, **fields):
        user = get_user_model().objects.create_user(username=email, email=email)
        row = UserData.objects.create(
            user=user,
            subject=subject,
            email=email,
            issuer="http://idp.test",
            data=dict(data or {}),
            remote_data=dict(data or {}),
            remote_version=fields.pop("remote_version", 1),
            pulled_at=fields.pop("pulled_at", timezone.now()),
            **fields,
        )
        return user, row

    return make


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The de-duplication keys of queued tasks live in the cache: no test sees another's."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
