"""End indexed sessions whose Django session is gone, and forget long-ended ones (run from cron)."""

from datetime import timedelta
from importlib import import_module

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from oauthbff.models import OIDCSession
from oauthbff.sessions import SESSION_KEY, django_session_key, end_session


class Command(BaseCommand):
    help = (
        "End session-index rows whose Django session expired or vanished, and delete rows that "
        "ended more than --keep-days days ago."
    )

    def add_arguments(self, parser):
        parser.add_argument("--keep-days", type=int, default=30)

    def handle(self, *args, keep_days, **options):
        store = import_module(settings.SESSION_ENGINE).SessionStore
        ended = 0
        for row in OIDCSession.objects.active().select_related("user").iterator():
            # load() is empty for a missing or expired session (and checks expiry, exists() not).
            key = django_session_key(row)
            if not key or store(session_key=key).load().get(SESSION_KEY) != row.pk:
                ended += end_session(row, "expired", delete_django_session=False)
        cutoff = timezone.now() - timedelta(days=keep_days)
        deleted, _ = OIDCSession.objects.filter(ended_at__lt=cutoff).delete()
        self.stdout.write(f"Ended {ended} expired session(s); deleted {deleted} old row(s).")
