"""`kehu dashboards rebuild-summaries [--check]`: recompute the boards' daily summaries from
the rows (docs/dashboards.md, "Daily summaries"). The domain events keep them current; a
rebuild is for a new installation, a restore, or after rows were changed outside the services.
"""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = ("Dashboards: `dashboards rebuild-summaries` recomputes the daily summary tables from "
            "the customers, orders and interactions; with --check it only reports the tables "
            "that differ from a recomputation.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        rebuild = sub.add_parser("rebuild-summaries", help="recompute the daily summaries")
        rebuild.add_argument("--check", action="store_true",
                             help="compare with a recomputation, change nothing (exit 1 if "
                                  "they differ)")

    def handle(self, *args, action, **options):
        from kehu.dashboards.summaries import summaries_check, summaries_rebuild

        if options["check"]:
            differing = summaries_check()
            if differing:
                self.stdout.write("differ from a recomputation: " + ", ".join(differing))
                sys.exit(1)
            self.stdout.write("the summaries equal a recomputation")
            return
        counts = summaries_rebuild()
        self.stdout.write("rebuilt: " + ", ".join(f"{name} {n} rows"
                                                  for name, n in counts.items()))
