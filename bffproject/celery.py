"""The Celery app of the project: `celery -A bffproject worker` and `celery -A bffproject beat`.

Its settings are the CELERY_* names in bffproject/settings.py; tasks are found in the installed apps'
`tasks.py` modules.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bffproject.settings")

app = Celery("bffproject")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
