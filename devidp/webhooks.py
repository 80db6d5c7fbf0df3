"""FusionAuth webhooks: events sent after commit, signed, from a background thread, with retries.

Signing follows FusionAuth 1.48+: header ``X-FusionAuth-Signature-JWT`` carries a JWT (``kid`` =
signing key id) whose claim ``request_body_sha256`` is base64(SHA-256(raw body)).
"""

import base64
import hashlib
import json
import logging
import threading
import time
import uuid

import jwt
import requests
from django.conf import settings
from django.db import transaction

from devidp.models import Key, Tenant, Webhook, now_ms

log = logging.getLogger(__name__)

_threads = set()
_threads_lock = threading.Lock()


class Delivery:
    """One event for one webhook: everything read from the database before the thread starts."""

    def __init__(self, webhook, body, signing_key):
        config = webhook.config
        self.url = webhook.url
        self.body = body
        self.headers = {"Content-Type": "application/json", **(config.get("headers") or {})}
        self.auth = None
        if config.get("httpAuthenticationUsername"):
            self.auth = (
                config["httpAuthenticationUsername"],
                config.get("httpAuthenticationPassword", ""),
            )
        self.timeout = (
            int(config.get("connectTimeout") or 1000) / 1000,
            int(config.get("readTimeout") or 2000) / 1000,
        )
        if signing_key is not None:
            self.headers["X-FusionAuth-Signature-JWT"] = signature(body, signing_key)

    def send(self, retries):
        """POST the body; a non-2xx answer or a network error is retried up to ``retries`` times."""
        for attempt in range(retries + 1):
            try:
                response = requests.post(
                    self.url,
                    data=self.body,
                    headers=self.headers,
                    auth=self.auth,
                    timeout=self.timeout,
                )
                if 200 <= response.status_code < 300:
                    return True
                log.warning("webhook %s answered %s", self.url, response.status_code)
            except requests.RequestException as exc:
                log.warning("webhook %s failed: %s", self.url, exc.__class__.__name__)
            if attempt < retries:
                time.sleep(min(0.25 * 2**attempt, 2))
        return False


def signature(body, key):
    """The X-FusionAuth-Signature-JWT value for these exact body bytes."""
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    secret = key.secret if key.is_hmac else key.secret.encode()
    return jwt.encode(
        {"request_body_sha256": digest},
        secret,
        algorithm=key.algorithm,
        headers={"kid": str(key.id)},
    )


def event_enabled(tenant, event_type):
    if tenant is None:
        return True
    events = tenant.config.get("eventConfiguration", {}).get("events", {})
    return bool(events.get(event_type, {}).get("enabled"))


def webhooks_for(tenant, event_type):
    for webhook in Webhook.objects.all():
        config = webhook.config
        if not config.get("eventsEnabled", {}).get(event_type):
            continue
        if not config.get("global", False):
            tenant_ids = {str(t) for t in config.get("tenantIds", [])}
            if tenant is None or str(tenant.id) not in tenant_ids:
                continue
        yield webhook


def fire(event_type, tenant_id, payload, request=None):
    """Queue an event: it is built now, sent once the current transaction has committed."""
    tenant = Tenant.objects.filter(pk=tenant_id).first() if tenant_id else None
    if not event_enabled(tenant, event_type):
        return
    event = {
        "createInstant": now_ms(),
        "id": str(uuid.uuid4()),
        "info": event_info(request),
        "tenantId": str(tenant_id) if tenant_id else None,
        "type": event_type,
        **payload,
    }
    body = json.dumps({"event": event}, separators=(",", ":")).encode()
    deliveries = []
    for webhook in webhooks_for(tenant, event_type):
        signing = webhook.config.get("signatureConfiguration", {})
        key = None
        if signing.get("enabled") and signing.get("signingKeyId"):
            key = Key.objects.filter(pk=signing["signingKeyId"]).first()
        deliveries.append(Delivery(webhook, body, key))
    if deliveries:
        transaction.on_commit(lambda: _start(deliveries))


def event_info(request):
    if request is None:
        return {"data": {}}
    return {
        "ipAddress": request.META.get("REMOTE_ADDR", ""),
        "userAgent": request.META.get("HTTP_USER_AGENT", ""),
    }


def _start(deliveries):
    retries = settings.DEVIDP["WEBHOOK_RETRIES"]
    for delivery in deliveries:
        thread = threading.Thread(target=_run, args=(delivery, retries), daemon=True)
        with _threads_lock:
            _threads.add(thread)
        thread.start()


def _run(delivery, retries):
    try:
        delivery.send(retries)
    finally:
        with _threads_lock:
            _threads.discard(threading.current_thread())


def wait_for_deliveries(timeout=30.0):
    """Block until queued deliveries finish (a command must not exit before its webhooks)."""
    deadline = time.monotonic() + timeout
    while True:
        with _threads_lock:
            pending = list(_threads)
        if not pending:
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        pending[0].join(remaining)
