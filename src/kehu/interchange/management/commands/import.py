"""`kehu import FILE`: import customers, orders, interactions or events from an
xlsx/xls/csv/tsv file, in-process, resumable.

    kehu import FILE [--kind customers|orders|interactions|events|deals|payments] [--sheet NAME]
                     [--map COL=field …] [--dry-run] [--skip-invalid-fields]
                     [--report PATH.xlsx|.csv] [--json] [--as USERNAME] [--resume JOB_ID]
                     [--create-products] [--on-name-conflict review|reject|update]

Exit 0 when the import ran (even with rejected rows), 1 with a message when it could not.
With --json the last line of stdout is {"rows", "created", "updated", "unchanged",
"rejected", "report"}.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from kehu.core.actor import Actor
from kehu.core.commands import acting_user
from kehu.core.errors import DomainError
from kehu.interchange.models import ImportJob
from kehu.interchange.report import report_format
from kehu.interchange.services import KINDS, import_job_create, import_job_run


class Command(BaseCommand):
    help = ("Import customers, orders, interactions or events from an xlsx, xls, csv or tsv "
            "file (any encoding), finding customers by mobile, email, ID number or external "
            "id. Example: kehu import 客户.xlsx --map 联系电话=mobile --report errors.xlsx; "
            "kehu import 订单.xlsx --kind orders --sheet 订单明细 --create-products")

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE", nargs="?", help="the file to import")
        parser.add_argument("--kind", choices=KINDS, default="customers",
                            help="what each row is: a customer, an order line, an interaction "
                                 "or an event (default: customers)")
        parser.add_argument("--create-products", action="store_true",
                            help="orders: add products with unknown SKUs to the catalogue "
                                 "instead of rejecting their rows")
        parser.add_argument("--on-name-conflict", choices=("review", "reject", "update"),
                            default="review",
                            help="customers: a row that matches a customer by mobile, email, "
                                 "ID number or external id but names someone else (not a "
                                 "variant of the name): review = keep the customer's name, "
                                 "report the row, create it as its own customer and queue the "
                                 "pair for duplicate review (default); reject = reject the "
                                 "row; update = write the row over that customer")
        parser.add_argument("--sheet", default=None, metavar="NAME", help="workbook sheet")
        parser.add_argument("--map", action="append", default=[], metavar="COL=field",
                            help="map a column to a field (COL= ignores it); repeat for more")
        parser.add_argument("--dry-run", action="store_true",
                            help="validate everything, write nothing")
        parser.add_argument("--skip-invalid-fields", action="store_true",
                            help="import rows without their invalid fields instead of "
                                 "rejecting them")
        parser.add_argument("--report", default=None, metavar="PATH",
                            help="write the row/column/value/reason report (.xlsx or .csv)")
        parser.add_argument("--json", action="store_true",
                            help="end with one JSON line of counts")
        parser.add_argument("--as", dest="username", default=None, metavar="USERNAME",
                            help="act as this user (default: the first superuser)")
        parser.add_argument("--resume", type=int, default=None, metavar="JOB_ID",
                            help="resume an interrupted import job")

    def handle(self, *args, **options):
        user = acting_user(options["username"], option=None)
        actor = Actor(user=user, via="cli")
        if options["resume"] is not None:
            job = ImportJob.objects.filter(pk=options["resume"]).first()
            if job is None:
                raise CommandError(_("There is no import job %d.") % options["resume"])
        else:
            job = self._create(actor, options)
        if not options["json"]:
            self.stderr.write(_("Import job %(id)d: %(file)s") % {
                "id": job.pk, "file": job.original_filename})
        try:
            job = _run_with_progress(job, actor, quiet=options["json"])
        except DomainError as exc:
            raise CommandError(str(exc.message)) from None
        if job.status == ImportJob.FAILED:
            raise CommandError(_("Import job %(id)d failed: %(error)s")
                               % {"id": job.pk, "error": job.error_message})
        if job.status == ImportJob.CANCELLED:
            raise CommandError(_("Import job %d was cancelled.") % job.pk)
        summary = {"rows": job.rows_done, "created": job.created, "updated": job.updated,
                   "unchanged": job.unchanged, "rejected": job.rejected,
                   "report": job.report_path or None}
        if options["json"]:
            self.stdout.write(json.dumps(summary, ensure_ascii=False))
            return
        verb = _("Checked (dry run)") if job.options.get("dry_run") else _("Imported")
        self.stdout.write(self.style.SUCCESS(
            _("%(verb)s %(rows)d rows: %(created)d created, %(updated)d updated, "
              "%(unchanged)d unchanged, %(rejected)d rejected.")
            % {"verb": verb, **summary}))
        self.stdout.write(_("Report: %s") % job.report_path)

    def _create(self, actor: Actor, options) -> ImportJob:
        path = options["file"]
        if not path:
            raise CommandError(_("Name the file to import (or --resume JOB_ID)."))
        report = options["report"]
        try:
            if report:
                report_format(report)
                report = str(Path(report).resolve())
            return import_job_create(
                actor=actor, file=path, filename=Path(path).name, sheet=options["sheet"],
                overrides=options["map"], kind=options["kind"],
                options={"dry_run": options["dry_run"], "report": report,
                         "skip_invalid_fields": options["skip_invalid_fields"],
                         "create_products": options["create_products"],
                         "on_name_conflict": options["on_name_conflict"]})
        except DomainError as exc:
            raise CommandError(str(exc.message)) from None


def progress_line(done: int, total: int, rate: float | None) -> str:
    """"1,200 of 5,000 rows · 850 rows/s · about 4 s left" for logs and pipes."""
    total = max(total, done)
    parts = [_("%(done)s of %(total)s rows") % {"done": f"{done:,}", "total": f"{total:,}"}]
    if rate:
        parts.append(_("%d rows/s") % rate)
        if total > done:
            parts.append(_("about %d s left") % ((total - done) / rate))
    return " · ".join(parts)


def _run_with_progress(job: ImportJob, actor: Actor, *, quiet: bool = False) -> ImportJob:
    """Run the job in this process with a progress bar (rows, rate, time left) on stderr; when
    stderr is not a terminal, one progress line per chunk instead (none with --json)."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    console = Console(file=sys.stderr)
    columns = (TextColumn("[progress.description]{task.description}"), BarColumn(),
               MofNCompleteColumn(), TextColumn("{task.fields[rate]}"), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False,
                  disable=not console.is_terminal) as bar:
        task = bar.add_task(_("Importing"), total=job.total_rows or None,
                            completed=job.rows_done, rate="")

        started, first_done = time.monotonic(), job.rows_done

        def progress(current: ImportJob) -> None:
            if not console.is_terminal:
                if not quiet:
                    elapsed = time.monotonic() - started  # the rate of this run alone
                    rate = (current.rows_done - first_done) / elapsed if elapsed > 0 else None
                    print(progress_line(current.rows_done, current.total_rows, rate),
                          file=sys.stderr, flush=True)
                return
            speed = bar.tasks[0].speed
            rate = _("%d rows/s") % speed if speed else ""
            bar.update(task, completed=current.rows_done,
                       total=max(current.total_rows, current.rows_done), rate=rate)

        return import_job_run(job_id=job.pk, actor=actor, progress=progress)

