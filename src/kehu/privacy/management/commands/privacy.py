"""`kehu privacy …`: the data-subject tools of PIPL on the command line.

    kehu privacy export CUSTOMER_ID OUT.zip            # the access / portability archive
    kehu privacy erase CUSTOMER_ID --reason TEXT [--yes]  # anonymise, leaving no copy
    kehu privacy retention [--dry-run]                 # apply the retention policies
"""

from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from kehu.core.actor import Actor
from kehu.core.errors import DomainError


def _describe(exc: DomainError) -> str:
    details = exc.details if isinstance(exc.details, dict) else {}
    reasons = [f"{k}: {m}" for k, v in details.items() if isinstance(v, list) for m in v]
    return " ".join([str(exc.message), *reasons])


class Command(BaseCommand):
    help = ("Privacy (PIPL): `privacy export CUSTOMER_ID OUT.zip` writes everything kehu holds "
            "about a person; `privacy erase CUSTOMER_ID --reason TEXT` anonymises them and "
            "removes every copy; `privacy retention [--dry-run]` applies the retention "
            "policies.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        export = sub.add_parser("export", help="write the access archive (JSON + XLSX) to a zip")
        export.add_argument("customer_id", type=int, metavar="CUSTOMER_ID")
        export.add_argument("out", metavar="OUT.zip")
        erase = sub.add_parser("erase", help="erase a customer (anonymise; keep aggregates)")
        erase.add_argument("customer_id", type=int, metavar="CUSTOMER_ID")
        erase.add_argument("--reason", required=True, help="why (kept in the audit log)")
        erase.add_argument("--yes", action="store_true", help="do not ask for confirmation")
        retention = sub.add_parser("retention", help="apply the retention policies")
        retention.add_argument("--dry-run", action="store_true",
                               help="only say what would be deleted")
        retention.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args, action, **options):
        actor = Actor(via="cli")
        try:
            if action == "export":
                self._export(actor, options)
            elif action == "erase":
                self._erase(actor, options)
            else:
                self._retention(actor, options)
        except DomainError as exc:
            raise CommandError(_describe(exc)) from None

    def _export(self, actor, options):
        from kehu.privacy.archive import customer_archive_write

        counts = customer_archive_write(actor=actor, customer_id=options["customer_id"],
                                        out=options["out"])
        self.stdout.write(self.style.SUCCESS(
            _("Archive of customer #%(id)s written to %(path)s (%(rows)d rows in %(tables)d "
              "tables).") % {"id": options["customer_id"], "path": options["out"],
                             "rows": sum(counts.values()), "tables": len(counts)}))

    def _erase(self, actor, options):
        from kehu.privacy.erasure import customer_erase

        customer_id = options["customer_id"]
        if not options["yes"]:
            if not sys.stdin.isatty():
                raise CommandError(_("Erasure cannot be undone: give --yes to confirm."))
            answer = input(_("Erase customer #%s? This cannot be undone. Type yes: ")
                           % customer_id)
            if answer.strip().lower() not in ("yes", "y", "是"):
                raise CommandError(_("Not erased."))
        erasure = customer_erase(actor=actor, customer_id=customer_id, reason=options["reason"])
        rows = sum(v for v in erasure.counts.values() if isinstance(v, int))
        self.stdout.write(self.style.SUCCESS(
            _("Customer #%(id)s erased (%(rows)d rows anonymised or removed).")
            % {"id": customer_id, "rows": rows}))

    def _retention(self, actor, options):
        from kehu.privacy.retention import retention_run

        result = retention_run(actor=actor, dry_run=options["dry_run"])
        if options["json"]:
            self.stdout.write(json.dumps({"dry_run": options["dry_run"], "classes": result},
                                         ensure_ascii=False))
            return
        for data_class, item in result.items():
            verb = (_("would delete") if options["dry_run"] else _("deleted")) \
                if item["action"] == "delete" else _("to review")
            self.stdout.write(f"{data_class}: {verb} {item['count']} "
                              f"({_('older than %d days') % item['days']})")
