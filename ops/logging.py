"""Log filters: the request id on every record, and secrets kept out of request lines."""

import logging
import re

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

from ops import requestid


class RequestIdFilter(logging.Filter):
    """Adds ``record.request_id``: the id of the record's request ("-" outside a request).

    Django logs a request's 4xx/5xx line after the middleware has returned, so the request the
    record carries is asked first, the context variable second.
    """

    def filter(self, record):
        if not hasattr(record, "request_id"):
            request = getattr(record, "request", None)
            record.request_id = getattr(request, "request_id", None) or requestid.current()
        return True


class JsonFormatter(_JsonFormatter):
    """python-json-logger's formatter, with a record's Django request as its method and path.

    The request object itself is left out: its repr holds the query string, which for a failed
    sign-in callback is the authorization code.
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("reserved_attrs", [*RESERVED_ATTRS, "request", "server_time"])
        super().__init__(*args, **kwargs)

    def add_fields(self, log_record, record, message_dict):
        super().add_fields(log_record, record, message_dict)
        request = getattr(record, "request", None)
        if hasattr(request, "path") and hasattr(request, "method"):
            log_record["method"] = request.method
            log_record["path"] = request.path


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
