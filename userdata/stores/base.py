"""The interface every IdP store implements, and the errors and value it speaks in."""

from dataclasses import dataclass, field


class StoreError(Exception):
    """The IdP could not be reached or refused the call; the message is safe to show staff.

    `retry_after` is the IdP's 429 Retry-After in seconds, when it sent one: the push task waits
    at least that long before it tries again.
    """

    def __init__(self, message, *, status=None, retryable=True, retry_after=None):
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after


class NotRegistered(StoreError):
    """The user is unknown to the IdP or not registered for this application."""

    def __init__(self, message="The user is not registered for this application at the IdP."):
        super().__init__(message, status=404, retryable=False)


def check_storable(data):
    """Raise StoreError when `data` holds text a database cannot keep (NUL, lone surrogates).

    PostgreSQL's jsonb refuses both; catching them here turns an IdP's odd value into a recorded
    sync error for that one user instead of a failed request.
    """
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                bad = True
            else:
                bad = "\x00" in value
            if bad:
                raise StoreError(
                    "The IdP's data holds text that cannot be stored (NUL or invalid Unicode).",
                    retryable=False,
                )


@dataclass
class RemoteData:
    """One user's data as the IdP holds it. `version` is an opaque, increasing number or None."""

    subject: str
    data: dict = field(default_factory=dict)
    version: int | None = None
    email: str = ""

    def __post_init__(self):
        check_storable(self.data)


class UserDataStore:
    """Reads and writes one user's per-application data at the IdP.

    Subclasses implement `fetch` and `push`; `fetch_many` and `iter_all` have one-call-per-user
    fallbacks that stores with a bulk API override.
    """

    name = "base"
    has_remote = True
    supports_bulk = False

    @classmethod
    def from_settings(cls, conf):
        return cls()

    def fetch(self, subject):
        """The user's RemoteData; raise NotRegistered or StoreError."""
        raise NotImplementedError

    def push(self, subject, data, *, base=None):
        """Make the IdP's data equal `data` (idempotent) and return the resulting RemoteData.

        `base` is the data the IdP held at the last sync, for stores that send a diff.
        """
        raise NotImplementedError

    def fetch_many(self, subjects):
        """RemoteData for each known subject (unknown ones are left out)."""
        found = {}
        for subject in subjects:
            try:
                found[subject] = self.fetch(subject)
            except NotRegistered:
                continue
        return found

    def iter_all(self):
        """Yield pages (lists of RemoteData) of every registered user; memory stays one page."""
        raise StoreError("This store cannot list users.", retryable=False)

    def close(self):
        """Release pooled connections."""


def merge_patch(base, target):
    """The RFC 7396 merge patch that turns `base` into `target` (null deletes a key)."""
    if not isinstance(base, dict) or not isinstance(target, dict):
        return target
    patch = {}
    for key in base:
        if key not in target:
            patch[key] = None
    for key, value in target.items():
        old = base.get(key, _MISSING)
        if old is _MISSING:
            patch[key] = value
        elif isinstance(old, dict) and isinstance(value, dict):
            sub = merge_patch(old, value)
            if sub:
                patch[key] = sub
        elif old != value or type(old) is not type(value):
            patch[key] = value
    return patch


_MISSING = object()
