"""FusionAuth webhooks: verify the signature over the raw body, de-duplicate, apply to the mirror."""

import base64
import hashlib
import hmac
import json
import logging
from datetime import timedelta

import jwt
from django.db import IntegrityError, transaction
from django.utils import timezone

from .conf import userdata_settings
from .conflicts import apply_remote_deleted
from .models import ProcessedWebhook, UserData
from .pull import apply_webhook_data
from .stores.base import RemoteData, StoreError

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


class WebhookRejected(Exception):
    """The request is not a genuine FusionAuth delivery; the message is safe to return."""


class WebhookMalformed(Exception):
    """Signed, but not an event we can read."""


def verify_signature(body, token, secret):
    """Check the HMAC-signed JWT and that its `request_body_sha256` is the hash of `body`."""
    if not secret:
        raise WebhookRejected("Webhook signing is not configured.")
    if not token:
        raise WebhookRejected("Missing signature.")
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=HMAC_ALGORITHMS,
            options={"require": ["request_body_sha256"], "verify_aud": False},
        )
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


def parse_event(body):
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise WebhookMalformed("The body is not JSON.") from exc
    event = payload.get("event") if isinstance(payload, dict) else None
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise WebhookMalformed("The body has no event.")
    event_id = event.get("id")
    if not isinstance(event_id, str) or not event_id or len(event_id) > 64:
        raise WebhookMalformed("The event has no usable id.")
    return event


def prune_processed(days=7):
    """Forget replay ids older than FusionAuth's retry window (kept a week); returns the count."""
    cutoff = timezone.now() - timedelta(days=days)
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
    data = registration.get("data") or {}
    if not isinstance(data, dict):
        raise WebhookMalformed("registration.data is not an object.")
    version = registration.get("lastUpdateInstant")
    try:
        remote = RemoteData(
            subject=subject,
            data=data,
            version=version if isinstance(version, int) and not isinstance(version, bool) else None,
            email=str(user.get("email") or ""),
        )
    except StoreError as exc:
        raise WebhookMalformed(str(exc)) from exc
    apply_webhook_data(subject, remote)
    return "applied"


def _queue_pull(subject):
    """Dispatch an event that names a known user but not their data: a pull, in a worker, once
    this event's row commits. Returns "queued" (or "ignored" for a user we do not mirror)."""
    from .tasks import enqueue_pull_task

    row = UserData.objects.filter(subject=subject).only("pk").first()
    if row is None:
        return "ignored"
    transaction.on_commit(lambda: enqueue_pull_task(row.pk), robust=True)
    return "queued"
