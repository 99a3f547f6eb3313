from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from kehu.cli.setup import initialise, login_file


class Command(BaseCommand):
    help = "Create or migrate the database and create the first admin if there is none (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--admin", default="admin", help="username of the first admin")

    def handle(self, *args, admin, **options):
        result = initialise(admin_username=admin, verbosity=max(options["verbosity"] - 1, 0))
        if result.modes_fixed:
            self.stdout.write(_("Made %d files and folders in the data directory readable by "
                                "their owner only.") % result.modes_fixed)
        if result.admin_password:
            self.stdout.write(self.style.SUCCESS(_("Created the first admin.")))
            self.stdout.write(f"  username: {result.admin_username}")
            self.stdout.write(f"  password: {result.admin_password}")
            self.stdout.write(_("  (also saved, readable only by you, in %s)") % login_file())
        else:
            self.stdout.write(_("Database is up to date; admin “%s” already exists.")
                              % result.admin_username)
