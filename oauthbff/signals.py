"""What oauthbff announces; other apps (userdata) listen without oauthbff importing them.

Each is sent with ``sender=OIDCSession`` (the session index), where it happens.
"""

from django.dispatch import Signal

# request, user, claims (ID token), access_claims (verified access token or userinfo), expires_at
user_signed_in = Signal()
# request (or None), user, expires_at
tokens_refreshed = Signal()
# user, session_key, reason ("logout", "backchannel", "refresh_failed", "revoked", ...)
session_ended = Signal()
