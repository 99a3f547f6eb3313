"""`kehu segment count --definition FILE.json [--user USERNAME]` prints `{"count": N}`;
`kehu segment refresh [ID ...]` recomputes saved segments (all dynamic ones by default)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from kehu.core.actor import Actor
from kehu.core.commands import acting_user, read_json_source
from kehu.core.errors import DomainError
from kehu.segments.models import Segment
from kehu.segments.selectors import segment_queryset
from kehu.segments.services import segment_refresh, segments_refresh_due


class Command(BaseCommand):
    # `call_command(..., stdin=…)` may hand the definition in; a shell run reads sys.stdin.
    stealth_options = ("stdin",)
    help = ("Segments. `count --definition FILE.json [--user USERNAME]` prints {\"count\": N} "
            "for a definition as that user sees customers (default: the first active "
            "superuser, who sees every record); `refresh [ID ...]` recomputes saved segments.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        count = sub.add_parser("count", help="count the customers matching a definition")
        count.add_argument("--definition", required=True, metavar="FILE.json",
                           help="the definition (JSON); - reads standard input")
        count.add_argument("--user", default=None, metavar="USERNAME",
                           help="count as this user (record scope); default: first superuser")
        refresh = sub.add_parser("refresh", help="recompute saved segments")
        refresh.add_argument("ids", nargs="*", type=int, metavar="ID")

    def handle(self, *args, **options):
        try:
            if options["action"] == "count":
                self._count(options)
            else:
                self._refresh(options["ids"])
        except DomainError as exc:
            details = exc.details if isinstance(exc.details, dict) else {}
            reasons = [f"{path}: {message}" for path, messages in details.items()
                       if isinstance(messages, list) for message in messages]
            raise CommandError(" ".join([str(exc.message), *reasons])) from None

    def _count(self, options):
        definition = read_json_source(options["definition"], options.get("stdin"))
        user = acting_user(options["user"], option="--user")
        count = segment_queryset(user=user, definition=definition).count()
        self.stdout.write(json.dumps({"count": count}))

    def _refresh(self, ids):
        actor = Actor.system(via="cli")
        if not ids:
            result = segments_refresh_due(actor=actor)
            self.stdout.write(json.dumps(result))
            return
        for pk in ids:
            segment = Segment.objects.filter(pk=pk).first()
            if segment is None:
                raise CommandError(_("No segment %d.") % pk)
            segment = segment_refresh(actor=actor, segment=segment)
            self.stdout.write(json.dumps({"id": segment.pk, "size": segment.size}))

