"""Settings for the test run: the project's own settings, in the development profile unless the caller
says otherwise (CI sets DATABASE_URL and REDIS_URL to run the suite on PostgreSQL and Redis)."""

import os

os.environ.setdefault("DEBUG", "true")

from bffproject.settings import *  # noqa: E402, F403

# A file, not memory, for SQLite test databases: the live server thread then gets a connection of its
# own instead of sharing the test thread's (two threads in one SQLite connection collide).
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    import tempfile

    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": os.path.join(tempfile.gettempdir(), f"bff-test-{os.getpid()}.sqlite3")
    }
CELERY_TASK_ALWAYS_EAGER = True  # unit tests; the live worker tests publish to a real broker
# Unit tests run the push at once (eager); the coalescing delay has its own tests.
USERDATA["PUSH_DELAY"] = 0  # noqa: F405
