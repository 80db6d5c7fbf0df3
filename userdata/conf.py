"""userdata's settings: one object, `userdata_settings`, over the project's `USERDATA` dict.

In the style of django-oauth-toolkit's `oauth2_settings`: every key has its default and a line of
documentation here, values are read as attributes (`userdata_settings.MAX_BYTES`), dotted paths are
imported on access, and the object forgets its cache on `setting_changed`, so `override_settings`
just works. This module imports nothing else of the app.
"""

from django.conf import settings
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

STORES = {
    "fusionauth": "userdata.stores.fusionauth.FusionAuthStore",
    "auth0": "userdata.stores.auth0.Auth0Store",
    "local": "userdata.stores.local.LocalStore",
}
CONFLICT_POLICIES = ("manual", "local_wins", "remote_wins")

DEFAULTS = {
    # The IdP store: a short name from STORES or the dotted path of a UserDataStore subclass.
    "STORE": "fusionauth",
    # What a push does when the IdP's copy changed too: "manual" (the user or staff choose),
    # "local_wins" or "remote_wins".
    "CONFLICT_POLICY": "manual",
    # The largest user text accepted, in UTF-8 bytes.
    "MAX_BYTES": 64 * 1024,
    # The deepest nesting accepted in a JSON body sent to the save endpoint.
    "MAX_JSON_DEPTH": 32,
    # Read timeout of each IdP call, seconds (every outbound call has one).
    "HTTP_TIMEOUT": 5.0,
    # Connect timeout of each IdP call, seconds.
    "CONNECT_TIMEOUT": 2.0,
    # Retries of an idempotent IdP call that failed in transit (5xx, connection errors).
    "RETRIES": 2,
    # The longest 429 Retry-After an HTTP call waits in place; longer ones become a task retry.
    "RETRY_AFTER_MAX": 30.0,
    # Connections kept per store process.
    "POOL_SIZE": 32,
    # Users per page of the IdP's bulk search.
    "SEARCH_PAGE_SIZE": 500,
    # The longest back-off between two failed pushes of one row, seconds.
    "PUSH_BACKOFF_MAX": 300,
    # Seconds a push waits after a save, so a burst of saves coalesces into one write.
    "PUSH_DELAY": 1.0,
    # Pushes per second per store for all workers together ("10/s", "600/m"; "" for no limit),
    # counted in the default cache (Redis in production, so shared by every worker).
    "PUSH_RATE": "10/s",
    # The beat sweeper pushes edits still waiting this many seconds after they were saved (their
    # enqueue was lost, e.g. while Redis was down); younger ones are on their way already.
    "SWEEP_AFTER_SECONDS": 20,
    # Seconds one worker holds a row's push guard at most (a killed worker's guard expires).
    "PUSH_LEASE_SECONDS": 60,
    # Where pushes and pulls run: "celery" (workers), "inline" (the process that asks; requests then
    # wait for the IdP), or "auto": Celery when it is installed and CELERY_BROKER_URL is set.
    "TASKS": "auto",
    # Users per task when a bulk pull or push fans out.
    "CHUNK_SIZE": 500,
    # A page load enqueues a pull when the mirror is older than this (0: never).
    "FRESH_SECONDS": 300,
    # The beat sweeper pulls mirrors older than this, seconds (0: never).
    "STALE_SECONDS": 24 * 3600,
    # Seconds between two polls of an open page (the page's script reads it).
    "POLL_SECONDS": 15,
    # The issuer recorded on rows created by a bulk pull or a webhook (the sign-in issuer).
    "ISSUER": "",
    # The dotted path of the function that returns (issuer, subject) for a local user.
    "IDENTITY_FUNCTION": "userdata.identity.oidc_identity",
    # Seconds a webhook event id is kept, and so the oldest event (by its createInstant) accepted.
    "WEBHOOK_REPLAY_WINDOW": 7 * 24 * 3600,
    # FusionAuth store: API_URL, API_KEY, APPLICATION_ID, TENANT_ID, WEBHOOK_SECRET.
    "FUSIONAUTH": {},
    # Auth0 store: DOMAIN, CLIENT_ID, CLIENT_SECRET, AUDIENCE, METADATA_FIELD, and for a users-export
    # job (tenants of 1,000 users or more) EXPORT_POLL_SECONDS (2.0) and EXPORT_TIMEOUT (900.0).
    "AUTH0": {},
}
IMPORT_STRINGS = ("IDENTITY_FUNCTION",)


class UserDataSettings:
    """Attribute access to USERDATA with defaults; calling it returns the merged dict (the form
    the stores' `from_settings(conf)` take)."""

    def __init__(self, defaults=DEFAULTS):
        self.defaults = defaults
        self._cache = {}

    @property
    def user_settings(self):
        return getattr(settings, "USERDATA", None) or {}

    def __getattr__(self, name):
        if name not in self.defaults:
            raise AttributeError(f"Invalid userdata setting: {name!r}")
        if name not in self._cache:
            value = self.user_settings.get(name, self.defaults[name])
            if name in IMPORT_STRINGS and isinstance(value, str):
                value = import_string(value)
            self._cache[name] = value
        return self._cache[name]

    def __call__(self):
        return {**self.defaults, **self.user_settings}

    def store_class(self):
        """The store class named by STORE (a short name or a dotted path)."""
        return import_string(STORES.get(self.STORE, self.STORE))

    def reload(self):
        self._cache.clear()


userdata_settings = UserDataSettings()


def _reload(*, setting, **kwargs):
    if setting == "USERDATA":
        userdata_settings.reload()


setting_changed.connect(_reload, dispatch_uid="userdata.conf.reload")
