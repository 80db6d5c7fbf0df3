"""Sessions kept in the database and read through the cache, that survive the cache going down.

Django's ``cached_db`` store already falls back to the database when reading the cache fails, but
it then writes the session back to the cache without catching the failure (and deletes the same
way), so while Redis is down every signed-in request is a 500. Here a cache outage costs only the
speed-up: each request reads its session from the database, and the cache is filled again once it
answers.
"""

import logging

from django.contrib.sessions.backends.cached_db import SessionStore as CachedDBStore

logger = logging.getLogger(__name__)


class SessionStore(CachedDBStore):
    def load(self):
        try:
            data = self._cache.get(self.cache_key)
        except Exception:  # noqa: BLE001 - any cache failure: the database has the session
            logger.warning("sessions: the cache is unavailable; reading the database")
            data = None
        if data is not None:
            return data
        stored = self._get_session_from_db()
        if not stored:
            return {}
        data = self.decode(stored.session_data)
        try:
            self._cache.set(self.cache_key, data, self.get_expiry_age(expiry=stored.expire_date))
        except Exception:  # noqa: BLE001 - the next request reads the database again
            logger.warning("sessions: could not refill the cache")
        return data

    def exists(self, session_key):
        """Asked for every new session key (sign-in, key cycling): the database knows as well."""
        try:
            if session_key and (self.cache_key_prefix + session_key) in self._cache:
                return True
        except Exception:  # noqa: BLE001
            logger.warning("sessions: the cache is unavailable; reading the database")
        return super(CachedDBStore, self).exists(session_key)

    def delete(self, session_key=None):
        """Delete from the database always. A cached copy that cannot be deleted now could outlive
        the outage if the cache kept its data; a provider sign-in is refused all the same, because
        its index row (oauthbff) is ended, and the failure is logged as an error."""
        key = session_key if session_key is not None else self.session_key
        super(CachedDBStore, self).delete(session_key)
        if key is None:
            return
        try:
            self._cache.delete(self.cache_key_prefix + key)
        except Exception:  # noqa: BLE001
            logger.error("sessions: could not delete an ended session from the cache")
