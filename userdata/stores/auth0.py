"""Auth0: `user_metadata` through the Management API, with a cached client-credentials token.

Bulk reads follow Auth0's documented limits: `GET /api/v2/users` serves at most 1,000 users for one
query (100 a page, and its `total` is capped at 1,000 too), so a larger tenant is read through a
users-export job whose gzipped NDJSON file is streamed, one page of users in memory at a time.
"""

import gzip
import json
import logging
import threading
import time
import zlib
from urllib.parse import quote, urlsplit

import requests
import urllib3

from .base import NotRegistered, RemoteData, StoreError, UserDataStore, merge_patch
from .http import HttpClient, json_body, status_error

logger = logging.getLogger(__name__)

PER_PAGE = 100
"""The largest `per_page` Auth0's user listing accepts."""

QUERY_LIMIT = 1000
"""The most users one `GET /api/v2/users` query can return (and the cap on its `total`)."""

FAILED_JOB_STATUSES = {"failed", "abandoned", "cancelled", "canceled", "expired"}
"""Job states that end without a file; any other state than "completed" is polled again (Auth0's
reference names "pending" and "completed" and does not list the states in between)."""

MAX_EXPORT_LINE = 1024 * 1024
"""Longest accepted line of an export file: one user (Auth0 caps metadata at 16 KB)."""


class Auth0Store(UserDataStore):
    """Auth0 merges metadata one level deep (a nested object sent replaces the stored one) and
    `null` deletes a key, so a push sends each changed top-level key whole and nulls removed ones."""

    name = "auth0"

    def __init__(
        self,
        *,
        domain,
        client_id,
        client_secret,
        audience="",
        field="user_metadata",
        page_size=500,
        export_poll_seconds=2.0,
        export_timeout=900.0,
        **http,
    ):
        if not domain or not client_id or not client_secret:
            raise StoreError("Auth0 store: DOMAIN, CLIENT_ID and CLIENT_SECRET are required.")
        domain = domain.rstrip("/")
        self.base_url = domain if domain.startswith("http") else f"https://{domain}"
        self.client_id = client_id
        self.client_secret = client_secret
        self.audience = audience or f"{self.base_url}/api/v2/"
        self.field = field
        self.page_size = max(1, page_size)
        self.export_poll_seconds = export_poll_seconds
        self.export_timeout = export_timeout
        self.http = HttpClient(base_url=self.base_url, **http)
        self._token = None
        self._token_expires = 0.0
        self._token_lock = threading.Lock()

    @classmethod
    def from_settings(cls, conf):
        a0 = conf.get("AUTH0") or {}
        return cls(
            domain=a0.get("DOMAIN", ""),
            client_id=a0.get("CLIENT_ID", ""),
            client_secret=a0.get("CLIENT_SECRET", ""),
            audience=a0.get("AUDIENCE", ""),
            field=a0.get("METADATA_FIELD") or "user_metadata",
            page_size=conf["SEARCH_PAGE_SIZE"],
            export_poll_seconds=a0.get("EXPORT_POLL_SECONDS", 2.0),
            export_timeout=a0.get("EXPORT_TIMEOUT", 900.0),
            timeout=conf["HTTP_TIMEOUT"],
            connect_timeout=conf["CONNECT_TIMEOUT"],
            retries=conf["RETRIES"],
            pool_size=conf["POOL_SIZE"],
            retry_after_max=conf["RETRY_AFTER_MAX"],
        )

    def _access_token(self, *, renew=False):
        """A Management API token, cached until a minute before it expires (single-flight)."""
        with self._token_lock:
            if renew or not self._token or time.monotonic() >= self._token_expires:
                what = "Getting an Auth0 Management API token"
                response = self.http.request(
                    "POST",
                    f"{self.base_url}/oauth/token",
                    data={
                        "grant_type": "client_credentials",
                        "client_id": self.client_id,
                        "client_secret": self.client_secret,
                        "audience": self.audience,
                    },
                    what=what,
                )
                if response.status_code in (401, 403):
                    raise StoreError(
                        f"{what}: Auth0 refused the client credentials or the audience "
                        f"{self.audience!r} (HTTP {response.status_code}). With a custom domain, "
                        "set AUTH0_MGMT_AUDIENCE to https://YOUR_TENANT.auth0.com/api/v2/.",
                        status=response.status_code,
                        retryable=False,
                    )
                if response.status_code != 200:
                    raise status_error(response, what)
                body = json_body(response, what)
                token = body.get("access_token")
                if not isinstance(token, str) or not token:
                    raise StoreError(f"{what}: no access_token in the answer.")
                expires_in = body.get("expires_in", 86400)
                if not isinstance(expires_in, int | float):
                    expires_in = 86400
                self._token = token
                self._token_expires = time.monotonic() + max(0, expires_in - 60)
            return self._token

    def _send(self, method, url, what, **kwargs):
        """One Management API call with the cached token, renewed once on a 401."""
        for renew in (False, True):
            headers = {"Authorization": f"Bearer {self._access_token(renew=renew)}"}
            response = self.http.request(method, url, headers=headers, what=what, **kwargs)
            if response.status_code != 401:
                break
        return response

    def _call(self, method, subject, what, **kwargs):
        url = f"{self.base_url}/api/v2/users/{quote(subject, safe='')}"
        response = self._send(method, url, what, **kwargs)
        if response.status_code == 404:
            raise NotRegistered("The user is unknown to Auth0.")
        if response.status_code != 200:
            raise status_error(response, what)
        body = json_body(response, what)
        metadata = body.get(self.field) or {}
        if not isinstance(metadata, dict):
            raise StoreError(f"{what}: {self.field} is not an object.")
        return RemoteData(
            subject=subject,
            data=metadata,
            version=_updated_ms(body.get("updated_at")),
            email=str(body.get("email") or ""),
        )

    def fetch(self, subject):
        return self._call(
            "GET",
            subject,
            "Reading Auth0 user metadata",
            params={"fields": f"user_id,email,updated_at,{self.field}", "include_fields": "true"},
        )

    @property
    def _fields(self):
        return ["user_id", "email", "updated_at", self.field]

    def iter_all(self):
        """Every user, a page at a time. A tenant the listing can serve whole (its first page says
        fewer than 1,000 users) is paged; a larger one is read through a users-export job. A listing
        that would pass the 1,000-user limit (the tenant grew during the pull) is an error, never a
        silent stop."""
        body = self._list_page(0)
        total = body.get("total")
        if not isinstance(total, int) or isinstance(total, bool) or total >= QUERY_LIMIT:
            yield from self._export_pages()
            return
        page = 0
        while True:
            users = body.get("users") or []
            batch = [remote for remote in map(self._remote_user, users) if remote is not None]
            if batch:
                yield batch
            if len(users) < PER_PAGE:
                return
            page += 1
            if page * PER_PAGE >= QUERY_LIMIT:
                raise StoreError(
                    "Auth0 lists at most 1,000 users per query and the tenant grew past that "
                    "during the pull; run it again (a users-export job is then used).",
                    retryable=False,
                )
            body = self._list_page(page)

    def _list_page(self, page):
        what = "Listing Auth0 users"
        params = {
            "page": page,
            "per_page": PER_PAGE,
            "include_totals": "true",
            "fields": ",".join(self._fields),
            "include_fields": "true",
        }
        response = self._send("GET", f"{self.base_url}/api/v2/users", what, params=params)
        if response.status_code != 200:
            raise status_error(response, what)
        body = json_body(response, what)
        if not isinstance(body.get("users", []), list):
            raise StoreError(f"{what}: the IdP sent an unexpected body.")
        return body

    def _remote_user(self, user):
        """RemoteData for one listed or exported user, or None (logged) for one we cannot keep."""
        if not isinstance(user, dict) or not isinstance(user.get("user_id"), str):
            return None
        metadata = user.get(self.field)
        try:
            return RemoteData(
                subject=user["user_id"],
                data=metadata if isinstance(metadata, dict) else {},
                version=_updated_ms(user.get("updated_at")),
                email=str(user.get("email") or ""),
            )
        except StoreError as exc:
            logger.warning("userdata: skipped user %s in a bulk pull: %s", user["user_id"], exc)
            return None

    def start_export(self):
        """Start a users-export job (JSON, i.e. gzipped NDJSON) of every user; return its id."""
        what = "Starting an Auth0 users export"
        response = self._send(
            "POST",
            f"{self.base_url}/api/v2/jobs/users-exports",
            what,
            json={"format": "json", "fields": [{"name": name} for name in self._fields]},
            idempotent=False,
        )
        if response.status_code not in (200, 201):
            raise status_error(response, what)
        job_id = json_body(response, what).get("id")
        if not isinstance(job_id, str) or not job_id:
            raise StoreError(f"{what}: the IdP sent no job id.")
        return job_id

    def wait_for_export(self, job_id):
        """Poll the job until it is completed; return the download location."""
        what = "Waiting for the Auth0 users export"
        deadline = time.monotonic() + self.export_timeout
        url = f"{self.base_url}/api/v2/jobs/{quote(job_id, safe='')}"
        while True:
            response = self._send("GET", url, what)
            if response.status_code != 200:
                raise status_error(response, what)
            job = json_body(response, what)
            status = job.get("status")
            if status == "completed":
                location = job.get("location")
                if not isinstance(location, str) or urlsplit(location).scheme not in (
                    "https",
                    urlsplit(self.base_url).scheme,
                ):
                    raise StoreError(f"{what}: the job finished without a usable location.")
                return location
            if not isinstance(status, str) or status in FAILED_JOB_STATUSES:
                raise StoreError(f"{what}: the job ended as {str(status)[:40]!r}.", retryable=True)
            if time.monotonic() >= deadline:
                raise StoreError(
                    f"{what}: job {job_id} did not finish within {self.export_timeout:.0f} s."
                )
            self.http.sleep(self.export_poll_seconds)

    def _export_pages(self):
        location = self.wait_for_export(self.start_export())
        yield from self.read_export(location)

    def read_export(self, location):
        """Stream the export file (gzipped NDJSON) and yield pages of `page_size` users.

        The file is read from the socket and decompressed in small pieces, so memory holds one page
        whatever the tenant's size, within EXPORT_TIMEOUT. The location is a pre-signed URL: the
        Management API token is not sent there. A truncated or corrupt file is an error, not a short
        pull.
        """
        what = "Downloading the Auth0 users export"
        response = self.http.request("GET", location, what=what, stream=True)
        try:
            if response.status_code != 200:
                raise status_error(response, what)
            batch = []
            timed = _TimedReader(response.raw, self.export_timeout, what)
            with gzip.GzipFile(fileobj=timed, mode="rb") as lines:
                while True:
                    line = lines.readline(MAX_EXPORT_LINE + 1)
                    if not line:
                        break
                    if len(line) > MAX_EXPORT_LINE:
                        raise StoreError(f"{what}: a line of the file is over 1 MB.")
                    if not line.strip():
                        continue
                    try:
                        user = json.loads(line)
                    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
                        raise StoreError(f"{what}: a line of the file is not JSON.") from exc
                    remote = self._remote_user(user)
                    if remote is not None:
                        batch.append(remote)
                    if len(batch) >= self.page_size:
                        yield batch
                        batch = []
            if batch:
                yield batch
        except (EOFError, OSError, zlib.error) as exc:
            raise StoreError(f"{what}: the file is truncated or not gzip.") from exc
        except (urllib3.exceptions.HTTPError, requests.RequestException) as exc:
            raise StoreError(f"{what}: the download broke off ({exc.__class__.__name__}).") from exc
        finally:
            response.close()

    def push(self, subject, data, *, base=None):
        patch = {key: value for key, value in merge_patch(base or {}, data).items()}
        for key, value in list(patch.items()):
            if value is not None:
                patch[key] = data[key]
        if not patch:
            return self.fetch(subject)
        return self._call("PATCH", subject, "Saving Auth0 user metadata", json={self.field: patch})


class _TimedReader:
    """The download's socket read by what has arrived (`read1`), refused past a deadline.

    Each socket read has the HTTP timeout, but a server that sends a little at a time never trips
    it; checking the deadline before every read bounds the whole file (a plain `read(n)` would wait
    for all n bytes first).
    """

    def __init__(self, raw, seconds, what):
        self.raw = raw
        self.seconds = seconds
        self.what = what
        self.deadline = time.monotonic() + seconds

    def read(self, size=-1):
        if time.monotonic() > self.deadline:
            raise StoreError(f"{self.what}: the file took longer than {self.seconds:g} s.")
        return self.raw.read1(size if size and size > 0 else 64 * 1024, decode_content=False)


def is_canonical_domain(domain):
    """True for a tenant's own Auth0 domain (TENANT.auth0.com or TENANT.REGION.auth0.com).

    The Management API's identifier (the token audience) is always
    `https://TENANT.auth0.com/api/v2/`, so it can be derived from such a domain but not from a
    custom domain such as login.example.com.
    """
    host = urlsplit(domain if "//" in domain else f"//{domain}").hostname or ""
    return host.endswith(".auth0.com")


def _updated_ms(value):
    """Auth0's `updated_at` (ISO 8601) as epoch milliseconds, the mirror's version number."""
    if not isinstance(value, str):
        return None
    from datetime import datetime

    try:
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None
