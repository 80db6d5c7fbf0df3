"""Who a user is at the provider, and the index of their signed-in sessions with its token set."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.crypto import salted_hmac

SESSION_KEY_SALT = "oauthbff.models.OIDCSession.session_key_hash"


def session_key_hash(session_key):
    """The index's keyed hash (HMAC-SHA256 with SECRET_KEY) of a Django session key.

    The index never holds a usable session key: a prefix lookup on the hash (the admin's
    ``?field__startswith=``) or a copy of the table recovers nothing a browser could send.
    """
    return salted_hmac(SESSION_KEY_SALT, session_key, algorithm="sha256").hexdigest()


class OIDCIdentity(models.Model):
    """A user's identity at the provider: (issuer, subject), never the e-mail address."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="oidc_identity"
    )
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    last_login_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "OpenID identity"
        verbose_name_plural = "OpenID identities"
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="oauthbff_unique_identity")
        ]

    def __str__(self):
        return f"{self.subject} @ {self.issuer}"


class OIDCSessionQuerySet(models.QuerySet):
    def active(self):
        return self.filter(ended_at__isnull=True)

    def for_session_key(self, session_key):
        """The row(s) of one Django session: every lookup by session key goes through here."""
        return self.filter(session_key_hash=session_key_hash(session_key or ""))


class OIDCSession(models.Model):
    """One signed-in browser session: its Django session key, the provider's sids and its tokens.

    The token set lives here (encrypted), not in the session dict, so a request that loaded the session
    before a refresh cannot write stale tokens back when Django saves the session at its end.
    """

    # The Django session: a keyed hash to find the row by, and the key itself encrypted (like the
    # tokens) so that ending the session can delete it. Neither is shown or searchable in the admin.
    session_key_hash = models.CharField(max_length=64, unique=True, editable=False)
    sealed_session_key = models.TextField(blank=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="oidc_sessions"
    )
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255, db_index=True)
    sid = models.CharField("provider session id", max_length=255, blank=True, db_index=True)
    refresh_token_id = models.CharField(max_length=255, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(default=timezone.now)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=40, blank=True)

    # The token set, encrypted with Fernet (see oauthbff.crypto); ``version`` is bumped by every
    # refresh so writers can compare-and-set and waiters can see that a refresh happened.
    access_token = models.TextField(blank=True, editable=False)
    refresh_token = models.TextField(blank=True, editable=False)
    id_token = models.TextField(blank=True, editable=False)
    # The session's DPoP private key (RFC 9449; a JWK, encrypted like the tokens) when its tokens are
    # bound to one: without it they are useless, so it is kept and wiped with them.
    dpop_key = models.TextField(blank=True, editable=False)
    access_expires_at = models.DateTimeField(null=True, blank=True)
    # Seconds the current access token was issued for: the refresh leeway is at most half of it.
    access_lifetime = models.PositiveIntegerField(null=True, blank=True, editable=False)
    version = models.PositiveIntegerField(default=0)
    claims = models.JSONField(default=dict, blank=True)
    # The RFC 8707 resources the sign-in asked the grant to cover: an upstream's token is asked
    # for only a resource among them (a provider refuses the others, and may spend the refresh
    # token doing so).
    resources = models.JSONField(default=list, blank=True, editable=False)

    objects = OIDCSessionQuerySet.as_manager()

    class Meta:
        verbose_name = "signed-in session"
        ordering = ["-last_used_at"]
        indexes = [models.Index(fields=["issuer", "subject"], name="oauthbff_session_sub")]

    def __str__(self):
        return f"{self.user} since {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def is_active(self):
        return self.ended_at is None


class UpstreamToken(models.Model):
    """An access token minted for one upstream API (its resource, audience or scope), for one
    session: obtained with the session's refresh token, encrypted like the session's own tokens,
    and gone with the session. ``target`` is what it was minted for: a token for another target
    (the settings changed) is never sent."""

    session = models.ForeignKey(
        OIDCSession, on_delete=models.CASCADE, related_name="upstream_tokens"
    )
    upstream = models.CharField(max_length=100)
    target = models.TextField(editable=False)
    access_token = models.TextField(editable=False)
    expires_at = models.DateTimeField()
    # Seconds the token was issued for: it is renewed at most half of it before expiry.
    lifetime = models.PositiveIntegerField(editable=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "upstream access token"
        constraints = [
            models.UniqueConstraint(
                fields=["session", "upstream"], name="oauthbff_unique_upstream_token"
            )
        ]

    def __str__(self):
        return f"{self.upstream} token of session {self.session_id}"
