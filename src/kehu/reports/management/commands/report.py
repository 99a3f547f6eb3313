"""`kehu report run --spec FILE.json [--format table|json|csv] [--user USERNAME]` runs a report
spec (docs/reports.md) as that user sees the records and prints its rows and total."""

from __future__ import annotations

import csv
import json

from django.core.management.base import BaseCommand, CommandError

from kehu.core.commands import acting_user, read_json_source
from kehu.core.errors import DomainError
from kehu.core.spreadsheet import safe_cell
from kehu.reports.query import run_report
from kehu.reports.render import sheet_rows
from kehu.reports.templatetags.reports import report_value


class Command(BaseCommand):
    stealth_options = ("stdin",)
    help = ("Reports. `run --spec FILE.json [--format table|json|csv] [--user USERNAME]` runs a "
            "report spec as that user (default: the first active superuser) and prints it.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        run = sub.add_parser("run", help="run a report spec")
        run.add_argument("--spec", required=True, metavar="FILE.json",
                         help="the spec (JSON); - reads standard input")
        run.add_argument("--format", choices=("table", "json", "csv"), default="table")
        run.add_argument("--user", default=None, metavar="USERNAME",
                         help="run as this user (record scope, masking); default: superuser")

    def handle(self, *args, **options):
        spec = read_json_source(options["spec"], options.get("stdin"))
        user = acting_user(options["user"], option="--user")
        try:
            result = run_report(spec, user=user)
        except DomainError as exc:
            details = exc.details if isinstance(exc.details, dict) else {}
            reasons = [f"{path}: {message}" for path, messages in details.items()
                       if isinstance(messages, list) for message in messages]
            raise CommandError(" ".join([str(exc.message), *reasons])) from None
        if options["format"] == "json":
            self.stdout.write(json.dumps(result.as_json(), ensure_ascii=False, default=str))
            return
        header, rows = sheet_rows(result)
        if options["format"] == "csv":
            writer = csv.writer(self.stdout)
            writer.writerow([safe_cell(h) for h in header])
            for row in rows:
                writer.writerow(["" if v is None else safe_cell(v) for v in row])
            return
        shown = [header] + [[report_value(v) if not isinstance(v, str) else v for v in row]
                            for row in rows]
        widths = [max(_width(str(row[i])) for row in shown) for i in range(len(header))]
        for row in shown:
            self.stdout.write("  ".join(str(v) + " " * (widths[i] - _width(str(v)))
                                        for i, v in enumerate(row)).rstrip())


def _width(text: str) -> int:
    """Columns a text takes in a terminal (CJK characters take two)."""
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)
