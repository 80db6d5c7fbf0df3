"""What can go wrong, once: every message is safe to show and never contains a token."""


class ProviderError(Exception):
    """The provider could not be reached or answered nonsense."""


class RequestRefused(ProviderError):
    """The provider answered, and refused the request with an OAuth error (e.g. a pushed
    authorization request naming a resource it does not know: ``invalid_target``)."""

    def __init__(self, message, *, error):
        super().__init__(message)
        self.error = error


class InvalidToken(Exception):
    """A JWT failed verification."""


class TokenError(Exception):
    """An OAuth error (RFC 6749 §5.2, RFC 6750 §3.1): an error code, a description and a status.

    Raised when the provider's token endpoint refuses a grant (``status`` is then the provider's
    answer), and when a request to one of our APIs cannot be authenticated or authorised
    (``status`` is what we answer).
    """

    status = 401
    error = "invalid_token"

    def __init__(self, description, *, error=None, status=None):
        super().__init__(description)
        self.description = description
        if error is not None:
            self.error = error
        if status is not None:
            self.status = status


class SessionExpired(Exception):
    """The signed-in session can no longer get an access token; the user must sign in again."""

    temporary = False


class RefreshUnavailable(SessionExpired):
    """Refresh failed for a passing reason (provider down, timeout): the local session is kept."""

    temporary = True


class UpstreamTokenRefused(Exception):
    """The provider will not mint a token for an upstream's resource, audience or scope
    (``invalid_target``, ``invalid_scope``): its configuration, not the session, is at fault."""

    def __init__(self, upstream, error):
        super().__init__(
            f"The identity provider issues no token for the API {upstream!r} ({error})."
        )
        self.upstream, self.error = upstream, error


class UpstreamNotGranted(Exception):
    """An upstream's resource is not among those the session's sign-in asked for (the upstream
    was configured since): only a new sign-in, whose grant covers it, can get its token."""

    def __init__(self, upstream):
        super().__init__(f"The session's grant does not cover the API {upstream!r}.")
        self.upstream = upstream
