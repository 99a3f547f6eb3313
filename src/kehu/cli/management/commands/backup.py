from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from kehu.core.backup import backup_create
from kehu.core.errors import ValidationFailed


class Command(BaseCommand):
    help = "Back up the database, keys and uploads into one archive (mode 600; keep it as safe as the keys)."

    def add_arguments(self, parser):
        parser.add_argument("out", help="archive to write, e.g. kehu-2026-12-07.tar.gz")

    def handle(self, *args, out, **options):
        try:
            result = backup_create(Path(out))
        except ValidationFailed as exc:
            raise CommandError(str(exc.message)) from exc
        rows = sum(result.tables.values())
        head = result.audit_head or {}
        self.stdout.write(_("backup written to %(path)s: %(vendor)s, %(tables)s tables, %(rows)s rows, "
                            "audit head #%(seq)s") % {"path": result.path, "vendor": result.vendor,
                                                       "tables": len(result.tables), "rows": rows,
                                                       "seq": head.get("seq", 0)})
