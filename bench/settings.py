"""Benchmark-only settings: the project's settings with a URL conf that adds a bare comparison view.

The warm-page benchmark compares the home page with a view that does nothing but read the session,
served by the same processes; that view must never be part of the product's URLs. The benchmarks run
the production profile, so static files are collected into a scratch folder of the run.
"""

import os

from bffproject.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
if os.environ.get("BENCH_STATIC_ROOT"):
    STATIC_ROOT = os.environ["BENCH_STATIC_ROOT"]
