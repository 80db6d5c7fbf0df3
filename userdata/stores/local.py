"""No remote store: the mirror is the only copy (for IdPs without per-application data)."""

from .base import NotRegistered, RemoteData, UserDataStore


class LocalStore(UserDataStore):
    """Every push succeeds at once and nothing is ever pulled, so edits never wait."""

    name = "local"
    has_remote = False

    def fetch(self, subject):
        raise NotRegistered("There is no remote store; the local copy is the only one.")

    def push(self, subject, data, *, base=None):
        return RemoteData(subject=subject, data=dict(data), version=None)

    def fetch_many(self, subjects):
        return {}

    def iter_all(self):
        return iter(())
