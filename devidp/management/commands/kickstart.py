"""``python -m devidp kickstart``: migrate, then load kickstart/kickstart.json once (idempotent).

``--check`` only checks every request of the file against FusionAuth's rules (devidp.rules) and
exits non-zero when FusionAuth would refuse one: worth running before a real FusionAuth's first
start, since its kickstart stops at the first failed request and never runs again.
"""

import json

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from devidp import kickstart


class Command(BaseCommand):
    help = "Create the demo data from kickstart/kickstart.json (skipped when already done)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--file", help="Kickstart file (default: DEVIDP_KICKSTART or kickstart/kickstart.json)."
        )
        parser.add_argument("--quiet", action="store_true", help="Do not print the banner.")
        parser.add_argument(
            "--check",
            action="store_true",
            help="Check every request against FusionAuth's rules; change nothing.",
        )

    def handle(self, *args, **options):
        if options["check"]:
            return self.check_file(options["file"])
        call_command("migrate", interactive=False, verbosity=0)
        try:
            document = kickstart.read(options["file"])
            if kickstart.already_done():
                self.stdout.write("Kickstart already applied (the database is not empty).")
            else:
                kickstart.run(document, log=self.stdout.write)
                self.stdout.write(self.style.SUCCESS("Kickstart applied."))
            kickstart.apply_start_overrides(log=self.stdout.write, document=document)
        except kickstart.KickstartError as exc:
            raise CommandError(str(exc)) from None
        if not options["quiet"]:
            self.stdout.write(kickstart.banner(document))

    def check_file(self, path):
        try:
            results = kickstart.check(kickstart.read(path))
        except kickstart.KickstartError as exc:
            raise CommandError(str(exc)) from None
        refused = 0
        for number, method, url, problem in results:
            if problem is None:
                self.stdout.write(f"  request {number}: {method} {url} ok")
            elif isinstance(problem, str):
                self.stdout.write(f"  request {number}: {method} {url} {problem}")
            else:
                refused += 1
                detail = json.dumps(problem, sort_keys=True)
                self.stdout.write(f"  request {number}: {method} {url} REFUSED {detail}")
        if refused:
            raise CommandError(f"FusionAuth would refuse {refused} of {len(results)} requests.")
        self.stdout.write(self.style.SUCCESS(f"All {len(results)} requests pass."))
