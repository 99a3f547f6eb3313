import json
import time

from django.core.management.base import BaseCommand, CommandError
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone
from django.utils.translation import gettext as _
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

from kehu.core.commands import acting_user
from kehu.core.errors import NotFound
from kehu.core.models import Job
from kehu.core.selectors import job_get, job_list

POLL_SECONDS = 1.0


class Command(BaseCommand):
    help = "List long jobs (imports, duplicate scans, scoring runs …) with their progress, or watch one."

    def add_arguments(self, parser):
        parser.add_argument("--watch", type=int, metavar="ID", help="follow this job until it ends")
        parser.add_argument("--status", choices=[code for code, _label in Job.STATUSES])
        parser.add_argument("--limit", type=int, default=20)
        parser.add_argument("--as", dest="as_user", help="see the jobs this user sees (default: first superuser)")
        parser.add_argument("--json", action="store_true", help="print JSON instead of a table")

    def handle(self, *args, watch, status, limit, as_user, json: bool = False, **options):
        user = acting_user(as_user, option="--as")
        if not 1 <= limit <= 200:
            raise CommandError(_("--limit must be between 1 and 200"))
        console = Console(file=self.stdout._out, highlight=False)
        if watch is not None:
            return self._watch(console, user, watch, json)
        _count, rows = job_list(user=user, status=status, limit=limit)
        if json:
            self.stdout.write(_dumps(rows))
            return
        table = Table(title=_("Background jobs"))
        for header in (_("ID"), _("Job"), _("Status"), _("Progress"), _("Started"), _("By")):
            table.add_column(header)
        for row in rows:
            table.add_row(str(row["id"]), f"{row['kind_label']} · {row['label']}", row["status_label"],
                          _progress_text(row),
                          timezone.localtime(row["started_at"]).strftime("%Y-%m-%d %H:%M")
                          if row["started_at"] else "",
                          row["created_by"] or _("system"))
        console.print(table)

    def _watch(self, console, user, job_id, as_json):
        try:
            row = job_get(user=user, job_id=job_id)
        except NotFound as exc:
            raise CommandError(_("No job #%(id)s that you may see.") % {"id": job_id}) from exc
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TaskProgressColumn(), TimeRemainingColumn())
        with Progress(*columns, console=console, transient=False, disable=as_json) as progress:
            task = progress.add_task(f"{row['kind_label']} #{job_id}", total=row["total"] or None)
            while True:
                progress.update(task, completed=row["done"], total=row["total"] or None,
                                description=f"{row['kind_label']} #{job_id}: {row['status_label']}")
                if row["status"] in Job.FINISHED:
                    break
                time.sleep(POLL_SECONDS)
                row = job_get(user=user, job_id=job_id)
        if as_json:
            self.stdout.write(_dumps(row))
        elif row["error"]:
            self.stdout.write(row["error"])
        if row["status"] != Job.DONE:
            raise SystemExit(1)


def _progress_text(row: dict) -> str:
    if not row["total"]:
        return "100%" if row["status"] == Job.DONE else ""
    text = f"{row['done']:,}/{row['total']:,} ({row['percent']}%)"
    if row["status"] == Job.RUNNING and row["rate"]:
        text += " · " + _("%(rate)s/s") % {"rate": f"{row['rate']:,.0f}"}
    return text


def _dumps(value) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False)
