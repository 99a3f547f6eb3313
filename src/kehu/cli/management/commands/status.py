import json

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from kehu.core.health import readiness


class Command(BaseCommand):
    help = "Is kehu ready: database, queue, background worker (exit 1 when not)."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print the checks as JSON")

    def handle(self, *args, json: bool = False, **options):
        result = readiness()
        if json:
            self.stdout.write(_dumps({"ok": result.ok, "checks": result.checks}))
        else:
            for line in _lines(result.checks):
                self.stdout.write(line)
        if not result.ok:
            raise SystemExit(1)


def _dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _lines(checks: dict) -> list[str]:
    ok, bad = _("ok"), _("NOT READY")
    database, queue, worker = checks["database"], checks["queue"], checks["worker"]
    lines = [f"{_('database')}: {ok if database['ok'] else bad} "
             f"({database.get('vendor') or database.get('error')})"]
    if queue["ok"]:
        lines.append(f"{_('queue')}: {ok} ({_('%(n)s tasks waiting') % {'n': queue['pending']}})")
    else:
        lines.append(f"{_('queue')}: {bad} ({queue.get('error')})")
    age = worker.get("last_beat_seconds_ago")
    if age is None:
        hint = _("never seen; start `kehu serve` or `kehu worker`")
        lines.append(f"{_('background worker')}: {bad} ({hint})")
    else:
        state = ok if worker["ok"] else bad
        seen = _("last heartbeat %(s)s s ago, pid %(pid)s on %(host)s") % {
            "s": age, "pid": worker.get("pid"), "host": worker.get("host")}
        lines.append(f"{_('background worker')}: {state} ({seen})")
    return lines
