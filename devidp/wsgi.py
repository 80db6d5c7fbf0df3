"""WSGI entry point for serving the development IdP with gunicorn (``gunicorn devidp.wsgi``)."""

import os

from devidp.safety import refuse_production

refuse_production()
os.environ["DJANGO_SETTINGS_MODULE"] = "devidp.settings"

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
