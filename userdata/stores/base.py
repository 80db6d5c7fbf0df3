"""The interface every IdP store implements, and the errors and value it speaks in."""

import hashlib
import json
import math
from dataclasses import dataclass, field

MAX_DEPTH = 32
"""Deepest nesting of objects and lists kept in a user's data. Real per-application data is a few
levels deep; far deeper values overflow Python's recursion (and PostgreSQL's) when saved."""

VERSION_MAX = 2**63 - 1
"""Versions are stored in a signed 64-bit column; anything outside it is not a real version."""


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
    """Raise StoreError when `data` holds what a database cannot keep: text with NUL or lone
    surrogates, NaN or infinity, or nesting deeper than MAX_DEPTH.

    PostgreSQL's jsonb refuses the first three and deep nesting overflows the JSON encoder; catching
    them here turns an IdP's odd value into a recorded sync error for that one user (or a 400 for a
    webhook) instead of a failed request. Iterative, so hostile depth cannot overflow this check.
    """
    stack = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth >= MAX_DEPTH:
                raise StoreError(
                    f"The IdP's data is nested more than {MAX_DEPTH} levels deep.",
                    retryable=False,
                )
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str):
                    stack.append((key, depth))
                stack.append((item, depth + 1))
        elif isinstance(value, float) and not math.isfinite(value):
            raise StoreError(
                "The IdP's data holds a number JSON cannot carry (NaN or infinity).",
                retryable=False,
            )
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


def content_version(data):
    """A version for data whose provider gives none: derived from a SHA-256 of canonical JSON.

    Without it two unversioned copies compare `None == None`, so a remote change made while a local
    edit waited would count as "unchanged" and the conflict would be hidden. The value is negative
    (provider versions are epoch milliseconds or counters, never negative) so that the engine can
    tell it carries no order: equal data gives an equal version, different data a different one.
    """
    canonical = json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    digest = hashlib.sha256(canonical.encode()).digest()
    return -(int.from_bytes(digest[:8], "big") >> 1) - 1


def is_ordered(version):
    """True when `version` came from the provider and may be compared with < and >."""
    return isinstance(version, int) and not isinstance(version, bool) and version >= 0


def is_older(version, than):
    """True only when both versions are the provider's and `version` comes before `than`.

    Content-derived versions (see `content_version`) carry no order, so nothing is "older" then.
    """
    return is_ordered(version) and is_ordered(than) and version < than


@dataclass
class RemoteData:
    """One user's data as the IdP holds it.

    `version` is the provider's increasing number (FusionAuth's `lastUpdateInstant`, Auth0's
    `updated_at` in epoch ms); when the provider gives none it is derived from the data with
    `content_version`, so a change is always a change of version.
    """

    subject: str
    data: dict = field(default_factory=dict)
    version: int | None = None
    email: str = ""

    def __post_init__(self):
        check_storable(self.data)
        if self.version is None:
            self.version = content_version(self.data)
        elif (
            not isinstance(self.version, int)
            or isinstance(self.version, bool)
            or not 0 <= self.version <= VERSION_MAX
        ):
            raise StoreError("The IdP's version number is not a 64-bit count.", retryable=False)


class UserDataStore:
    """Reads and writes one user's per-application data at the IdP.

    Subclasses implement `fetch` and `push`; `fetch_many` and `iter_all` have one-call-per-user
    fallbacks that stores with a bulk API override.
    """

    name = "base"
    has_remote = True

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
