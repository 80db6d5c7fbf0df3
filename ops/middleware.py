"""Middleware of the operations app."""

from ops import requestid


class RequestIdMiddleware:
    """Give each request an id (the proxy's X-Request-ID or a new one), in the logs and the answer."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        value = requestid.from_header(request.headers.get(requestid.HEADER))
        request.request_id = value
        token = requestid.request_id.set(value)
        try:
            response = self.get_response(request)
        finally:
            requestid.request_id.reset(token)
        response[requestid.HEADER] = value
        return response
