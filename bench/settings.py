"""Benchmark-only settings: the project's settings with a URL conf that adds a bare comparison view.

The warm-page benchmark compares the home page with a view that does nothing but read the session,
served by the same processes; that view must never be part of the product's URLs.
"""

from bffproject.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
