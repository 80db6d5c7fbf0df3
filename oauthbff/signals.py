"""What oauthbff announces; other apps (userdata) listen without oauthbff importing them."""

from django.dispatch import Signal

# sender, request, user, claims (ID token), access_claims (verified access token or {}), expires_at
user_signed_in = Signal()
# sender, request, user, expires_at
tokens_refreshed = Signal()
# sender, user, session_key, reason ("logout", "backchannel", "refresh_failed", "revoked", ...)
session_ended = Signal()
