"""`kehu quality score|remind|snapshot`: the data-quality jobs on demand."""

from __future__ import annotations

import json
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation
from django.utils.translation import gettext as _

from kehu.core.actor import Actor
from kehu.core.errors import DomainError
from kehu.quality import services


class Command(BaseCommand):
    help = ("Data quality. `kehu quality score [--changed] [--json]` recomputes the stored "
            "quality scores (all live customers, or only those changed since their score); "
            "`kehu quality remind [--days N] [--json]` creates a follow-up for the owner of "
            "each customer without an interaction for N days (default: the setting, 180) "
            "unless one is open; `kehu quality snapshot` records today's trend figures.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        score = sub.add_parser("score", help="recompute quality scores")
        score.add_argument("--changed", action="store_true",
                           help="only customers changed since their last score")
        score.add_argument("--json", action="store_true", help="print the result as JSON")
        remind = sub.add_parser("remind", help="remind owners of customers without contact")
        remind.add_argument("--days", type=int, default=None,
                            help="days without an interaction (default: the setting)")
        remind.add_argument("--json", action="store_true", help="print the result as JSON")
        snapshot = sub.add_parser("snapshot", help="record today's quality figures")
        snapshot.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args, **options):
        actor = Actor.system(via="cli")
        with translation.override(settings.LANGUAGE_CODE):
            try:
                if options["action"] == "score":
                    self._score(actor, options)
                elif options["action"] == "remind":
                    result = services.quality_remind(actor=actor, days=options["days"])
                    data = {"days": result.days, "created": result.created,
                            "already_open": result.already_open}
                    self._out(options, data, _("%(created)d reminders created for customers "
                                               "without contact for %(days)d days; "
                                               "%(already_open)d already had an open "
                                               "follow-up.") % data)
                else:
                    snap = services.quality_snapshot_take(actor=actor)
                    data = {"day": snap.day.isoformat(), "customers": snap.customers,
                            "average_score": snap.average_score,
                            "invalid_customers": snap.invalid_customers,
                            "stale_customers": snap.stale_customers,
                            "pending_duplicates": snap.pending_duplicates}
                    self._out(options, data, _("Snapshot for %(day)s: %(customers)d customers, "
                                               "average score %(average_score)s.") % data)
            except DomainError as exc:
                raise CommandError(f"{exc.message} {exc.details or ''}".strip()) from None

    def _score(self, actor, options):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        console = Console(file=sys.stderr)
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      console=console, disable=options["json"] or not console.is_terminal
                      ) as bar:
            task = bar.add_task(_("Scoring"), total=None)
            result = services.quality_recompute(
                actor=actor, only_dirty=options["changed"],
                progress=lambda done, total: bar.update(task, completed=done, total=total))
        data = {"customers": result.customers, "removed": result.removed,
                "seconds": result.seconds,
                "per_second": round(result.customers / result.seconds) if result.seconds else None}
        self._out(options, data, _("Scored %(customers)d customers in %(seconds)s s.") % data)

    def _out(self, options, data, text):
        if options["json"]:
            self.stdout.write(json.dumps(data, ensure_ascii=False))
        else:
            self.stdout.write(text)
