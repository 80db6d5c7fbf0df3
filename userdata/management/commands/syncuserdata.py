"""`manage.py syncuserdata pull|push|status`: bulk sync of the user-data mirror with the IdP.

A bulk run fans out as chunked Celery tasks (CHUNK_SIZE users each) so that every worker on every
machine shares it; the command waits and reports progress from the database. `--inline` runs the same
chunks in this process, for when no worker runs.
"""

import json as jsonlib
import sys
import time
from dataclasses import asdict

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count, Q
from django.utils import timezone

from userdata import pull, push, stores, tasks
from userdata.conf import userdata_settings
from userdata.history import Summary, requests_made
from userdata.models import UserData
from userdata.stores.base import StoreError
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
            "--dry-run",
            action="store_true",
            help="list whom it would touch, change nothing (runs inline)",
        )
        parser.add_argument(
            "--inline",
            action="store_true",
            help="run the chunks in this process instead of on Celery workers",
        )
        parser.add_argument(
            "--chunk", type=int, default=None, help="users per task (default USERDATA CHUNK_SIZE)"
        )
        parser.add_argument(
            "--wait",
            type=float,
            default=600.0,
            help="seconds to wait for the workers (0: queue the tasks and return)",
        )
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(
        self,
        *args,
        action,
        user=None,
        dry_run=False,
        inline=False,
        chunk=None,
        wait=600.0,
        json=False,
        **options,
    ):
        chunk = chunk or userdata_settings.CHUNK_SIZE
        if not 1 <= chunk <= 10_000:
            raise CommandError("--chunk must be between 1 and 10000.")
        rows = None
        if user:
            rows = UserData.objects.matching(user)
            if not rows.exists():
                raise CommandError(
                    f"No user data for {user!r} (try `pull` first or check the spelling)."
                )
        if action == "status":
            return self._status(rows, as_json=json)
        progress = None if json else Progress(self.stderr._out, action)
        inline = inline or dry_run
        if action == "pull" and rows is None:
            summary = self._pull_all(dry_run, inline, wait, progress)
        else:
            base = rows if rows is not None else UserData.objects.all()
            rows = base.pushable() if action == "push" else base.syncable()
            ids = list(rows.order_by("pk").values_list("pk", flat=True))
            if progress is not None:
                progress.total = len(ids)
            summary = self._fan_out(action, ids, chunk, dry_run, inline, wait, progress)
            if action == "push":
                summary.conflicts += base.pending().conflicted().count()
        if progress is not None:
            progress.finish()
        self._print(summary, as_json=json)
        if summary.errors:
            sys.exit(1)

    def _pull_all(self, dry_run, inline, wait, progress):
        """The IdP's listing is read here (a few paged requests); each page is folded in by a
        worker (`apply_pull_page`), or here with `--inline`."""
        if inline:
            if not dry_run:
                prune_processed()
            return pull.pull_all(dry_run=dry_run, progress=progress)
        prune_processed()
        started, before = timezone.now(), time.perf_counter()
        summary = Summary("pull")
        store = stores.get_store()
        requests = requests_made(store)
        try:
            for page in store.iter_all():
                tasks.apply_pull_page.delay([asdict(remote) for remote in page])
                summary.total += len(page)
                summary.tasks += 1
        except StoreError as exc:
            summary.errors += 1
            summary.note(str(exc))
        summary.requests = requests_made(store) - requests
        if wait and summary.total:
            pulled = UserData.objects.filter(pulled_at__gte=started)
            done = self._wait(pulled.count, summary.total, wait, progress)
            summary.changed = pulled.filter(changed_at__gte=started).count()
            summary.conflicts = pulled.filter(conflict_at__gte=started).count()
            if done < summary.total:
                summary.errors += summary.total - done
                summary.note(
                    f"{summary.total - done} user(s) not done after {wait:.0f} s: are workers "
                    "running? (celery -A bffproject worker, or --inline)"
                )
        summary.seconds = time.perf_counter() - before
        return summary

    def _fan_out(self, action, ids, size, dry_run, inline, wait, progress):
        """Run or queue one task per chunk of `ids`; the summary counts what the rows show."""
        run = push.push_chunk if action == "push" else pull.pull_chunk
        task = tasks.push_chunk if action == "push" else tasks.pull_chunk
        summary = Summary(action, dry_run=dry_run)
        chunks = list(tasks.chunks(ids, size))
        summary.tasks = len(chunks)
        started, before = timezone.now(), time.perf_counter()
        if inline:
            for part in chunks:
                summary.add(run(part, dry_run=dry_run))
                if progress:
                    progress(summary.total)
            summary.seconds = time.perf_counter() - before
            return summary
        for part in chunks:
            task.delay(part)
        if not wait:
            summary.total = len(ids)
            summary.messages.append(f"queued {len(chunks)} task(s); not waiting for them")
            return summary
        rows = UserData.objects.filter(pk__in=ids)
        stamp = "pushed_at" if action == "push" else "pulled_at"
        done = Q(**{f"{stamp}__gte": started}) | Q(last_error_at__gte=started)
        if action == "push":
            done |= Q(pending=False) | Q(conflict_at__isnull=False)
        self._wait(lambda: rows.filter(done).count(), len(ids), wait, progress)
        summary.total = len(ids)
        summary.changed = rows.filter(**{f"{stamp}__gte": started}).count()
        failed = rows.filter(last_error_at__gte=started)
        if action == "push":
            failed = failed.filter(pending=True)
        summary.errors = failed.count()
        summary.messages.extend(failed.values_list("last_error", flat=True)[:20])
        summary.conflicts = rows.conflicted().count() if action == "pull" else 0
        left = len(ids) - rows.filter(done).count()
        if left:
            summary.errors += left
            summary.messages.append(
                f"{left} user(s) not done after {wait:.0f} s: are workers running? "
                "(celery -A bffproject worker, or --inline)"
            )
        summary.seconds = time.perf_counter() - before
        return summary

    def _wait(self, count_done, total, seconds, progress):
        """Poll the database until `total` rows are done or `seconds` pass; return the count."""
        deadline = time.monotonic() + seconds
        while True:
            done = count_done()
            if progress:
                progress(done)
            if done >= total or time.monotonic() > deadline:
                return done
            time.sleep(0.2)

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
        if summary.dry_run:
            for who in summary.users:
                self.stdout.write(f"  would {summary.action}: {who}")
        for message in summary.messages[:10]:
            self.stderr.write(f"  {message}")
