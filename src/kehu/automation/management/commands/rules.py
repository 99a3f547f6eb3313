"""`kehu rules list | dry-run ID [--json] | tick`: automation rules from the command line
(docs/automation.md)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from kehu.core.commands import acting_user
from kehu.core.errors import NotFound


class Command(BaseCommand):
    help = ("Automation rules: `rules list` shows them, `rules dry-run ID` who a rule would "
            "fire for now, `rules tick` evaluates the time rules now (as the worker does every "
            "minute; running it twice changes nothing) and runs what is pending.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        listing = sub.add_parser("list", help="every rule with its status and last day's runs")
        listing.add_argument("--json", dest="as_json", action="store_true")
        listing.add_argument("--as", dest="as_user", help="act as this user (default: first "
                                                          "superuser)")
        dry = sub.add_parser("dry-run", help="who the rule would fire for now")
        dry.add_argument("rule_id", type=int, metavar="ID")
        dry.add_argument("--json", dest="as_json", action="store_true",
                         help='the sample as JSON lines; the last line is {"would_fire": N}')
        dry.add_argument("--as", dest="as_user", help="see the sample as this user")
        tick = sub.add_parser("tick", help="evaluate the time rules now")
        tick.add_argument("--json", dest="as_json", action="store_true")

    def handle(self, *args, action, **options):
        getattr(self, "_" + action.replace("-", "_"))(**options)

    def _list(self, *, as_json: bool, as_user, **_options):
        from kehu.automation import selectors, triggers

        user = acting_user(as_user, option="--as")
        rules = list(selectors.rule_list(user=user))
        stats = selectors.rule_stats(user=user, rules=rules)
        for rule in rules:
            row = {"id": rule.pk, "name": rule.name, "status": rule.status,
                   "paused_reason": rule.paused_reason, "version": rule.version,
                   "trigger": triggers.describe(rule.trigger),
                   "runs_24h": stats[rule.pk]["runs_24h"], "failed_24h": stats[rule.pk]["failed"]}
            if as_json:
                self.stdout.write(json.dumps(row, ensure_ascii=False))
                continue
            status = dict(rule.STATUSES).get(rule.status, rule.status)
            if rule.paused_reason == rule.PAUSED_BY_LIMIT:
                status = _("paused: limit reached")
            self.stdout.write(f"{rule.pk:>5}  {status}  v{rule.version}  {rule.name}  ·  "
                              f"{row['trigger']}  ·  " + _("%(n)d runs in 24 h, %(f)d failing")
                              % {"n": row["runs_24h"], "f": row["failed_24h"]})
        if not rules and not as_json:
            self.stdout.write(_("No rules yet."))

    def _dry_run(self, *, rule_id: int, as_json: bool, as_user, **_options):
        from kehu.automation import selectors

        user = acting_user(as_user, option="--as")
        try:
            rule = selectors.rule_get(user=user, rule_id=rule_id)
        except NotFound as exc:
            raise CommandError(_("No rule %d.") % rule_id) from exc
        result = selectors.rule_dry_run(user=user, rule=rule)
        for item in result.sample:
            if as_json:
                self.stdout.write(json.dumps({"id": item["id"], "name": item["name"],
                                              "why": item["why"]}, ensure_ascii=False,
                                             default=str))
            else:
                self.stdout.write(f"  #{item['id']} {item['name']}: " + "; ".join(item["why"]))
        if as_json:
            self.stdout.write(json.dumps({"would_fire": result.would_fire}))
        else:
            self.stdout.write(_("“%(name)s” would fire for %(n)d customers now.")
                              % {"name": rule.name, "n": result.would_fire})

    def _tick(self, *, as_json: bool, **_options):
        from kehu.automation.engine import tick

        stats = tick()
        if as_json:
            self.stdout.write(json.dumps(stats))
        else:
            self.stdout.write(_("%(rules)d time rules evaluated: %(entered)d customers entered, "
                                "%(left)d left, %(runs)d runs recorded, %(executed)d runs "
                                "carried out.") % stats)
