import json

from django.core.management.base import BaseCommand
from django.db.models import Count
from django.utils.translation import gettext as _

from kehu.core.health import readiness
from kehu.core.jobs import job_kind
from kehu.core.models import Job
from kehu.core.selectors import subscriber_lag


class Command(BaseCommand):
    help = "Is kehu ready: database, queue, background worker (exit 1 when not)."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print the checks as JSON")

    def handle(self, *args, json: bool = False, **options):
        result = readiness()
        lag = [{"name": s.name, "behind": s.behind, "retrying": s.retrying, "held": s.held,
                "dead": s.dead} for s in subscriber_lag()]
        running = {kind: n for kind, n in Job.objects.filter(status=Job.RUNNING)
                   .values_list("kind").annotate(n=Count("id")).order_by()}
        if json:
            self.stdout.write(_dumps({"ok": result.ok, "checks": result.checks,
                                      "subscribers": lag, "running_jobs": running}))
        else:
            for line in _lines(result.checks):
                self.stdout.write(line)
            for row in lag:
                self.stdout.write(_("subscriber %(name)s: %(behind)s events behind, %(retrying)s retrying, "
                                    "%(dead)s dead letters") % row)
            for kind, n in sorted(running.items()):
                label = job_kind(kind).label if job_kind(kind) else kind
                self.stdout.write(_("running jobs (%(kind)s): %(n)s") % {"kind": label, "n": n})
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
