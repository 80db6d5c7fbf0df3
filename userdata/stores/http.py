"""A pooled `requests` transport with timeouts and retries of what is safe to retry."""

import itertools
import logging
import os
import random
import time

import requests
from requests.adapters import HTTPAdapter

from .base import StoreError

logger = logging.getLogger("userdata.stores")

RETRY_STATUSES = {502, 503, 504}


class HttpClient:
    """One connection pool per store. Retries connection failures and 502/503/504 for idempotent
    calls, and 429 for any call (the server did not process it), honouring `Retry-After`.

    Requests go straight to the pooled `HTTPAdapter` as `PreparedRequest`s rather than through a
    `requests.Session`: an IdP API needs no cookie jar, redirect following or per-call merging of
    session settings, and with 16 push workers that layer cost more CPU than the HTTP itself.
    Environment settings (proxies, CA bundle) are read once here.
    """

    def __init__(
        self,
        *,
        timeout,
        connect_timeout,
        retries,
        pool_size,
        retry_after_max,
        sleep=None,
        base_url="",
        headers=None,
    ):
        self.timeout = (min(connect_timeout, timeout), timeout)
        self.retries = retries
        self.retry_after_max = retry_after_max
        self.sleep = sleep or time.sleep
        self.headers = requests.utils.default_headers()
        self.headers.update(headers or {})
        self.proxies = requests.utils.get_environ_proxies(base_url) if base_url else {}
        self.verify = (
            os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        )
        self.adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
        self._counter = itertools.count(1)
        self._made = 0

    def request(
        self,
        method,
        url,
        *,
        idempotent=True,
        what="IdP call",
        headers=None,
        timeout=None,
        stream=False,
        **body,
    ):
        """Send one request with retries; return the response (any status) or raise StoreError.

        `body` takes `json`, `data` or `params` as `requests` does. With `stream=True` the body is
        left on the socket for the caller to read (and close) in pieces, e.g. a large export file.
        """
        prepared = requests.PreparedRequest()
        try:
            prepared.prepare(
                method=method, url=url, headers={**self.headers, **(headers or {})}, **body
            )
        except (requests.RequestException, ValueError) as exc:
            raise StoreError(f"{what}: {exc.__class__.__name__}.") from exc
        attempt = 0
        while True:
            attempt += 1
            self._made = next(self._counter)
            try:
                response = self.adapter.send(
                    prepared,
                    stream=stream,
                    timeout=timeout or self.timeout,
                    verify=self.verify,
                    proxies=self.proxies,
                )
            except requests.ConnectionError as exc:
                # A refused or failed connection never reached the server: always safe to retry.
                if attempt <= self.retries and (idempotent or _not_sent(exc)):
                    self._backoff(attempt)
                    continue
                raise StoreError(f"{what}: the IdP is unreachable.") from exc
            except requests.Timeout as exc:
                if attempt <= self.retries and idempotent:
                    self._backoff(attempt)
                    continue
                raise StoreError(f"{what}: the IdP did not answer in time.") from exc
            except requests.RequestException as exc:
                raise StoreError(f"{what}: {exc.__class__.__name__}.") from exc
            if response.status_code == 429 and attempt <= self.retries:
                delay = self._retry_after(response)
                if delay is not None:
                    logger.info("%s: 429, retrying in %.1f s", what, delay)
                    response.close()
                    self.sleep(delay)
                    continue
            if response.status_code in RETRY_STATUSES and idempotent and attempt <= self.retries:
                response.close()
                self._backoff(attempt)
                continue
            return response

    @property
    def requests_made(self):
        """Requests sent so far (retries included), for the command's and benchmark's figures."""
        return self._made

    def _retry_after(self, response):
        """Seconds to wait per Retry-After (or None when longer than we are willing to wait)."""
        value = response.headers.get("Retry-After")
        reset = response.headers.get("x-ratelimit-reset")
        if value is None and reset and reset.isdigit():
            value = str(int(reset) - time.time())
        if value is None:
            value = "1"
        try:
            delay = max(0.0, float(value))
        except ValueError:
            from email.utils import parsedate_to_datetime

            try:
                delay = max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
            except (TypeError, ValueError):
                delay = 1.0
        return delay if delay <= self.retry_after_max else None

    def _backoff(self, attempt):
        self.sleep(min(2.0, 0.1 * 2 ** (attempt - 1)) * (0.5 + random.random() / 2))

    def close(self):
        self.adapter.close()


def _not_sent(exc):
    return isinstance(exc, requests.exceptions.ConnectTimeout) or "refused" in str(exc).lower()


def json_body(response, what):
    """The decoded JSON object of a response, or StoreError for a malformed body."""
    try:
        body = response.json()
    except ValueError as exc:
        raise StoreError(f"{what}: the IdP sent a malformed body.") from exc
    if not isinstance(body, dict):
        raise StoreError(f"{what}: the IdP sent an unexpected body.")
    return body


def status_error(response, what):
    """A StoreError describing a non-2xx answer (no body content, which may echo secrets)."""
    status = response.status_code
    retryable = status >= 500 or status == 429
    retry_after = None
    if status == 429:
        value = response.headers.get("Retry-After", "")
        retry_after = float(value) if value.strip().isdigit() else None
    return StoreError(
        f"{what}: the IdP answered HTTP {status}.",
        status=status,
        retryable=retryable,
        retry_after=retry_after,
    )
