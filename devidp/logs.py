"""Keep tokens out of the request log: runserver logs full request lines, query strings included."""

import logging
import re

SECRET_PARAMS = re.compile(
    r"((?:id_token_hint|token|refresh_token|access_token|code|code_verifier|client_secret|"
    r"logout_token|password)=)[^&\s\"]+",
    re.IGNORECASE,
)


def redact(text):
    return SECRET_PARAMS.sub(r"\1[redacted]", text)


class RedactSecrets(logging.Filter):
    """Replace the values of token-bearing query parameters before a record is written."""

    def filter(self, record):
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True
