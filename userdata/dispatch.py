"""Hand work to the Celery workers, or do it here when the project runs no Celery.

The task queue is an extra of the distribution (`userdata[celery]`). USERDATA["TASKS"] says where
the work runs; with "auto" a project that installed Celery and set CELERY_BROKER_URL gets workers,
any other project gets pushes and pulls in the process that asked for them (requests then wait for
the IdP, as they must without a queue).
"""

import importlib.util
import logging

from django.conf import settings

from .conf import userdata_settings

logger = logging.getLogger("userdata.dispatch")


def use_workers():
    mode = userdata_settings.TASKS
    if mode == "inline":
        return False
    installed = importlib.util.find_spec("celery") is not None
    if mode == "celery":
        return True
    return installed and bool(getattr(settings, "CELERY_BROKER_URL", ""))


def queue_push(row_id):
    if use_workers():
        from .tasks import enqueue_push_task

        return enqueue_push_task(row_id)
    from . import push
    from .models import UserData

    return push.push(UserData(pk=row_id))


def queue_pull(row_id):
    if use_workers():
        from .tasks import enqueue_pull_task

        return enqueue_pull_task(row_id)
    from . import pull
    from .models import UserData

    row = UserData.objects.filter(pk=row_id).first()
    return pull.pull(row) if row is not None else None
