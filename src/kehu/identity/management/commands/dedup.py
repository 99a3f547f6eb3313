"""`kehu dedup scan`: find duplicate customers and fill the review queue.

    kehu dedup scan [--threshold P] [--filter KEY=VALUE …] [--as USERNAME] [--json]

Acts as USERNAME (default: the first superuser; with none, as the system over every live
customer). With KEHU_DEDUP_AUTO_MERGE set, the surest groups are merged at once (each
undoable on the merge history page). --json ends with one line
{"scan", "customers", "pairs", "candidates_new", "auto_merged", "held_for_review",
"seconds"}.
"""

from __future__ import annotations

import json
import time

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from kehu.core.actor import Actor
from kehu.core.commands import acting_user
from kehu.core.errors import DomainError
from kehu.identity.scan import DEFAULT_THRESHOLD, dedup_scan_create, dedup_scan_run


class Command(BaseCommand):
    help = "Scan customers for duplicates and queue them for review (kehu dedup scan)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        scan = sub.add_parser("scan", help="scan every visible customer (or a filtered set)")
        scan.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                          help="smallest match probability to propose (default 0.9)")
        scan.add_argument("--filter", action="append", default=[], metavar="KEY=VALUE",
                          help="a customer-list filter such as region=华东 or tag=VIP; repeat")
        scan.add_argument("--as", dest="username", default=None, metavar="USERNAME")
        scan.add_argument("--json", action="store_true", help="end with one JSON line")

    def handle(self, *args, **options):
        user = acting_user(options["username"], option=None)
        actor = Actor(user=user, via="cli")
        filters = {}
        for item in options["filter"]:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise CommandError(_("Write a filter as KEY=VALUE, for example region=华东."))
            filters[key.strip()] = value.strip()
        started = time.monotonic()
        quiet = options["json"]

        def progress(scan):
            if not quiet:
                self.stderr.write(f"{scan.stage}: {scan.done}/{scan.total}")

        try:
            scan = dedup_scan_create(actor=actor, threshold=options["threshold"],
                                     filters=filters)
            scan = dedup_scan_run(actor=actor, scan_id=scan.pk, progress=progress)
        except DomainError as exc:
            details = exc.details if isinstance(exc.details, dict) else {}
            text = "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in details.items()
                             if isinstance(v, list))
            raise CommandError(text or str(exc.message)) from None
        summary = {"scan": scan.pk, "customers": scan.total, "pairs": scan.pairs,
                   "candidates_new": scan.candidates_new, "auto_merged": scan.auto_merged,
                   "held_for_review": scan.held_for_review,
                   "seconds": round(time.monotonic() - started, 2)}
        if quiet:
            self.stdout.write(json.dumps(summary, ensure_ascii=False))
            return
        self.stdout.write(self.style.SUCCESS(
            _("Scanned %(customers)d customers: %(pairs)d likely pairs, %(candidates_new)d new "
              "groups to review, %(auto_merged)d merged automatically (%(seconds)s s).")
            % summary))
        if scan.held_for_review:
            self.stdout.write(_("%(held_for_review)d sure groups were kept for review: their "
                                "records disagree on a field the reviewer decides.") % summary)

