"""FusionAuth: `registration.data` through the Registration and User Search APIs."""

import logging
from urllib.parse import quote

from .base import NotRegistered, RemoteData, StoreError, UserDataStore, merge_patch
from .http import HttpClient, json_body, status_error

IDS_PER_SEARCH = 1000

logger = logging.getLogger(__name__)


class FusionAuthStore(UserDataStore):
    """Reads with GET registration / POST user search, writes with an RFC 7396 merge-patch of
    `registration.data` (arrays replaced, removed keys nulled), which is idempotent and keeps the
    registration's roles and other fields."""

    name = "fusionauth"

    def __init__(self, *, api_url, api_key, application_id, tenant_id="", page_size=500, **http):
        if not api_url or not api_key or not application_id:
            raise StoreError("FusionAuth store: API_URL, API_KEY and APPLICATION_ID are required.")
        self.api_url = api_url.rstrip("/")
        self.application_id = application_id
        self.page_size = page_size
        headers = {"Authorization": api_key, "Accept": "application/json"}
        if tenant_id:
            headers["X-FusionAuth-TenantId"] = tenant_id
        self.http = HttpClient(base_url=self.api_url, headers=headers, **http)

    @classmethod
    def from_settings(cls, conf):
        fa = conf.get("FUSIONAUTH") or {}
        return cls(
            api_url=fa.get("API_URL", ""),
            api_key=fa.get("API_KEY", ""),
            application_id=fa.get("APPLICATION_ID", ""),
            tenant_id=fa.get("TENANT_ID", ""),
            page_size=conf["SEARCH_PAGE_SIZE"],
            timeout=conf["HTTP_TIMEOUT"],
            connect_timeout=conf["CONNECT_TIMEOUT"],
            retries=conf["RETRIES"],
            pool_size=conf["POOL_SIZE"],
            retry_after_max=conf["RETRY_AFTER_MAX"],
        )

    def _registration_url(self, subject):
        return (
            f"{self.api_url}/api/user/registration/{quote(subject, safe='')}/{self.application_id}"
        )

    def _registration(self, body, subject, what):
        registration = body.get("registration")
        if not isinstance(registration, dict):
            raise StoreError(f"{what}: the IdP sent no registration.")
        data = registration.get("data") or {}
        if not isinstance(data, dict):
            raise StoreError(f"{what}: registration.data is not an object.")
        return RemoteData(subject=subject, data=data, version=_instant(registration))

    def fetch(self, subject):
        what = "Reading the registration"
        response = self.http.request("GET", self._registration_url(subject), what=what)
        if response.status_code == 404:
            raise NotRegistered()
        if response.status_code != 200:
            raise status_error(response, what)
        return self._registration(json_body(response, what), subject, what)

    def push(self, subject, data, *, base=None):
        what = "Saving the registration data"
        patch = merge_patch(base or {}, data) if base is not None else dict(data)
        response = self.http.request(
            "PATCH",
            self._registration_url(subject),
            json={"registration": {"data": patch}},
            headers={"Content-Type": "application/merge-patch+json"},
            idempotent=True,
            what=what,
        )
        if response.status_code == 404:
            raise NotRegistered()
        if response.status_code != 200:
            raise status_error(response, what)
        return self._registration(json_body(response, what), subject, what)

    def fetch_many(self, subjects):
        found = {}
        subjects = list(subjects)
        for start in range(0, len(subjects), IDS_PER_SEARCH):
            chunk = subjects[start : start + IDS_PER_SEARCH]
            body = self._search({"ids": chunk, "numberOfResults": len(chunk)})
            for remote in self._remote_users(body):
                found[remote.subject] = remote
        return found

    def iter_all(self):
        """Page through every user: `nextResults` when the IdP offers it (Elasticsearch, which cannot
        page past 10,000 by offset), offset paging otherwise (the database engine has no such cap)."""
        criteria = {"queryString": "*", "numberOfResults": self.page_size, "startRow": 0}
        while True:
            body = self._search(criteria)
            users = body.get("users") or []
            page = list(self._remote_users(body))
            if page:
                yield page
            if not users:
                return
            token = body.get("nextResults")
            if token:
                criteria = {"nextResults": token, "numberOfResults": self.page_size}
                continue
            if "nextResults" in criteria:
                return
            start = criteria["startRow"] + len(users)
            total = body.get("total")
            if len(users) < self.page_size or (isinstance(total, int) and start >= total):
                return
            criteria = dict(criteria, startRow=start)

    def _search(self, criteria):
        what = "Searching users"
        response = self.http.request(
            "POST",
            f"{self.api_url}/api/user/search",
            json={"search": criteria, "expand": ["registrations"]},
            idempotent=True,
            what=what,
        )
        if response.status_code != 200:
            raise status_error(response, what)
        body = json_body(response, what)
        if not isinstance(body.get("users", []), list):
            raise StoreError(f"{what}: the IdP sent an unexpected body.")
        return body

    def _remote_users(self, body):
        for user in body.get("users") or []:
            if not isinstance(user, dict) or not user.get("id"):
                continue
            for registration in user.get("registrations") or []:
                if isinstance(registration, dict) and (
                    registration.get("applicationId") == self.application_id
                ):
                    data = registration.get("data") or {}
                    try:
                        yield RemoteData(
                            subject=str(user["id"]),
                            data=data if isinstance(data, dict) else {},
                            version=_instant(registration),
                            email=str(user.get("email") or ""),
                        )
                    except StoreError as exc:
                        logger.warning(
                            "userdata: skipped user %s in a bulk pull: %s", user["id"], exc
                        )
                    break

    def close(self):
        self.http.close()


def _instant(registration):
    value = registration.get("lastUpdateInstant")
    return value if isinstance(value, int) and not isinstance(value, bool) else None
