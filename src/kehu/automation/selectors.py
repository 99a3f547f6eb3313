"""Reads of rules: the list, one rule, its run log and its dry run.

Rules are shared configuration (readable by whoever holds `rule.manage`); the customers they
show are not: a dry run counts every customer the rule would act on (that is what it would
do) but samples only customers in the reader's record scope, presented with the reader's
masking, and run logs name only customers the reader may see.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Max, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.automation import actions as action_catalogue
from kehu.automation import engine, triggers
from kehu.automation.models import Rule, RuleRun, RuleVersion
from kehu.core.errors import NotFound
from kehu.customers.selectors import customer_present, customer_queryset
from kehu.segments.definition import Catalogue
from kehu.segments.fields import OPERATOR_LABELS

SAMPLE = 10
MAX_RUNS = 200


def rule_list(*, user) -> QuerySet[Rule]:
    user.access.require("rule.manage")
    return Rule.objects.select_related("owner").order_by("name", "id")


def rule_get(*, user, rule_id: int) -> Rule:
    rule = rule_list(user=user).filter(pk=rule_id).first()
    if rule is None:
        raise NotFound()
    return rule


def rule_versions(*, user, rule: Rule, limit: int = 20) -> list[RuleVersion]:
    """The rule's saved versions, newest first (who saved each, when)."""
    user.access.require("rule.manage")
    return list(RuleVersion.objects.filter(rule=rule).select_related("saved_by")
                .order_by("-version")[:limit])


def rule_stats(*, user, rules: list[Rule]) -> dict[int, dict[str, Any]]:
    """Per rule: runs in the last 24 hours by status, and the last run's time."""
    user.access.require("rule.manage")
    since = timezone.now() - dt.timedelta(days=1)
    out: dict[int, dict[str, Any]] = {r.pk: {"runs_24h": 0, "failed": 0, "last": None}
                                      for r in rules}
    rows = (RuleRun.objects.filter(rule_id__in=list(out)).values("rule_id")
            .annotate(last=Max("created_at")))
    for row in rows:
        out[row["rule_id"]]["last"] = row["last"]
    recent = (RuleRun.objects.filter(rule_id__in=list(out), created_at__gte=since)
              .values("rule_id", "status").annotate(n=Count("id")))
    for row in recent:
        out[row["rule_id"]]["runs_24h"] += row["n"]
        if row["status"] in (RuleRun.FAILED, RuleRun.RETRY):
            out[row["rule_id"]]["failed"] += row["n"]
    return out


def rule_runs(*, user, rule: Rule, status: str | None = None, limit: int = 50
              ) -> list[dict[str, Any]]:
    """The newest runs of a rule on customers the user may see, with each action's outcome."""
    user.access.require("rule.manage")
    limit = max(1, min(int(limit), MAX_RUNS))
    visible = customer_queryset(user=user, include_inactive=True).values("pk")
    runs = RuleRun.objects.filter(rule=rule, customer_id__in=visible).select_related(
        "customer").order_by("-id")
    if status:
        runs = runs.filter(status=status)
    statuses = dict(RuleRun.STATUSES)
    out = []
    for run in runs[:limit]:
        out.append({
            "id": run.pk, "customer": {"id": run.customer_id, "name": run.customer.name},
            "status": run.status, "status_label": str(statuses.get(run.status, run.status)),
            "trigger": run.trigger, "key": run.key, "version": run.rule_version,
            "depth": run.depth, "attempts": run.attempts, "error": run.error,
            "next_attempt_at": run.next_attempt_at, "created_at": run.created_at,
            "finished_at": run.finished_at,
            "actions": [{**(o or {}), "label": str(action_catalogue.SPECS[o["kind"]].label)
                         if o and o.get("kind") in action_catalogue.SPECS else ""}
                        for o in (run.outcome or [])],
        })
    return out


@dataclass(frozen=True)
class DryRun:
    would_fire: int
    sample: list[dict[str, Any]]
    visible: int
    trigger: str


def rule_dry_run(*, user, rule: Rule, sample: int = SAMPLE,
                 now: dt.datetime | None = None) -> DryRun:
    """"Would fire for N customers now": the set a backfill (or the next tick) would act on,
    and up to `sample` of them the user may see, each with why it qualifies."""
    user.access.require("rule.manage")
    now = now or timezone.now()
    qs = engine.would_fire_queryset(rule, now=now)
    count = qs.count()
    mine = customer_queryset(user=user).filter(pk__in=qs.values("pk"))
    visible = mine.count() if count else 0
    rows = list(mine.select_related("owner", "team").order_by("-pk")[:sample]) if visible else []
    facts = _facts(rule, [c.pk for c in rows])
    reasons = _condition_reasons(rule)
    out = []
    for customer in rows:
        data = customer_present(user, customer, detail=False)
        data["why"] = _why(rule, customer, data, facts.get(customer.pk), reasons, user)
        out.append(data)
    return DryRun(would_fire=count, sample=out, visible=visible,
                  trigger=triggers.describe(rule.trigger))


def _facts(rule: Rule, ids: list[int]) -> dict[int, Any]:
    """The last interaction of each sampled customer (no-interaction rules)."""
    if rule.trigger["kind"] != "no_interaction" or not ids:
        return {}
    from django.apps import apps

    rows = (apps.get_model("interactions", "Interaction").objects.filter(customer_id__in=ids)
            .values("customer_id").annotate(last=Max("occurred_at")))
    return {row["customer_id"]: row["last"] for row in rows}


def _why(rule: Rule, customer, data: dict[str, Any], fact, reasons: list[tuple], user
         ) -> list[str]:
    trigger = rule.trigger
    kind = trigger["kind"]
    out = []
    if kind == "no_interaction":
        out.append(_("no interaction for %(days)d days (last: %(last)s)") % {
            "days": trigger["days"],
            "last": timezone.localtime(fact).date().isoformat() if fact else _("never")})
    elif kind == "before_anniversary":
        field = _("birthday") if trigger["field"] == "birthday" else _("customer anniversary")
        out.append(_("%(field)s within %(days)d days") % {"field": field,
                                                          "days": trigger["days"]})
    elif kind == "after_date":
        value = data.get(trigger["field"]) if trigger["field"] in data else None
        out.append(_("%(days)d days or more after %(field)s%(value)s") % {
            "days": trigger["days"], "field": trigger["field"],
            "value": f" ({str(value)[:10]})" if value else ""})
    elif kind == "schedule":
        out.append(triggers.describe(trigger))
    else:
        out.append(_("already in the state “%s” leads to") % triggers.describe(trigger))
    for label, op, value, key in reasons:
        current = data.get(key) if key else None
        if isinstance(current, dict):
            current = current.get("name") or current.get("label")
        line = f"{label} {op} {value}".strip()
        if current not in (None, "", []) and key:
            line += _(" (now: %s)") % (", ".join(map(str, current))
                                       if isinstance(current, list) else current)
        out.append(line)
    return out


def _condition_reasons(rule: Rule) -> list[tuple[str, str, str, str | None]]:
    """Each top-level condition as (label, operator, value, presented key)."""
    catalogue = Catalogue.load()
    tree = rule.conditions or {}
    out = []
    for node in tree.get("conditions", []):
        negated = node.get("type") == "not"
        inner = node["condition"] if negated else node
        prefix = _("not") + " " if negated else ""
        if inner.get("type") == "field":
            spec = catalogue.fields.get(inner["field"])
            label = str(spec.label) if spec else inner["field"]
            value = inner.get("value", "")
            if spec and spec.choices and not isinstance(value, list):
                value = dict(spec.choices()).get(str(value), value)
            if isinstance(value, list):
                value = ", ".join(map(str, value))
            key = inner["field"] if inner["field"] in ("lifecycle_stage", "region", "city",
                                                       "province", "industry", "source",
                                                       "tags", "name") else None
            out.append((prefix + label, str(OPERATOR_LABELS.get(inner["op"], inner["op"])),
                        str(value), key))
        elif inner.get("type") == "group":
            out.append((prefix + _("a group of %d conditions") % len(inner["conditions"]),
                        _("holds"), "", None))
        else:
            window = inner.get("within_days")
            count = inner.get("count") or {}
            text = _("%(kind)s %(name)s %(op)s %(n)s times") % {
                "kind": inner["type"], "name": inner.get("name", inner.get("product", "")),
                "op": count.get("op", ""), "n": count.get("value", "")}
            if window:
                text += _(" in the last %d days") % window
            out.append((prefix + text, "", "", None))
    return out
