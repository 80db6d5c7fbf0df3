"""Log filters: the request id on every record, and secrets kept out of request lines."""

import logging
import re

from ops import requestid


class RequestIdFilter(logging.Filter):
    """Adds ``record.request_id`` (the current request's id, "-" outside a request)."""

    def filter(self, record):
        if not hasattr(record, "request_id"):
            record.request_id = requestid.current()
        return True


class RedactQueryFilter(logging.Filter):
    """Replaces the values of the named query parameters in a record's message.

    The development server logs every failed request line in full; for a failed sign-in callback
    that line holds the authorization code and state, which must not reach a log.
    """

    def __init__(self, names=("code", "state")):
        super().__init__()
        alternatives = "|".join(re.escape(name) for name in names)
        self._pattern = re.compile(rf"([?&;](?:{alternatives})=)[^&;#\s\"']*", re.IGNORECASE)

    def filter(self, record):
        message = record.getMessage()
        redacted = self._pattern.sub(r"\1[redacted]", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True
