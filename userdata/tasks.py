"""Celery tasks: thin over the engine (push.py, pull.py), so the same work runs inline too.

Every task is safe to run twice (`acks_late`: a killed worker's job is delivered again): a push
reads the row when it runs and sends what is pending then, a pull folds in the IdP's copy by
version. Eager mode (unit tests) skips Celery's retries: the sweeper covers what they would do.
"""

import logging
import math
import time
from datetime import timedelta

from celery import shared_task
from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone

from . import pull, push
from .conf import userdata_settings
from .models import UserData
from .stores.base import RemoteData
from .webhooks import prune_processed

logger = logging.getLogger("userdata.tasks")

TASK_OPTIONS = {"acks_late": True, "reject_on_worker_lost": True, "ignore_result": True}


def enqueue_push_task(row_id):
    """Queue a push of one row PUSH_DELAY seconds from now, unless one is already queued in that
    window (it will read the latest text): a burst of saves becomes one or two writes.

    A broker that is down loses nothing: the edit is committed and the beat sweeper pushes it.
    """
    delay = float(userdata_settings.PUSH_DELAY)
    key = f"userdata:push-queued:{row_id}"
    try:
        if delay >= 1 and not cache.add(key, 1, timeout=int(delay)):
            return False
    except Exception:  # noqa: BLE001 - a cache outage only costs a duplicate push
        logger.warning("userdata: the push de-duplication key is unavailable")
    return publish(push_user_data, (row_id,), countdown=delay + 0.25 if delay else None)


# When the last publish failed (monotonic seconds): for BROKER_RETRY_SECONDS after it, this process
# does not try the broker again, so while it is down only one request waits for its connection
# attempts (about 2 s) and the others answer at once; the sweeper delivers what they saved.
_broker_failed_at = None
BROKER_RETRY_SECONDS = 10.0


def publish(task, args, *, countdown=None):
    """Send a task, or return False when the broker is down (or failed in the last few seconds)."""
    global _broker_failed_at
    now = time.monotonic()
    if _broker_failed_at is not None and now - _broker_failed_at < BROKER_RETRY_SECONDS:
        return False
    try:
        task.apply_async(args, countdown=countdown)
    except Exception:  # noqa: BLE001 - broker down: the sweeper pushes it later
        _broker_failed_at = now
        logger.warning("userdata: could not queue %s%s; the sweeper will", task.name, args)
        return False
    _broker_failed_at = None
    return True


def enqueue_pull_task(row_id):
    """Queue a pull of one row (a page found its mirror stale); at most one a minute per row."""
    try:
        if not cache.add(f"userdata:pull-queued:{row_id}", 1, timeout=60):
            return False
    except Exception:  # noqa: BLE001 - the page is served from the mirror either way
        logger.warning("userdata: could not queue the pull of row %s", row_id)
        return False
    return publish(pull_user_data, (row_id,))


@shared_task(bind=True, max_retries=None, **TASK_OPTIONS)
def push_user_data(self, row_id):
    """Push one user's pending edit; retried with the row's back-off (429 Retry-After included)."""
    # No read first: the guard's UPDATE finds the row (or finds it gone, which ends quietly with a
    # history note).
    outcome = push.push(UserData(pk=row_id))
    if self.request.is_eager:
        return outcome
    if outcome == "busy":
        # Another worker is pushing; it may have read the row before this save: look again soon.
        raise self.retry(countdown=1)
    if outcome == "error":
        next_at = UserData.objects.filter(pk=row_id).values_list("next_push_at", flat=True).first()
        if next_at is not None and UserData.objects.filter(pk=row_id).pushable().exists():
            wait = max(1, math.ceil((next_at - timezone.now()).total_seconds()))
            raise self.retry(countdown=wait)
    return outcome


@shared_task(**TASK_OPTIONS)
def pull_user_data(row_id):
    row = UserData.objects.filter(pk=row_id).first()
    if row is None:
        push.note_missing(row_id, "pull task")
        return "skipped"
    return pull.pull(row)


@shared_task(**TASK_OPTIONS)
def push_chunk(ids, dry_run=False):
    """One chunk of a bulk push (`syncuserdata push`); returns its summary as a dict."""
    return push.push_chunk(ids, dry_run=dry_run).as_dict()


@shared_task(**TASK_OPTIONS)
def pull_chunk(ids, dry_run=False):
    """One chunk of a bulk pull of known users (`syncuserdata pull --user`, the stale sweep)."""
    return pull.pull_chunk(ids, dry_run=dry_run).as_dict()


@shared_task(**TASK_OPTIONS)
def apply_pull_page(page):
    """One page of the IdP's listing (RemoteData as dicts) folded into the mirror."""
    remotes = [RemoteData(**item) for item in page]
    return pull.apply_page(remotes, issuer=userdata_settings.ISSUER)


@shared_task(**TASK_OPTIONS)
def prune_webhook_ids():
    """Beat: forget webhook replay ids older than FusionAuth's retry window."""
    return prune_processed()


@shared_task(**TASK_OPTIONS)
def sweep_pending(limit=5000):
    """Beat: queue a push for every due row whose edit waits longer than SWEEP_AFTER_SECONDS (an
    enqueue lost while the broker was down, a retry that a restart dropped). Duplicates are
    harmless: the guard and `pending` make a second push a no-op."""
    cutoff = timezone.now() - timedelta(seconds=userdata_settings.SWEEP_AFTER_SECONDS)
    ids = list(
        UserData.objects.due()
        .filter(Q(edited_at__isnull=True) | Q(edited_at__lt=cutoff))
        .order_by("next_push_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    for chunk in chunks(ids, userdata_settings.CHUNK_SIZE):
        push_chunk.delay(chunk)
    return len(ids)


@shared_task(**TASK_OPTIONS)
def pull_stale(limit=5000):
    """Beat: pull, in chunks, mirrors not pulled for STALE_SECONDS (webhooks can be missed)."""
    seconds = userdata_settings.STALE_SECONDS
    if not seconds:
        return 0
    ids = list(
        UserData.objects.stale(seconds)
        .order_by("pulled_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    for chunk in chunks(ids, userdata_settings.CHUNK_SIZE):
        pull_chunk.delay(chunk)
    return len(ids)


def chunks(items, size):
    size = max(1, int(size))
    for start in range(0, len(items), size):
        yield items[start : start + size]
