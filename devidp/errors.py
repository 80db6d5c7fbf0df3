"""FusionAuth's error answers: a status, and for a 400 an Errors object (``fieldErrors`` and
``generalErrors``, see docs/apis/errors.mdx); 401 and 404 have empty bodies."""


class ApiError(Exception):
    """A FusionAuth API error: a status and an optional Errors body."""

    def __init__(self, status, body=None):
        super().__init__(status)
        self.status = status
        self.body = body


def field_error(field, code, message):
    return ApiError(
        400, {"fieldErrors": {field: [{"code": f"[{code}]{field}", "message": message}]}}
    )


def general_error(code, message):
    return ApiError(400, {"generalErrors": [{"code": code, "message": message}]})
