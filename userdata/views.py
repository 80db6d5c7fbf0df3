"""The user-data field's endpoint (its state as JSON, saves and the choice between versions) and the
FusionAuth webhook receiver. The field itself is the `{% userdata_field %}` inclusion tag.

The user is always the session's user; no user id is ever read from the request.
"""

import json
import logging

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from . import conflicts, dispatch, field, mirror, webhooks
from .conf import userdata_settings

logger = logging.getLogger("userdata.views")

CHOICES = ("mine", "theirs")


class BadSave(ValueError):
    """A save request we cannot read; the message says what to fix (status 400 unless given)."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status


@require_http_methods(["GET", "HEAD", "POST"])
@never_cache
def save(request):
    """GET: the field's state as JSON (ETag / If-None-Match, for open pages that poll).
    POST: save the text locally (a worker pushes it), or apply the user's choice between versions;
    JSON for the page's script, a redirect or a re-rendered page for a plain form."""
    if request.method != "POST":
        return state(request)
    wants_json = _wants_json(request)
    if not request.user.is_authenticated:
        if wants_json:
            return JsonResponse({"error": "You're not logged in."}, status=401)
        login = resolve_url(settings.LOGIN_URL)
        return redirect(
            f"{login}?{urlencode({'next': field.safe_next(request, request.POST.get('next'))})}"
        )
    try:
        values = _read_save(request, wants_json)
    except RequestDataTooBig:
        return _too_large(request, wants_json, _limit_message(), "")
    except BadSave as exc:
        typed = "" if wants_json else _clean_typed(request.POST.get("userData", ""))
        return _refused(request, wants_json, str(exc), typed, status=exc.status)
    text, version, choice = values
    try:
        if choice == "theirs":
            row = mirror.mirror_for_user(request.user)
            row, applied = conflicts.take_current(row, version, actor="user")
            if not applied:
                raise mirror.VersionConflict(row, text or "")
        else:
            row = mirror.save_edit(
                request.user, text, base_version=version, resolve=choice == "mine"
            )
            if not dispatch.use_workers():
                row.refresh_from_db()  # pushed in this process on commit: show its outcome
    except mirror.EditTooLarge as exc:
        return _too_large(request, wants_json, str(exc), text)
    except mirror.UnknownVersion as exc:
        return _refused(request, wants_json, str(exc), text, status=400)
    except mirror.VersionConflict as exc:
        return _conflict(request, wants_json, exc.row, exc.text)
    except DatabaseError:
        logger.exception("userdata: database error while saving an edit")
        message = "We couldn't save your text just now. Please try again in a moment."
        return _refused(request, wants_json, message, text, status=503)
    payload = field.state_payload(row)
    if wants_json:
        return JsonResponse(payload)
    level = messages.SUCCESS if payload["state"] == "saved" else messages.WARNING
    messages.add_message(request, level, payload["message"])
    return redirect(field.safe_next(request, request.POST.get("next")))


def state(request):
    """The field's current text, version and state; 304 when the page already shows it. A browser
    opening the address gets the field as a page (or the sign-in, when signed out)."""
    wants_json = _wants_json(request) or "text/html" not in request.headers.get("Accept", "")
    if not request.user.is_authenticated:
        if wants_json:
            return JsonResponse({"error": "You're not logged in."}, status=401)
        login = resolve_url(settings.LOGIN_URL)
        return redirect(f"{login}?{urlencode({'next': request.path})}")
    if not wants_json:
        return render(request, "userdata/edit.html", status=200)
    row = field.load_row(request)
    tag = field.etag(row)
    if tag in [value.strip() for value in request.headers.get("If-None-Match", "").split(",")]:
        response = HttpResponse(status=304)
    else:
        response = JsonResponse(field.state_payload(row))
    response["ETag"] = tag
    return response


def _wants_json(request):
    return (
        request.content_type == "application/json"
        or "application/json" in request.headers.get("Accept", "")
        or request.headers.get("X-Requested-With") == "XMLHttpRequest"
    )


def _limit_message():
    return f"Your text is over the limit of {userdata_settings.MAX_BYTES // 1024} KB; shorten it."


def _read_save(request, wants_json):
    """(text, base version, choice) from a JSON body or a form; BadSave when unusable."""
    if request.content_type == "application/json":
        try:
            payload = json.loads(request.body)
        except RecursionError as exc:
            raise BadSave("The request body is nested too deeply.") from exc
        except (UnicodeDecodeError, ValueError) as exc:
            raise BadSave("The request body is not valid JSON.") from exc
        if not isinstance(payload, dict):
            raise BadSave("Send a JSON object with userData and version.")
        text, version, choice = (
            payload.get("userData"),
            payload.get("version"),
            payload.get("choice"),
        )
    else:
        text = request.POST.get("userData")
        version, choice = request.POST.get("version"), request.POST.get("choice") or None
    if choice is not None and choice not in CHOICES:
        raise BadSave("choice must be mine or theirs.")
    version = _version(version)
    if choice == "theirs":
        return (text if isinstance(text, str) else None), version, choice
    if not isinstance(text, str):
        raise BadSave("Send the text as userData (a string).")
    if "\x00" in text:
        raise BadSave("The text contains a NUL character, which cannot be stored.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise BadSave("The text contains characters that are not valid Unicode.") from exc
    return text.replace("\r\n", "\n"), version, choice


def _version(value):
    """The version the page showed: a non-negative integer (as JSON number or form text)."""
    if value is None or value == "":
        raise BadSave(
            "Send the version of the text your edit is based on (version); reload the page."
        )
    if isinstance(value, bool):
        raise BadSave("version must be a whole number.")
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
        value = int(value)
    if not isinstance(value, int) or not 0 <= value < 2**62:
        raise BadSave("version must be a whole number.")
    return value


def _clean_typed(typed):
    return typed.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def _too_large(request, wants_json, message, text):
    return _refused(request, wants_json, message, text, status=413)


def _refused(request, wants_json, message, text, *, status):
    if wants_json:
        return JsonResponse({"error": message}, status=status)
    return _render_field(request, status=status, text=text, error=message)


def _conflict(request, wants_json, row, text):
    """409: both texts, for the user to keep theirs, take the current one, or edit and save."""
    choice = field.conflict_choice(row, text)
    if row.has_conflict:
        message = field.STATE_MESSAGES["conflict"]
    else:  # a save based on an older version: another tab, or the provider, changed it since
        message = "The text changed since this page showed it. Choose which to keep."
    if wants_json:
        return JsonResponse(
            {"error": message, "state": "conflict", "conflict": choice, **_current(row)},
            status=409,
        )
    return _render_field(request, status=409, text=text, conflict=choice, row=row)


def _current(row):
    return {"version": row.version, "text": row.user_text}


def _render_field(request, *, status, text, error=None, conflict=None, row=None):
    """The field again (no JavaScript): the user's text kept in the box, the reason or the choice
    beside it. Projects override `userdata/edit.html` to give it their page."""
    next_url = field.safe_next(request, request.POST.get("next"))
    context = field.field_context(
        request, row=row, text=text, error=error, conflict=conflict, next_url=next_url
    )
    return render(request, "userdata/edit.html", {"userdata": context}, status=status)


@csrf_exempt
@require_POST
def fusionauth_webhook(request):
    """FusionAuth events: 401 unless signed with the shared HMAC key over the exact body."""
    secret = (userdata_settings.FUSIONAUTH or {}).get("WEBHOOK_SECRET", "")
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
