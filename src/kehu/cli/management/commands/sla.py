import json

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn

from kehu.service.services.sla import sla_check, sla_recompute


class Command(BaseCommand):
    help = ("Service-desk SLA clocks: `kehu sla recompute` rebuilds every ticket's clocks from "
            "its status history (after editing policies or calendars outside kehu); "
            "`kehu sla check` emits the warnings and breaches that came due (the worker runs "
            "it every minute).")

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["recompute", "check"])
        parser.add_argument("--json", action="store_true", help="print JSON")

    def handle(self, *args, action, json: bool = False, **options):
        if action == "check":
            counts = sla_check()
            self._out(counts, json, _("%(warnings)d warnings and %(breaches)d breaches emitted.")
                      % counts)
            return
        console = Console(file=self.stdout._out, highlight=False)
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TaskProgressColumn())
        with Progress(*columns, console=console, transient=True, disable=json) as progress:
            task = progress.add_task(_("SLA clocks"), total=None)
            try:
                count = sla_recompute(progress=lambda done, total: progress.update(
                    task, completed=done, total=total))
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
        self._out({"tickets": count}, json, _("SLA clocks computed for %d tickets.") % count)

    def _out(self, data, as_json, text):
        self.stdout.write(_dumps(data) if as_json else text)


def _dumps(data) -> str:
    return json.dumps(data, ensure_ascii=False)
