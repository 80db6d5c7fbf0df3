"""Settings for the test run: the project's own settings, in the development profile unless the caller
says otherwise (CI sets DATABASE_URL and REDIS_URL to run the suite on PostgreSQL and Redis)."""

import os

os.environ.setdefault("DEBUG", "true")

from bffproject.settings import *  # noqa: E402, F403
