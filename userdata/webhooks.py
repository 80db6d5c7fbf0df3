"""FusionAuth webhooks: verify the signature over the raw body, refuse what is too old or cannot be
kept, de-duplicate, apply to the mirror."""

import base64
import hashlib
import hmac
import json
import logging
import time
from datetime import timedelta

import jwt
from django.db import IntegrityError, transaction
from django.utils import timezone

from .conf import DEFAULTS, userdata_settings
from .conflicts import apply_remote_deleted
from .models import ProcessedWebhook, UserData
from .pull import apply_webhook_data
from .stores.base import MAX_DEPTH, RemoteData, StoreError

logger = logging.getLogger("userdata.webhooks")

SIGNATURE_HEADER = "X-FusionAuth-Signature-JWT"
HMAC_ALGORITHMS = ["HS256", "HS384", "HS512"]
REGISTRATION_EVENTS = {
    "user.registration.create",
    "user.registration.update",
    "user.registration.create.complete",
    "user.registration.update.complete",
}
DELETE_EVENTS = {"user.registration.delete", "user.registration.delete.complete"}
USER_DELETE_EVENTS = {"user.delete", "user.delete.complete"}
# Events that say the user changed without carrying the registration's data: a worker pulls it.
PULL_EVENTS = {"user.update", "user.update.complete"}

REPLAY_WINDOW = DEFAULTS["WEBHOOK_REPLAY_WINDOW"]
"""USERDATA["WEBHOOK_REPLAY_WINDOW"]'s default (seconds): how long applied event ids are kept, and
so the oldest event (by its own `createInstant`) that is accepted. An older event could be a replay
whose id was already forgotten. Also the fallback for a value that is not a positive int (which
userdata.E008 reports)."""

CLOCK_SKEW = 300
"""Seconds an event's `createInstant` may lie in the future (the IdP's clock ahead of ours)."""

MAX_EVENT_DEPTH = MAX_DEPTH + 8
"""Nesting allowed in a whole event: the envelope (event, user, registration, ...) plus the data."""


class WebhookRejected(Exception):
    """The request is not a genuine FusionAuth delivery; the message is safe to return."""


class WebhookMalformed(Exception):
    """Signed, but not an event we can read."""


def verify_signature(body, token, secret):
    """Check the HMAC-signed JWT and that its `request_body_sha256` is the hash of `body`.

    RFC 7518 section 3.2: an HMAC key MUST be at least as long as the hash, so a token whose
    algorithm wants a longer key than the secret (HS512 and a 40-byte secret) is refused before its
    signature is checked, and the reason is logged for the operator (the sender only sees 401).
    """
    if not secret:
        raise WebhookRejected("Webhook signing is not configured.")
    if not token:
        raise WebhookRejected("Missing signature.")
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=HMAC_ALGORITHMS,
            options={
                "require": ["request_body_sha256"],
                "verify_aud": False,
                "enforce_minimum_key_length": True,
            },
        )
    except jwt.InvalidKeyError as exc:
        logger.warning("userdata: refused a webhook: %s", exc)
        raise WebhookRejected("Invalid signature.") from exc
    except jwt.PyJWTError as exc:
        raise WebhookRejected("Invalid signature.") from exc
    claimed = claims.get("request_body_sha256")
    digest = hashlib.sha256(body).digest()
    expected = {
        base64.b64encode(digest).decode(),
        base64.urlsafe_b64encode(digest).decode().rstrip("="),
    }
    if not isinstance(claimed, str) or not any(
        hmac.compare_digest(claimed.encode(), value.encode()) for value in expected
    ):
        raise WebhookRejected("The body does not match its signature.")


def replay_window():
    """USERDATA["WEBHOOK_REPLAY_WINDOW"] in seconds (ids kept, oldest event accepted)."""
    value = userdata_settings.WEBHOOK_REPLAY_WINDOW
    return value if isinstance(value, int) and value > 0 else REPLAY_WINDOW


def parse_event(body, *, now=None):
    """The verified body's event, or WebhookMalformed (a 400) before anything is written.

    Refuses what would otherwise fail half way through applying it: nesting Python's parser or the
    database cannot take, a missing or out-of-window `createInstant` (a replay older than the
    ids we keep), and ids, versions or e-mail addresses that do not fit their columns.
    """
    try:
        payload = json.loads(body)
    except RecursionError as exc:
        raise WebhookMalformed("The body is nested too deeply.") from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise WebhookMalformed("The body is not JSON.") from exc
    if _too_deep(payload, MAX_EVENT_DEPTH):
        raise WebhookMalformed("The body is nested too deeply.")
    event = payload.get("event") if isinstance(payload, dict) else None
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise WebhookMalformed("The body has no event.")
    event_id = event.get("id")
    if not isinstance(event_id, str) or not event_id or len(event_id) > 64:
        raise WebhookMalformed("The event has no usable id.")
    _check_age(event.get("createInstant"), now=now)
    user = event.get("user")
    if isinstance(user, dict):
        subject, email = user.get("id"), user.get("email")
        if isinstance(subject, str) and len(subject) > 255:
            raise WebhookMalformed("The event's user id is too long.")
        if email is not None and (not isinstance(email, str) or len(email) > 254):
            raise WebhookMalformed("The event's user e-mail is not a usable address.")
    return event


def _check_age(instant, *, now=None):
    if not isinstance(instant, int) or isinstance(instant, bool):
        raise WebhookMalformed("The event has no createInstant (epoch milliseconds).")
    now_ms = int((time.time() if now is None else now) * 1000)
    age = (now_ms - instant) / 1000
    if age > replay_window():
        raise WebhookMalformed(
            "The event is older than the replay window; it is refused as a possible replay."
        )
    if age < -CLOCK_SKEW:
        raise WebhookMalformed("The event's createInstant is in the future.")


def _too_deep(value, limit):
    """Iterative depth check: True when objects and lists nest deeper than `limit`."""
    stack = [(value, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth >= limit:
                return True
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children)
    return False


def remote_from_registration(subject, registration, user):
    """The RemoteData a registration event carries, or WebhookMalformed for a value the mirror
    cannot keep (huge version, NaN, deep data). Without `lastUpdateInstant` the version is
    derived from the data (see stores.base.content_version)."""
    data = registration.get("data") or {}
    if not isinstance(data, dict):
        raise WebhookMalformed("registration.data is not an object.")
    version = registration.get("lastUpdateInstant")
    try:
        return RemoteData(
            subject=subject, data=data, version=version, email=str(user.get("email") or "")
        )
    except StoreError as exc:
        raise WebhookMalformed(str(exc)) from exc


def prune_processed(days=None):
    """Forget replay ids older than the replay window (plus the allowed clock skew, so an event
    whose id is forgotten is always older than the window); returns the count."""
    seconds = days * 86400 if days is not None else replay_window()
    cutoff = timezone.now() - timedelta(seconds=seconds + CLOCK_SKEW)
    return ProcessedWebhook.objects.filter(received_at__lt=cutoff).delete()[0]


def handle_event(event):
    """Apply one verified event once; return "applied", "queued" (a pull), "ignored" or
    "duplicate"."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                ProcessedWebhook.objects.create(
                    event_id=event["id"], event_type=event["type"][:100]
                )
        except IntegrityError:
            return "duplicate"
        return _apply(event)


def _apply(event):
    conf = userdata_settings()
    fa = conf.get("FUSIONAUTH") or {}
    kind = event["type"]
    tenant = fa.get("TENANT_ID")
    if tenant and event.get("tenantId") and event["tenantId"] != tenant:
        return "ignored"
    user = event.get("user") if isinstance(event.get("user"), dict) else {}
    subject = user.get("id")
    if not isinstance(subject, str) or not subject:
        return "ignored"
    if kind in USER_DELETE_EVENTS:
        apply_remote_deleted(subject, what="The IdP deleted the user.")
        return "applied"
    if kind in PULL_EVENTS:
        return _queue_pull(subject)
    if kind not in REGISTRATION_EVENTS | DELETE_EVENTS:
        return "ignored"
    registration = event.get("registration")
    if not isinstance(registration, dict):
        raise WebhookMalformed("The event has no registration.")
    application_id = event.get("applicationId") or registration.get("applicationId")
    if application_id != fa.get("APPLICATION_ID"):
        return "ignored"
    if kind in DELETE_EVENTS:
        apply_remote_deleted(subject, what="The IdP deleted the registration.")
        return "applied"
    if "data" not in registration:
        return _queue_pull(subject)  # a trimmed event: read the registration itself
    remote = remote_from_registration(subject, registration, user)
    apply_webhook_data(subject, remote)
    return "applied"


def _queue_pull(subject):
    """Dispatch an event that names a known user but not their data: a pull, in a worker, once
    this event's row commits. Returns "queued" (or "ignored" for a user we do not mirror)."""
    from .dispatch import queue_pull

    row = UserData.objects.filter(subject=subject).only("pk").first()
    if row is None:
        return "ignored"
    transaction.on_commit(lambda: queue_pull(row.pk), robust=True)
    return "queued"
