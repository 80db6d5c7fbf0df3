"""Access-token lifetime, looked up per request (oauthlib accepts a callable ``expires_in``).

Kept free of model imports at module level because settings.py references it.
"""


def access_token_expires_in(request):
    """Seconds an access token lives for this client, from its tenant/application jwtConfiguration."""
    from devidp.config import access_token_ttl

    return access_token_ttl(request.client)
