"""Encryption at rest for the stored token set (Fernet, with key rotation through MultiFernet)."""

import base64
import logging
import threading

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from oauthbff.conf import oauthbff_settings

logger = logging.getLogger(__name__)

_fernet = None
_fernet_lock = threading.Lock()


def configured_keys():
    """The TOKEN_ENCRYPTION_KEY setting as a list of keys, newest first ([] when unset)."""
    configured = oauthbff_settings.TOKEN_ENCRYPTION_KEY
    if not configured:
        return []
    keys = configured if isinstance(configured, list | tuple) else str(configured).split(",")
    return [k.strip() for k in keys if k.strip()]


def _derive_key(secret):
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"oauthbff", info=b"token-encryption")
    return base64.urlsafe_b64encode(hkdf.derive(secret.encode()))


def _build_fernet():
    keys = configured_keys()
    if keys:
        return MultiFernet([Fernet(k) for k in keys])
    secrets_ = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet([Fernet(_derive_key(s)) for s in secrets_])


def get_fernet():
    """The MultiFernet for tokens: TOKEN_ENCRYPTION_KEY (comma-separated, newest first) or keys
    derived from SECRET_KEY and SECRET_KEY_FALLBACKS with HKDF."""
    global _fernet
    with _fernet_lock:
        if _fernet is None:
            _fernet = _build_fernet()
        return _fernet


def reset_fernet():
    """Forget the keys (the settings changed)."""
    global _fernet
    with _fernet_lock:
        _fernet = None


@sensitive_variables()
def encrypt(value):
    return get_fernet().encrypt(value.encode()).decode() if value else ""


@sensitive_variables()
def decrypt(value):
    """The plain text, or "" when there is none or it was encrypted with a key since removed."""
    if not value:
        return ""
    try:
        return get_fernet().decrypt(value.encode()).decode()
    except InvalidToken:
        logger.warning("oauthbff: a stored token could not be decrypted (key rotated away?)")
        return ""
