"""IdP stores for per-application user data; `get_store()` returns the configured one."""

import threading

from django.core.signals import setting_changed
from django.dispatch import receiver

from ..conf import userdata_settings
from .base import RemoteData, StoreError, UserDataStore

__all__ = ["RemoteData", "StoreError", "UserDataStore", "get_store", "reset_store"]

_lock = threading.Lock()
_store = None


def get_store():
    """The process-wide store (one pooled HTTP session), built from USERDATA["STORE"]."""
    global _store
    if _store is None:
        with _lock:
            if _store is None:
                _store = userdata_settings.store_class().from_settings(userdata_settings())
    return _store


def reset_store():
    """Drop the cached store (settings changed, or tests)."""
    global _store
    with _lock:
        if _store is not None:
            _store.close()
        _store = None


@receiver(setting_changed)
def _settings_changed(sender, setting, **kwargs):
    if setting in ("USERDATA", "USERDATA_STORE"):
        reset_store()
