from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from kehu.core.backup import backup_restore, table_counts
from kehu.core.errors import ValidationFailed


class Command(BaseCommand):
    help = "Restore an archive made by `kehu backup` (stop `kehu serve` and `kehu worker` first)."

    def add_arguments(self, parser):
        parser.add_argument("archive", help="archive written by `kehu backup`")
        parser.add_argument("--force", action="store_true",
                            help="replace a database that already holds data")

    def handle(self, *args, archive, force, **options):
        path = Path(archive)
        if not path.is_file():
            raise CommandError(_("no such file: %(path)s") % {"path": path})
        try:
            manifest = backup_restore(path, force=force)
        except ValidationFailed as exc:
            raise CommandError(str(exc.message)) from exc
        restored = table_counts()
        differing = sorted(t for t, n in manifest["tables"].items() if restored.get(t) != n)
        if differing:
            raise CommandError(_("restored, but these tables differ from the backup: %(tables)s")
                               % {"tables": ", ".join(differing)})
        self.stdout.write(_("restored %(tables)s tables from %(path)s (made %(at)s); "
                            "run `kehu audit verify` to check the audit chain")
                          % {"tables": len(manifest["tables"]), "path": path, "at": manifest["created_at"]})
