"""The USERDATA settings with their defaults, read on each use so override_settings just works."""

from django.conf import settings

DEFAULTS = {
    "STORE": "fusionauth",
    "CONFLICT_POLICY": "manual",
    "MAX_BYTES": 64 * 1024,
    "HTTP_TIMEOUT": 5.0,
    "CONNECT_TIMEOUT": 2.0,
    "RETRIES": 2,
    "RETRY_AFTER_MAX": 30.0,
    "POOL_SIZE": 32,
    "SEARCH_PAGE_SIZE": 500,
    "PUSH_WORKERS": 8,
    "PUSH_BACKOFF_MAX": 300,
    "FRESH_SECONDS": 300,
    "FUSIONAUTH": {},
    "AUTH0": {},
}
STORES = ("fusionauth", "auth0", "local")
CONFLICT_POLICIES = ("manual", "local_wins", "remote_wins")


def userdata_settings():
    """The merged USERDATA dict (a fresh dict each call; cheap)."""
    merged = dict(DEFAULTS)
    merged.update(getattr(settings, "USERDATA", {}) or {})
    return merged
