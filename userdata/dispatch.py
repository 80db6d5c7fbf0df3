"""Hand work to the Celery workers, or do it here when Celery is not installed.

The task queue is an extra of the distribution (`userdata[celery]`); a project installed without
it still works, with pushes and pulls run in the process that asked for them.
"""

import logging

logger = logging.getLogger("userdata.dispatch")


def queue_push(row_id):
    try:
        from .tasks import enqueue_push_task
    except ImportError:  # no Celery: push here (the request waits for the IdP)
        from . import push
        from .models import UserData

        return push.push(UserData(pk=row_id))
    return enqueue_push_task(row_id)


def queue_pull(row_id):
    try:
        from .tasks import enqueue_pull_task
    except ImportError:
        from . import pull
        from .models import UserData

        row = UserData.objects.filter(pk=row_id).first()
        return pull.pull(row) if row is not None else None
    return enqueue_pull_task(row_id)
