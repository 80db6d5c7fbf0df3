"""Auth0: `user_metadata` through the Management API, with a cached client-credentials token."""

import logging
import threading
import time
from urllib.parse import quote

from .base import NotRegistered, RemoteData, StoreError, UserDataStore, merge_patch
from .http import HttpClient, json_body, status_error

logger = logging.getLogger(__name__)


class Auth0Store(UserDataStore):
    """Auth0 merges metadata one level deep (a nested object sent replaces the stored one) and
    `null` deletes a key, so a push sends each changed top-level key whole and nulls removed ones."""

    name = "auth0"

    def __init__(
        self, *, domain, client_id, client_secret, audience="", field="user_metadata", **http
    ):
        if not domain or not client_id or not client_secret:
            raise StoreError("Auth0 store: DOMAIN, CLIENT_ID and CLIENT_SECRET are required.")
        domain = domain.rstrip("/")
        self.base_url = domain if domain.startswith("http") else f"https://{domain}"
        self.client_id = client_id
        self.client_secret = client_secret
        self.audience = audience or f"{self.base_url}/api/v2/"
        self.field = field
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

    def _call(self, method, subject, what, **kwargs):
        url = f"{self.base_url}/api/v2/users/{quote(subject, safe='')}"
        for renew in (False, True):
            headers = {"Authorization": f"Bearer {self._access_token(renew=renew)}"}
            response = self.http.request(method, url, headers=headers, what=what, **kwargs)
            if response.status_code != 401:
                break
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

    def iter_all(self):
        """Page through GET /api/v2/users (100 a page). Auth0 caps one query at 1,000 users; past
        that, a users-export job is needed, so the cap is reported rather than silently hit."""
        what = "Listing Auth0 users"
        for page in range(10):
            params = {
                "page": page,
                "per_page": 100,
                "include_totals": "true",
                "fields": f"user_id,email,updated_at,{self.field}",
                "include_fields": "true",
            }
            response = self.http.request(
                "GET",
                f"{self.base_url}/api/v2/users",
                params=params,
                headers={"Authorization": f"Bearer {self._access_token()}"},
                what=what,
            )
            if response.status_code != 200:
                raise status_error(response, what)
            body = json_body(response, what)
            users = body.get("users") or []
            batch = []
            for user in users:
                metadata = user.get(self.field) if isinstance(user, dict) else None
                if not isinstance(user, dict) or not user.get("user_id"):
                    continue
                try:
                    batch.append(
                        RemoteData(
                            subject=str(user["user_id"]),
                            data=metadata if isinstance(metadata, dict) else {},
                            version=_updated_ms(user.get("updated_at")),
                            email=str(user.get("email") or ""),
                        )
                    )
                except StoreError as exc:
                    logger.warning(
                        "userdata: skipped user %s in a bulk pull: %s", user["user_id"], exc
                    )
            if batch:
                yield batch
            total = body.get("total")
            if len(users) < 100 or (isinstance(total, int) and (page + 1) * 100 >= total):
                return
        raise StoreError(
            "Auth0 lists at most 1,000 users per query; use a users-export job for more.",
            retryable=False,
        )

    def push(self, subject, data, *, base=None):
        patch = {key: value for key, value in merge_patch(base or {}, data).items()}
        for key, value in list(patch.items()):
            if value is not None:
                patch[key] = data[key]
        if not patch:
            return self.fetch(subject)
        return self._call("PATCH", subject, "Saving Auth0 user metadata", json={self.field: patch})


def _updated_ms(value):
    """Auth0's `updated_at` (ISO 8601) as epoch milliseconds, the mirror's version number."""
    if not isinstance(value, str):
        return None
    from datetime import datetime

    try:
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None
