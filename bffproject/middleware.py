"""Project-level middleware."""

from bffproject.errors import method_not_allowed


class MethodNotAllowedPageMiddleware:
    """Give Django's empty 405 (``require_POST`` and friends) a page for people, JSON for scripts.

    A browser that opens /userdata/ or /auth/refresh/ otherwise sees a blank page. A 405 that
    already has a body (written by its view) is left alone.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code == 405
            and not getattr(response, "streaming", False)
            and not response.content
        ):
            return method_not_allowed(request, allowed=response.get("Allow", ""))
        return response
