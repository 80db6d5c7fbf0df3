"""``python -m devidp <command>``: Django's command line, bound to the development IdP's settings."""

import os
import sys


def main(argv=None):
    """Run a Django management command against devidp.settings (never the BFF's settings)."""
    from devidp.safety import refuse_production

    refuse_production()
    os.environ["DJANGO_SETTINGS_MODULE"] = "devidp.settings"
    from django.core.management import execute_from_command_line

    execute_from_command_line(["python -m devidp", *(argv if argv is not None else sys.argv[1:])])


if __name__ == "__main__":
    main()
