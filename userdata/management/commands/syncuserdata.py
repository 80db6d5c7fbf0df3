"""`manage.py syncuserdata pull|push|status`: bulk sync of the user-data mirror with the IdP."""

import json as jsonlib
import sys
import time

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count, Q

from userdata import sync
from userdata.models import UserData
from userdata.webhooks import prune_processed


class Progress:
    """A one-line progress bar on a terminal; silent when output is piped."""

    def __init__(self, stream, label, total=None):
        self.stream = stream
        self.label = label
        self.total = total
        self.enabled = hasattr(stream, "isatty") and stream.isatty()
        self.last = 0.0

    def __call__(self, done):
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.last < 0.1 and done != self.total:
            return
        self.last = now
        if self.total:
            width = 30
            filled = int(width * min(done, self.total) / self.total)
            bar = "#" * filled + "-" * (width - filled)
            self.stream.write(f"\r{self.label} [{bar}] {done}/{self.total}")
        else:
            self.stream.write(f"\r{self.label} {done}")
        self.stream.flush()

    def finish(self):
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


class Command(BaseCommand):
    help = "Pull user data from the IdP, push local edits to it, or show the mirror's sync status."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["pull", "push", "status"])
        parser.add_argument("--user", help="one user, by e-mail or IdP subject (default: all)")
        parser.add_argument(
            "--dry-run", action="store_true", help="report without changing anything"
        )
        parser.add_argument(
            "--workers", type=int, default=None, help="concurrent pushes (default 8)"
        )
        parser.add_argument(
            "--one-cpu",
            action="store_true",
            help="push: run the workers on one CPU (faster unless that CPU is busy; Linux)",
        )
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(
        self,
        *args,
        action,
        user=None,
        dry_run=False,
        workers=None,
        json=False,
        one_cpu=False,
        **options,
    ):
        if workers is not None and not 1 <= workers <= 128:
            raise CommandError("--workers must be between 1 and 128.")
        rows = None
        if user:
            rows = UserData.objects.filter(
                Q(subject=user) | Q(email__iexact=user) | Q(user__email__iexact=user)
            )
            if not rows.exists():
                raise CommandError(
                    f"No user data for {user!r} (try `pull` first or check the spelling)."
                )
        if action == "status":
            return self._status(rows, as_json=json)
        progress = None if json else Progress(self.stderr._out, action)
        if action == "pull":
            summary = self._pull(rows, dry_run, progress)
        else:
            if progress is not None:
                base = rows if rows is not None else UserData.objects.all()
                progress.total = base.filter(pending=True, conflict_at__isnull=True).count()
            summary = sync.push_all(
                workers=workers,
                queryset=rows,
                dry_run=dry_run,
                progress=progress,
                one_cpu=one_cpu,
            )
        if progress is not None:
            progress.finish()
        self._print(summary, as_json=json)
        if summary.errors:
            sys.exit(1)

    def _pull(self, rows, dry_run, progress):
        if rows is None:
            if not dry_run:
                prune_processed()
            return sync.pull_all(dry_run=dry_run, progress=progress)
        started = time.perf_counter()
        summary = sync.Summary("pull", dry_run=dry_run)
        for row in rows:
            summary.total += 1
            if dry_run:
                continue
            outcome = sync.pull(row)
            if outcome == "changed":
                summary.changed += 1
            elif outcome == "conflict":
                summary.conflicts += 1
            elif outcome == "error":
                summary.errors += 1
                row.refresh_from_db()
                summary.messages.append(row.last_error)
        summary.seconds = time.perf_counter() - started
        return summary

    def _status(self, rows, *, as_json):
        rows = rows if rows is not None else UserData.objects.all()
        counts = rows.aggregate(
            total=Count("pk"),
            pending=Count("pk", filter=Q(pending=True)),
            conflicts=Count("pk", filter=Q(conflict_at__isnull=False)),
            errors=Count("pk", filter=~Q(last_error="")),
            not_registered=Count("pk", filter=Q(registered=False)),
        )
        if as_json:
            self.stdout.write(jsonlib.dumps(counts))
        else:
            self.stdout.write(
                "users {total}, waiting to push {pending}, conflicts {conflicts}, errors {errors}, "
                "not registered {not_registered}".format(**counts)
            )

    def _print(self, summary, *, as_json):
        if as_json:
            self.stdout.write(jsonlib.dumps(summary.as_dict()))
            return
        self.stdout.write(summary.line())
        for message in summary.messages[:10]:
            self.stderr.write(f"  {message}")
