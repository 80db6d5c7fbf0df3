"""A rate limit per store shared by every worker: a fixed-window counter in Django's cache.

In production the cache is Redis, so all workers on all machines count against one limit (IdP
management APIs have one: Auth0's is a few requests per second). With a per-process cache (the
embedded default) each process counts alone, which is what one worker needs.
"""

import logging
import re
import time

from django.core.cache import cache

from .conf import userdata_settings

logger = logging.getLogger("userdata.ratelimit")

UNITS = {"s": 1, "m": 60, "h": 3600}


def parse_rate(rate):
    """ "10/s" -> (10, 1); "600/m" -> (600, 60); "" or None -> None (no limit)."""
    if not rate:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d*)\s*([smh])\s*", str(rate))
    if not match or int(match[1]) <= 0:
        raise ValueError(f"Not a rate: {rate!r} (write it as 10/s, 600/m or 1000/h).")
    return int(match[1]), int(match[2] or 1) * UNITS[match[3]]


def throttle(store_name, *, sleep=time.sleep, clock=time.time, max_wait=60.0):
    """Wait until this call fits the store's PUSH_RATE; return the seconds waited.

    Gives up waiting (and lets the call through) after `max_wait`, so a stuck counter cannot
    wedge the workers; a cache that is down lets every call through.
    """
    limit = parse_rate(userdata_settings.PUSH_RATE)
    if limit is None:
        return 0.0
    count, per = limit
    waited = 0.0
    while waited < max_wait:
        now = clock()
        window = int(now // per)
        key = f"userdata:rate:{store_name}:{per}:{window}"
        try:
            cache.add(key, 0, timeout=per * 2 + 1)
            used = cache.incr(key)
        except Exception:  # noqa: BLE001 - a cache outage must not stop the pushes
            logger.warning("userdata: the rate-limit counter is unavailable; not limiting")
            return waited
        if used <= count:
            return waited
        delay = max(0.01, (window + 1) * per - now)
        sleep(delay)
        waited += delay
    return waited
