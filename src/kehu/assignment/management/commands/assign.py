"""`kehu assign rules` lists the assignment rules; `kehu assign apply ID [ID ...] [--rule R]
[--dry-run]` assigns customers (as the system) and prints each decision as a JSON line."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from kehu.assignment.models import AssignmentRule
from kehu.assignment.services import assignment_apply, assignment_preview
from kehu.core.actor import Actor
from kehu.core.errors import DomainError


class Command(BaseCommand):
    help = ("Lead assignment. `rules` lists the rules in priority order; `apply ID [ID ...] "
            "[--rule R] [--dry-run]` assigns customers and prints one JSON decision per line "
            "(docs/assignment.md).")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("rules", help="list the assignment rules")
        apply = sub.add_parser("apply", help="assign customers by the rules")
        apply.add_argument("ids", nargs="+", type=int, metavar="ID")
        apply.add_argument("--rule", type=int, default=None, help="this rule only")
        apply.add_argument("--dry-run", action="store_true", help="decide, write nothing")

    def handle(self, *args, **options):
        if options["action"] == "rules":
            for rule in AssignmentRule.objects.select_related("team", "fixed_user"):
                self.stdout.write(json.dumps({
                    "id": rule.pk, "priority": rule.priority, "name": rule.name,
                    "method": rule.method, "team": rule.team.name if rule.team_id else None,
                    "fixed_user": rule.fixed_user.get_username() if rule.fixed_user_id else None,
                    "capacity": rule.capacity, "is_active": rule.is_active},
                    ensure_ascii=False))
            return
        run = assignment_preview if options["dry_run"] else assignment_apply
        try:
            decisions = run(actor=Actor.system(via="cli"), customer_ids=options["ids"],
                            rule_id=options["rule"])
        except DomainError as exc:
            details = exc.details if isinstance(exc.details, dict) else {}
            reasons = [f"{path}: {message}" for path, messages in details.items()
                       if isinstance(messages, list) for message in messages]
            raise CommandError(" ".join([str(exc.message), *reasons])) from None
        for decision in decisions:
            self.stdout.write(json.dumps(decision.as_dict(), ensure_ascii=False))
