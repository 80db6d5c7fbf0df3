"""``python -m devidp kickstart``: migrate, then load kickstart/kickstart.json once (idempotent)."""

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

    def handle(self, *args, **options):
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
