"""The local mirror of each user's IdP per-application data, and its sync history."""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class SyncState(models.TextChoices):
    SYNCED = "synced", "Synced"
    PENDING = "pending", "Waiting to push"
    CONFLICT = "conflict", "Conflict"
    ERROR = "error", "Error"
    NOT_REGISTERED = "not_registered", "Not registered at the IdP"


class UserDataQuerySet(models.QuerySet):
    """The filters the sync engine, the sweeper, the command and the admin share."""

    def syncable(self):
        """Rows linked to an IdP registration."""
        return self.filter(registered=True, subject__isnull=False)

    def pending(self):
        """Rows with local edits waiting to be pushed."""
        return self.filter(pending=True)

    def conflicted(self):
        return self.filter(conflict_at__isnull=False)

    def pushable(self):
        """Pending rows a push may send now (a conflict waits for a decision)."""
        return self.syncable().pending().filter(conflict_at__isnull=True)

    def due(self, now=None):
        """Pushable rows whose back-off has passed and that no worker holds."""
        now = now or timezone.now()
        return (
            self.pushable()
            .filter(Q(next_push_at__isnull=True) | Q(next_push_at__lte=now))
            .filter(Q(push_lease_until__isnull=True) | Q(push_lease_until__lt=now))
        )

    def stale(self, seconds, now=None):
        """Synced rows not pulled for `seconds` (and with no sync error in that time)."""
        cutoff = (now or timezone.now()) - timedelta(seconds=seconds)
        return (
            self.syncable()
            .filter(pending=False)
            .filter(Q(pulled_at__isnull=True) | Q(pulled_at__lt=cutoff))
            .filter(Q(last_error_at__isnull=True) | Q(last_error_at__lt=cutoff))
        )

    def failed(self):
        return self.exclude(last_error="")

    def matching(self, who):
        """Rows of one user named by IdP subject or e-mail (the command's `--user`)."""
        return self.filter(Q(subject=who) | Q(email__iexact=who) | Q(user__email__iexact=who))


class ChangedFrom(models.TextChoices):
    LOCAL = "local", "this site"
    IDP = "idp", "the identity provider"


class UserData(models.Model):
    """One user's mirrored `registration.data`: read by pages, edited locally, synced both ways.

    `data` is what the user sees (local edits included); `remote_data`/`remote_version` are what the IdP
    held at the last pull or push, the base that conflicts and pushes are computed against.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="userdata",
    )
    issuer = models.CharField(max_length=255, blank=True)
    subject = models.CharField(max_length=255, null=True, blank=True, unique=True)
    email = models.EmailField(blank=True, db_index=True)
    registered = models.BooleanField(
        default=True, help_text="False once the IdP reports the registration or user deleted."
    )
    data = models.JSONField(default=dict, blank=True)
    remote_data = models.JSONField(default=dict, blank=True)
    remote_version = models.BigIntegerField(
        null=True, blank=True, help_text="The IdP's lastUpdateInstant (epoch ms) at the last sync."
    )
    pushed_data = models.JSONField(
        null=True, blank=True, help_text="What the last push sent, to recognise its webhook echo."
    )
    pending = models.BooleanField(
        default=False, db_index=True, help_text="Local edits are waiting to be pushed."
    )
    edit_seq = models.PositiveIntegerField(
        default=0,
        help_text="The version of `data`: bumped on every change of it (a local edit or the IdP's), "
        "so a save based on an older one is a conflict and a push only clears what it sent.",
    )
    changed_at = models.DateTimeField(null=True, blank=True, help_text="When `data` last changed.")
    changed_from = models.CharField(
        max_length=8,
        choices=ChangedFrom.choices,
        blank=True,
        help_text="Where `data` last changed.",
    )
    push_lease_until = models.DateTimeField(
        null=True,
        blank=True,
        help_text="A worker is pushing this row until then (the per-user guard).",
    )
    pulled_at = models.DateTimeField(null=True, blank=True)
    pushed_at = models.DateTimeField(null=True, blank=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    push_attempts = models.PositiveIntegerField(default=0)
    next_push_at = models.DateTimeField(
        null=True, blank=True, help_text="Back-off: no push on page loads before this time."
    )
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    conflict_remote_data = models.JSONField(null=True, blank=True)
    conflict_remote_version = models.BigIntegerField(null=True, blank=True)
    conflict_at = models.DateTimeField(null=True, blank=True, db_index=True)

    objects = UserDataQuerySet.as_manager()

    class Meta:
        verbose_name = "user data"
        verbose_name_plural = "user data"
        indexes = [models.Index(fields=["issuer", "subject"], name="userdata_iss_sub")]

    def __str__(self):
        return self.email or self.subject or f"user data #{self.pk}"

    @property
    def version(self):
        """The version of the text this row shows; pages and saves carry it."""
        return self.edit_seq

    @property
    def has_conflict(self):
        return self.conflict_at is not None

    @property
    def sync_state(self):
        if not self.registered:
            return SyncState.NOT_REGISTERED
        if self.has_conflict:
            return SyncState.CONFLICT
        if self.pending:
            return SyncState.PENDING
        if self.last_error:
            return SyncState.ERROR
        return SyncState.SYNCED

    @property
    def user_text(self):
        """The free-text field the home page edits (`data.userData`)."""
        value = (self.data or {}).get("userData", "")
        return value if isinstance(value, str) else ""

    @property
    def conflict_text(self):
        """The IdP's text that conflicts with the local edit ("" when none)."""
        value = (self.conflict_remote_data or {}).get("userData", "")
        return value if isinstance(value, str) else ""


class SyncEvent(models.Model):
    """A line of sync history per mirror row, for staff to read in the admin."""

    class Kind(models.TextChoices):
        PULL = "pull", "Pull"
        PUSH = "push", "Push"
        WEBHOOK = "webhook", "Webhook"
        CONFLICT = "conflict", "Conflict"
        RESOLVE = "resolve", "Conflict resolved"
        ERROR = "error", "Error"

    userdata = models.ForeignKey(UserData, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    remote_version = models.BigIntegerField(null=True, blank=True)
    message = models.CharField(max_length=500, blank=True)
    detail = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.message}"


class ProcessedWebhook(models.Model):
    """FusionAuth webhook event ids already applied, so a retried delivery is ignored."""

    event_id = models.CharField(max_length=64, unique=True)
    event_type = models.CharField(max_length=100)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self):
        return f"{self.event_type} {self.event_id}"
