"""The server-side token set: encryption at rest, the token endpoint, and single-flight refresh.

Tokens live in the session-index row (``OIDCSession``), keyed from the Django session by the row's id,
never in the session dict itself: a concurrent request that saves its (stale) session at the end
cannot overwrite a refreshed token set. Every refresh bumps ``version`` with a compare-and-set.
"""

import base64
import logging
import secrets
import threading
import time
from datetime import timedelta
from importlib import import_module

import requests
from cryptography.fernet import Fernet, MultiFernet
from cryptography.fernet import InvalidToken as FernetInvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.cache import cache
from django.db.models import F
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables
from requests.auth import HTTPBasicAuth

from oauthbff.conf import bff_settings
from oauthbff.models import OIDCSession
from oauthbff.provider import InvalidToken, ProviderError, get_provider, http
from oauthbff.signals import session_ended, tokens_refreshed

logger = logging.getLogger(__name__)

SESSION_KEY = "_oauthbff_session"
ROW_CACHE_ATTR = "_oauthbff_row"


class SessionExpired(Exception):
    """The signed-in session can no longer get an access token; the user must sign in again."""

    temporary = False


class RefreshUnavailable(SessionExpired):
    """Refresh failed for a passing reason (provider down, timeout): the local session is kept."""

    temporary = True


class TokenError(Exception):
    """The token endpoint answered with an OAuth error (RFC 6749 §5.2)."""

    def __init__(self, error, status):
        super().__init__(f"The identity provider refused the token request ({error}).")
        self.error = error
        self.status = status


# --- encryption at rest --------------------------------------------------------------------------
_fernet = None
_fernet_lock = threading.Lock()


def _derive_key(secret):
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"oauthbff", info=b"token-encryption")
    return base64.urlsafe_b64encode(hkdf.derive(secret.encode()))


def _build_fernet():
    configured = bff_settings.TOKEN_ENCRYPTION_KEY
    if configured:
        keys = configured if isinstance(configured, list | tuple) else configured.split(",")
        return MultiFernet([Fernet(k.strip()) for k in keys if k.strip()])
    secrets_ = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet([Fernet(_derive_key(s)) for s in secrets_])


def get_fernet():
    """The MultiFernet for tokens: OAUTHBFF TOKEN_ENCRYPTION_KEY (comma-separated, newest first) or
    keys derived from SECRET_KEY and SECRET_KEY_FALLBACKS with HKDF."""
    global _fernet
    with _fernet_lock:
        if _fernet is None:
            _fernet = _build_fernet()
        return _fernet


def reset_fernet():
    global _fernet
    with _fernet_lock:
        _fernet = None


@sensitive_variables()
def encrypt(value):
    return get_fernet().encrypt(value.encode()).decode() if value else ""


@sensitive_variables()
def decrypt(value):
    if not value:
        return ""
    try:
        return get_fernet().decrypt(value.encode()).decode()
    except FernetInvalidToken:
        logger.warning("oauthbff: a stored token could not be decrypted (key rotated away?)")
        return ""


# --- the token endpoint --------------------------------------------------------------------------
@sensitive_variables()
def token_request(data):
    """POST to the token endpoint with client authentication; returns the JSON token response."""
    provider = get_provider()
    data = dict(data)
    auth = None
    if bff_settings.TOKEN_AUTH_METHOD == "client_secret_post":
        data.update(client_id=bff_settings.CLIENT_ID, client_secret=bff_settings.CLIENT_SECRET)
    else:
        auth = HTTPBasicAuth(bff_settings.CLIENT_ID, bff_settings.CLIENT_SECRET)
    try:
        response = http.post(
            provider.token_endpoint,
            data=data,
            auth=auth,
            headers={"Accept": "application/json"},
            timeout=bff_settings.HTTP_TIMEOUT,
        )
    except requests.RequestException as exc:
        logger.warning("oauthbff: token endpoint unreachable: %s", type(exc).__name__)
        raise ProviderError("The identity provider could not be reached.") from exc
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code != 200:
        error = body.get("error") if isinstance(body, dict) else None
        logger.warning(
            "oauthbff: token endpoint (%s) answered %s %s",
            data.get("grant_type"),
            response.status_code,
            error or "",
        )
        if error:
            raise TokenError(str(error)[:64], response.status_code)
        raise ProviderError(
            f"The identity provider's token endpoint answered {response.status_code}."
        )
    if not isinstance(body, dict) or not body.get("access_token"):
        raise ProviderError("The identity provider's token response has no access token.")
    for name in ("access_token", "refresh_token", "id_token", "refresh_token_id"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise ProviderError(f"The identity provider's token response has a malformed {name}.")
    return body


def expires_at_from(token_response):
    try:
        seconds = int(token_response.get("expires_in") or 3600)
    except (TypeError, ValueError):
        seconds = 3600
    return timezone.now() + timedelta(seconds=max(seconds, 0))


# --- the session index ---------------------------------------------------------------------------
def client_ip(request):
    ip = request.META.get("REMOTE_ADDR") or None
    return ip


SAFE_CLAIMS = (
    "sub",
    "iss",
    "email",
    "email_verified",
    "name",
    "given_name",
    "family_name",
    "preferred_username",
    "picture",
    "locale",
    "sid",
    "auth_time",
    "tid",
)


@sensitive_variables()
def start_session(request, user, token_response, claims, access_claims, roles):
    """Index the freshly signed-in session and store its tokens (called after ``auth.login``).

    ``roles`` are the ones the backend read (OAUTHBFF ROLES_CLAIM); they stay on the row for
    ``session_roles``.
    """
    if request.session.session_key is None:
        request.session.save()
    safe = {k: claims[k] for k in SAFE_CLAIMS if k in claims}
    safe["roles"] = sorted(str(role) for role in roles)
    row = OIDCSession.objects.create(
        session_key=request.session.session_key,
        user=user,
        issuer=claims["iss"],
        subject=claims["sub"],
        sid=str(claims.get("sid") or "")[:255],
        refresh_token_id=str(
            token_response.get("refresh_token_id") or access_claims.get("sid") or ""
        )[:255],
        ip_address=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:300],
        access_token=encrypt(token_response["access_token"]),
        refresh_token=encrypt(token_response.get("refresh_token") or ""),
        id_token=encrypt(token_response.get("id_token") or ""),
        access_expires_at=expires_at_from(token_response),
        claims=safe,
    )
    request.session[SESSION_KEY] = row.pk
    setattr(request, ROW_CACHE_ATTR, row)
    return row


def current_session(request, *, reload=False):
    """The request's active ``OIDCSession`` row, or None (not signed in through the provider)."""
    if not reload and hasattr(request, ROW_CACHE_ATTR):
        return getattr(request, ROW_CACHE_ATTR)
    row = None
    session = getattr(request, "session", None)
    pk = session.get(SESSION_KEY) if session is not None else None
    user = getattr(request, "user", None)
    if pk and user is not None and user.is_authenticated:
        row = OIDCSession.objects.active().filter(pk=pk, user_id=user.pk).first()
        key = session.session_key
        if row is not None and key and row.session_key != key:
            # Django cycled the key (e.g. a password change); keep the index pointing at it.
            OIDCSession.objects.filter(pk=row.pk).update(session_key=key)
            row.session_key = key
    setattr(request, ROW_CACHE_ATTR, row)
    return row


def session_roles(request):
    """The signed-in user's roles, sorted, as the provider granted them for this session.

    They are read from the session's row, which every signed-in request has loaded already, so pages
    and APIs check roles without a query. Django groups hold the same names (set at each sign-in, for
    the admin and permissions); a user signed in without the provider has only those.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return []
    row = current_session(request)
    if row is not None and isinstance(row.claims.get("roles"), list):
        return row.claims["roles"]
    return sorted(user.groups.values_list("name", flat=True))


def needs_refresh(row, *, leeway=None):
    leeway = bff_settings.REFRESH_LEEWAY if leeway is None else leeway
    if row.access_expires_at is None:
        return True
    return row.access_expires_at <= timezone.now() + timedelta(seconds=leeway)


def _reload(row):
    return OIDCSession.objects.active().filter(pk=row.pk).first()


def _lock_key(row):
    return f"oauthbff:refresh-lock:{row.pk}"


def _failure_key(row, version):
    return f"oauthbff:refresh-failed:{row.pk}:{version}"


def refresh_tokens(row, *, request=None, force=False):
    """Refresh ``row``'s tokens, single-flight across threads and processes; return the fresh row.

    The lock is ``cache.add`` (SET NX on Redis) with a timeout; waiters poll the row for a new
    ``version`` and give up after REFRESH_WAIT_SECONDS.
    """
    seen_version = row.version
    deadline = time.monotonic() + bff_settings.REFRESH_WAIT_SECONDS
    lock_key = _lock_key(row)
    while True:
        owner = secrets.token_hex(8)
        if cache.add(lock_key, owner, bff_settings.REFRESH_LOCK_SECONDS):
            try:
                fresh = _reload(row)
                if fresh is None:
                    raise SessionExpired("Your session has ended.")
                if fresh.version != seen_version or not (force or needs_refresh(fresh)):
                    return fresh
                return _refresh_locked(fresh, request)
            finally:
                if cache.get(lock_key) == owner:
                    cache.delete(lock_key)
        while True:
            if time.monotonic() > deadline:
                raise RefreshUnavailable("Timed out waiting for a token refresh.")
            time.sleep(0.05)
            fresh = _reload(row)
            if fresh is None:
                raise SessionExpired("Your session has ended.")
            if fresh.version != seen_version:
                return fresh
            if cache.get(_failure_key(row, seen_version)):
                raise RefreshUnavailable("The identity provider could not refresh the session.")
            if cache.get(lock_key) is None:
                break


@sensitive_variables()
def _refresh_locked(row, request):
    refresh_token = decrypt(row.refresh_token)
    if not refresh_token:
        end_session(row, "refresh_failed")
        raise SessionExpired("Your session has no refresh token; please sign in again.")
    try:
        response = token_request({"grant_type": "refresh_token", "refresh_token": refresh_token})
    except TokenError as exc:
        if exc.error in ("invalid_grant", "invalid_token", "unauthorized_client"):
            # Another process may have rotated the token in the meantime: re-read before giving up.
            fresh = _reload(row)
            if fresh is not None and fresh.version != row.version:
                return fresh
            end_session(fresh or row, "refresh_failed")
            raise SessionExpired("Your session has ended at the identity provider.") from exc
        cache.set(_failure_key(row, row.version), 1, 10)
        raise RefreshUnavailable(str(exc)) from exc
    except ProviderError as exc:
        cache.set(_failure_key(row, row.version), 1, 10)
        raise RefreshUnavailable(str(exc)) from exc

    id_token = response.get("id_token")
    if id_token:
        try:
            claims = get_provider(row.issuer).decode_jwt(
                id_token, audience=bff_settings.CLIENT_ID, authorized_party=bff_settings.CLIENT_ID
            )
        except (InvalidToken, ProviderError) as exc:
            logger.warning("oauthbff: refreshed ID token rejected: %s", exc)
            cache.set(_failure_key(row, row.version), 1, 10)
            raise RefreshUnavailable("The refreshed ID token was invalid.") from exc
        if claims.get("sub") != row.subject:
            end_session(row, "refresh_failed")
            raise SessionExpired("The identity provider returned another user.")
    expires_at = expires_at_from(response)
    now = timezone.now()
    # Role changes at the provider reach the session with the next refresh, not the next sign-in.
    from oauthbff.backends import apply_roles, refreshed_roles

    values = {
        "access_token": encrypt(response["access_token"]),
        "refresh_token": encrypt(response.get("refresh_token") or refresh_token),
        "id_token": encrypt(id_token) if id_token else row.id_token,
        "access_expires_at": expires_at,
        "version": F("version") + 1,
        "last_used_at": now,
    }
    roles = refreshed_roles(response["access_token"], row.subject)
    changed_roles = roles is not None and sorted(roles) != row.claims.get("roles")
    if changed_roles:
        roles = sorted(roles)
        values["claims"] = {**row.claims, "roles": roles}
    updated = OIDCSession.objects.active().filter(pk=row.pk, version=row.version).update(**values)
    fresh = _reload(row)
    if fresh is None:
        raise SessionExpired("Your session has ended.")
    if updated and changed_roles:
        logger.info("oauthbff: roles changed at refresh for session %s", row.pk)
        apply_roles(fresh.user, roles)
    if updated:
        tokens_refreshed.send(
            sender=OIDCSession, request=request, user=fresh.user, expires_at=expires_at
        )
    return fresh


@sensitive_variables()
def get_access_token(request, *, force=False):
    """The session's current access token, refreshed (single-flight) when close to expiry.

    Raises ``SessionExpired`` when no token can be had; ``RefreshUnavailable`` (a subclass) when the
    provider is only temporarily unreachable and the old token has already expired.
    """
    row = current_session(request)
    if row is None:
        raise SessionExpired("You are not signed in.")
    if force or needs_refresh(row):
        try:
            row = refresh_tokens(row, request=request, force=force)
        except RefreshUnavailable:
            if not force and row.access_expires_at and row.access_expires_at > timezone.now():
                return decrypt(row.access_token)
            raise
        setattr(request, ROW_CACHE_ATTR, row)
    token = decrypt(row.access_token)
    if not token:
        raise SessionExpired("Your session has no access token; please sign in again.")
    return token


@sensitive_variables()
def get_id_token(row):
    return decrypt(row.id_token)


# --- ending sessions -----------------------------------------------------------------------------
def _session_store():
    return import_module(settings.SESSION_ENGINE).SessionStore


def end_session(row, reason, *, delete_django_session=True):
    """End one indexed session: wipe its tokens, delete its Django session, announce it."""
    updated = (
        OIDCSession.objects.active()
        .filter(pk=row.pk)
        .update(
            ended_at=timezone.now(),
            end_reason=reason[:40],
            access_token="",
            refresh_token="",
            id_token="",
        )
    )
    if delete_django_session:
        _session_store()(session_key=row.session_key).delete()
    if updated:
        session_ended.send(
            sender=OIDCSession, user=row.user, session_key=row.session_key, reason=reason
        )
    return bool(updated)


def end_sessions(queryset, reason):
    """End every active session in ``queryset``; returns how many ended."""
    return sum(end_session(row, reason) for row in queryset.active().select_related("user"))


@sensitive_variables()
def revoke_refresh_token(row):
    """Revoke the row's refresh token at the provider (RFC 7009) when it has a revocation endpoint."""
    refresh_token = decrypt(row.refresh_token)
    if not refresh_token:
        return False
    try:
        endpoint = get_provider(row.issuer).revocation_endpoint
    except ProviderError:
        return False
    if not endpoint:
        return False
    data = {"token": refresh_token, "token_type_hint": "refresh_token"}
    auth = None
    if bff_settings.TOKEN_AUTH_METHOD == "client_secret_post":
        data.update(client_id=bff_settings.CLIENT_ID, client_secret=bff_settings.CLIENT_SECRET)
    else:
        auth = HTTPBasicAuth(bff_settings.CLIENT_ID, bff_settings.CLIENT_SECRET)
    try:
        response = http.post(endpoint, data=data, auth=auth, timeout=bff_settings.HTTP_TIMEOUT)
    except requests.RequestException as exc:
        logger.warning("oauthbff: token revocation failed: %s", type(exc).__name__)
        return False
    if response.status_code != 200:
        logger.warning("oauthbff: token revocation answered %s", response.status_code)
        return False
    return True
