"""The home page (greeting and the user-data field), its save endpoint, and the webhook receiver.

The user is always the session's user; no user id is ever read from the request.
"""

import json
import logging

from django.contrib import messages
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST, require_safe

from . import sync, webhooks
from .conf import userdata_settings
from .models import SyncState

logger = logging.getLogger("userdata.views")

STATE_MESSAGES = {
    "saved": "Saved.",
    "pending": "Saved here. Waiting to sync with the identity provider; it will be sent "
    "automatically.",
    "conflict": "Saved here, but the identity provider's copy changed too. Nothing is lost: "
    "staff will resolve the conflict.",
}


def page_state(row):
    """The sync state shown to the user: saved, pending (waiting to sync) or conflict."""
    if row is None:
        return "saved"
    state = row.sync_state
    if state == SyncState.CONFLICT:
        return "conflict"
    if state == SyncState.PENDING:
        return "pending"
    return "saved"


@require_safe
@never_cache
def home(request):
    """Greeting and the userData field, read from the mirror: no IdP call unless edits wait."""
    context = {"max_bytes": userdata_settings()["MAX_BYTES"]}
    if request.user.is_authenticated:
        row = sync.get_mirror(request.user, fresh=False)
        if row is None:
            row = sync.mirror_for_user(request.user)
        elif sync.push_if_due(row) is not None or sync.pull_if_stale(row) is not None:
            row = sync.get_mirror(request.user)
        context.update(user_text=row.user_text, state=page_state(row))
        context["state_message"] = STATE_MESSAGES[context["state"]]
    return render(request, "home.html", context)


def _wants_json(request):
    return (
        request.content_type == "application/json"
        or "application/json" in request.headers.get("Accept", "")
        or request.headers.get("X-Requested-With") == "XMLHttpRequest"
    )


@require_POST
@never_cache
def save(request):
    """Save the user's text locally, then try to push it; JSON for fetch, redirect for a form."""
    wants_json = _wants_json(request)
    limit = userdata_settings()["MAX_BYTES"]
    too_large = f"Your text is over the limit of {limit // 1024} KB; shorten it."
    if not request.user.is_authenticated:
        if wants_json:
            return JsonResponse({"error": "You're not logged in."}, status=401)
        return redirect("/auth/login/?next=/")
    try:
        text = _read_text(request, wants_json)
    except RequestDataTooBig:
        return _too_large(request, wants_json, too_large, "")
    except ValueError as exc:
        if wants_json:
            return JsonResponse({"error": str(exc)}, status=400)
        typed = request.POST.get("userData", "")
        typed = typed.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
        return _form_error(request, str(exc), typed, status=400)
    try:
        row = sync.save_edit(request.user, text)
        if row.pending:
            sync.push(row)
            row = sync.get_mirror(request.user)
    except sync.EditTooLarge as exc:
        return _too_large(request, wants_json, str(exc), text)
    except DatabaseError:
        logger.exception("userdata: database error while saving an edit")
        message = "We couldn't save your text just now. Please try again in a moment."
        if wants_json:
            return JsonResponse({"error": message}, status=503)
        return _form_error(request, message, text, status=503)
    state = page_state(row)
    if wants_json:
        return JsonResponse({"state": state, "message": STATE_MESSAGES[state]})
    level = messages.SUCCESS if state == "saved" else messages.WARNING
    messages.add_message(request, level, STATE_MESSAGES[state])
    return redirect("userdata:home")


def _read_text(request, wants_json):
    if request.content_type == "application/json":
        try:
            payload = json.loads(request.body)
        except (UnicodeDecodeError, ValueError) as exc:
            raise ValueError("The request body is not valid JSON.") from exc
        text = payload.get("userData") if isinstance(payload, dict) else None
    else:
        text = request.POST.get("userData")
    if not isinstance(text, str):
        raise ValueError("Send the text as userData (a string).")
    if "\x00" in text:
        raise ValueError("The text contains a NUL character, which cannot be stored.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("The text contains characters that are not valid Unicode.") from exc
    return text.replace("\r\n", "\n")


def _too_large(request, wants_json, message, text):
    if wants_json:
        return JsonResponse({"error": message}, status=413)
    return _form_error(request, message, text, status=413)


def _form_error(request, message, text, *, status):
    """The home page again, with the user's text kept in the box and the reason next to it."""
    context = {
        "max_bytes": userdata_settings()["MAX_BYTES"],
        "user_text": text,
        "state": "error",
        "state_message": message,
        "form_error": message,
    }
    return render(request, "home.html", context, status=status)


@csrf_exempt
@require_POST
def fusionauth_webhook(request):
    """FusionAuth events: 401 unless signed with the shared HMAC key over the exact body."""
    secret = (userdata_settings().get("FUSIONAUTH") or {}).get("WEBHOOK_SECRET", "")
    try:
        body = request.body
    except RequestDataTooBig:
        return JsonResponse({"error": "The body is too large."}, status=413)
    try:
        webhooks.verify_signature(body, request.headers.get(webhooks.SIGNATURE_HEADER), secret)
    except webhooks.WebhookRejected as exc:
        logger.warning("userdata: rejected a webhook: %s", exc)
        return JsonResponse({"error": str(exc)}, status=401)
    try:
        event = webhooks.parse_event(body)
        result = webhooks.handle_event(event)
    except webhooks.WebhookMalformed as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse({"status": result})
