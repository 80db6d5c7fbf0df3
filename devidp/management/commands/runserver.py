"""``python -m devidp runserver``: Django's runserver on FusionAuth's port, with the banner."""

from django.core.management.commands.runserver import Command as RunserverCommand
from django.core.servers.basehttp import WSGIServer
from django.db.utils import OperationalError

from devidp import kickstart


class DevIdpServer(WSGIServer):
    """A deeper listen backlog than Django's 10, so a burst of 100 sign-ins is queued, not reset."""

    request_queue_size = 256


class Command(RunserverCommand):
    default_addr = "127.0.0.1"
    default_port = "9011"
    server_cls = DevIdpServer

    def inner_run(self, *args, **options):
        try:
            kickstart.apply_start_overrides(log=self.stdout.write)
            self.stdout.write(kickstart.banner())
        except OperationalError:
            self.stderr.write("The database is not set up: run `python -m devidp kickstart` first.")
        except kickstart.KickstartError as exc:
            self.stderr.write(str(exc))
        super().inner_run(*args, **options)
