"""WSGI entry point (gunicorn bffproject.wsgi)."""

import logging
import os
import sys

from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bffproject.settings")
try:
    application = get_wsgi_application()
except ImproperlyConfigured as exc:
    sys.exit(f"error: {exc}")

# gunicorn runs no system checks; the security ones (the public demo secrets with DEBUG) must still
# be said at start-up, in the log.
for message in checks.run_checks(tags=[checks.Tags.security]):
    if message.level >= checks.WARNING:
        logging.getLogger("bffproject").warning("%s", message)
