"""`kehu score rfm [--full] [--json]`: score customer value now (incremental unless --full)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from kehu.core.actor import Actor
from kehu.core.errors import DomainError
from kehu.core.score_commands import score_commands
from kehu.scoring.services import rfm_score, rfm_score_counts


class Command(BaseCommand):
    help = ("Customer value scoring. `rfm` scores R, F, M, segments, tiers and lifecycle "
            "stages: incrementally (customers whose orders changed) unless --full; `clv` fits "
            "the customer-base model and scores P(alive) and CLV.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="what", required=True)
        rfm = sub.add_parser("rfm", help="score RFM value tiers")
        rfm.add_argument("--full", action="store_true", help="rescore every customer")
        rfm.add_argument("--json", action="store_true", help="print the figures as JSON")
        for command in score_commands():  # registered by other apps (`clv` …)
            command.add_arguments(sub.add_parser(command.name, help=command.help))

    def handle(self, *args, **options):
        registered = {command.name: command for command in score_commands()}
        if options["what"] in registered:
            registered[options["what"]].run(self, options)
            return
        quiet = options["json"]

        def progress(message: str) -> None:
            if not quiet:
                self.stderr.write(f"… {message}")

        try:
            run = rfm_score(actor=Actor.system(via="cli"), full=options["full"],
                            progress=progress)
        except DomainError as exc:
            raise CommandError(str(exc.message)) from None
        figures = {"run": run.pk, "mode": run.mode, **rfm_score_counts(run)}
        if quiet:
            self.stdout.write(json.dumps(figures))
            return
        self.stdout.write(_(
            "%(mode)s run: %(scored)d customers scored, %(recomputed)d recomputed, "
            "%(changed)d rows changed, %(segment_changes)d segment or tier changes, "
            "%(lifecycle_changes)d lifecycle changes in %(seconds).1f s") % {
            **figures, "mode": run.get_mode_display(), "seconds": run.duration_ms / 1000})
