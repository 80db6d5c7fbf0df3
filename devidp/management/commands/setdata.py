"""``python -m devidp setdata EMAIL JSON``: change registration.data from the IdP side.

The JSON object is merged into the user's registration data (``null`` deletes a key) and the
user.registration.update webhook is sent before the command exits.
"""

import json

from django.core.management.base import BaseCommand, CommandError

from devidp import services, webhooks


class Command(BaseCommand):
    help = "Merge a JSON object into a user's registration.data and fire the webhook."

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("data", help='A JSON object, e.g. \'{"userData": "hello"}\'.')
        parser.add_argument(
            "--application", help="Application id (default: the first registration)."
        )

    def handle(self, *args, **options):
        try:
            data = json.loads(options["data"])
        except ValueError:
            raise CommandError("DATA must be a JSON object.") from None
        if not isinstance(data, dict):
            raise CommandError("DATA must be a JSON object.")
        try:
            result = services.set_registration_data(options["email"], data, options["application"])
        except services.ApiError as exc:
            messages = [
                error["message"]
                for errors in (exc.body or {}).get("fieldErrors", {}).values()
                for error in errors
            ]
            raise CommandError(" ".join(messages) or "Not found.") from None
        if not webhooks.wait_for_deliveries(timeout=30):
            self.stderr.write("Some webhook deliveries were still running after 30 seconds.")
        self.stdout.write(json.dumps(result["registration"]["data"], indent=2))
