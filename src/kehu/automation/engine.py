"""The rules engine: which customers qualify, recording runs exactly once, running actions.

- Event rules: the `automation.rules` subscriber (kehu.core.events) gets each domain event
  once; for every active rule whose trigger matches and whose conditions hold for the
  customer it records a `RuleRun` keyed by the event and runs its actions, all inside the
  delivery's transaction, so a crash or a retry never acts twice and never loses a run.
- Time rules: `tick` (every minute, and `kehu rules tick`) computes each rule's qualifying set
  with one statement through the segment compiler and compares it with the stored entry
  state: customers who entered get a run keyed by their entry number; leaving and coming
  back is a new entry. Schedule rules get one run per customer per occurrence.
- Loop guard: actions act as a `RuleActor` whose label ("rule#7/d1 …") travels on the events
  they cause: a rule never fires on its own actions' events, a chain of rules stops at depth
  3, and a rule that fires more than its hourly limit is paused ("paused: limit reached").
- A failing action is recorded on its run and retried with backoff (only the actions that
  have not succeeded), up to MAX_ATTEMPTS; the run log shows each try.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.automation import actions as action_catalogue
from kehu.automation import triggers
from kehu.automation.models import ACTIVE, Rule, RuleEntry, RuleRun, RuleVersion
from kehu.core.actor import Actor
from kehu.core.errors import ValidationFailed
from kehu.customers.models import Customer
from kehu.segments.compiler import Context, compile_tree
from kehu.segments.definition import Catalogue, validate

log = logging.getLogger(__name__)

MAX_DEPTH = 3
MAX_ATTEMPTS = 5
RETRY_SECONDS = 60
_ORIGIN = re.compile(r"^rule#(\d+)/d(\d+)")
_CHUNK = 500


@dataclass(frozen=True)
class RuleActor(Actor):
    """Who acts when a rule does: the system, labelled with the rule and the chain depth so
    the events its actions cause can be traced back (loop guard)."""

    rule_id: int = 0
    depth: int = 0
    rule_name: str = ""

    @property
    def label(self) -> str:
        return f"rule#{self.rule_id}/d{self.depth} {self.rule_name}"[:200]


def actor_for(rule: Rule, depth: int) -> RuleActor:
    return RuleActor(via="system", rule_id=rule.pk, depth=depth, rule_name=rule.name)


def origin_of(event_actor) -> tuple[int, int] | None:
    """(rule id, depth) when the event was caused by a rule's action."""
    if getattr(event_actor, "via", "") != "system":
        return None
    found = _ORIGIN.match(getattr(event_actor, "label", "") or "")
    return (int(found.group(1)), int(found.group(2))) if found else None


# Qualifying sets ------------------------------------------------------------------------------


def _combined_tree(rule: Rule, *, today: dt.date, catalogue: Catalogue,
                   with_state: bool) -> dict[str, Any]:
    node = triggers.state_node(rule.trigger, today=today) if with_state else None
    conditions = rule.conditions or {"type": "group", "match": "all", "conditions": []}
    if node is None:
        return validate(conditions, catalogue=catalogue)
    return validate({"type": "group", "match": "all", "conditions": [node, conditions]},
                    catalogue=catalogue)


def qualifying_q(rule: Rule, *, now: dt.datetime, catalogue: Catalogue | None = None,
                 with_state: bool = True) -> Q:
    """The customers the rule qualifies now: its conditions (and the trigger's state) as one
    Q through the segment compiler, evaluated as the system sees customers."""
    catalogue = catalogue or Catalogue.load()
    today = timezone.localtime(now).date()
    try:
        tree = _combined_tree(rule, today=today, catalogue=catalogue, with_state=with_state)
    except ValidationFailed:
        # A state that cannot be said (a tag deleted since): fall back to the conditions.
        tree = _combined_tree(rule, today=today, catalogue=catalogue, with_state=False)
    condition = compile_tree(tree, fields=catalogue.fields,
                             ctx=Context(user_id=rule.owner_id, now=now))
    extra = triggers.state_q(rule.trigger, now=now) if with_state else None
    return condition & extra if extra is not None else condition


def qualifying_queryset(rule: Rule, *, now: dt.datetime, catalogue: Catalogue | None = None,
                        with_state: bool = True):
    return Customer.objects.filter(status=Customer.STATUS_ACTIVE).filter(
        qualifying_q(rule, now=now, catalogue=catalogue, with_state=with_state))


def would_fire_queryset(rule: Rule, *, now: dt.datetime | None = None):
    """The customers the rule would act on now: for entry rules, those qualifying who are not
    already inside; otherwise everyone qualifying (the set a backfill acts on)."""
    now = now or timezone.now()
    kind = rule.trigger["kind"]
    qs = qualifying_queryset(rule, now=now, with_state=kind != "schedule")
    if triggers.is_time(rule.trigger) and kind != "schedule" and rule.pk is not None:
        inside = RuleEntry.objects.filter(rule=rule, inside=True).values("customer_id")
        qs = qs.exclude(pk__in=inside)
    return qs


def conditions_hold(rule: Rule, customer_id: int, *, now: dt.datetime,
                    catalogue: Catalogue | None = None) -> bool:
    return Customer.objects.filter(pk=customer_id, status=Customer.STATUS_ACTIVE).filter(
        qualifying_q(rule, now=now, catalogue=catalogue, with_state=False)).exists()


# The active rules, cached briefly per process ---------------------------------------------------


@dataclass
class _Cache:
    stamp: tuple = ()
    by_type: dict[str, list[Rule]] = field(default_factory=dict)
    catalogue: Catalogue | None = None


_CACHE = _Cache()
_GENERATION = [0]


def invalidate() -> None:
    """Forget the cached active rules (the services call it when a rule changes)."""
    _GENERATION[0] += 1


def _event_rules(event_type: str) -> tuple[list[Rule], Catalogue | None]:
    """The active event rules for this type, reloaded whenever any rule changed (one small
    aggregate per event: a rule activated in another process is seen by the next event)."""
    from django.db.models import Count, Max

    found = Rule.objects.aggregate(changed=Max("updated_at"), n=Count("id"))
    stamp = (_GENERATION[0], found["changed"], found["n"])
    if stamp != _CACHE.stamp:
        by_type: dict[str, list[Rule]] = {}
        for rule in Rule.objects.filter(status=ACTIVE).order_by("pk"):
            spec = triggers.SPECS.get(rule.trigger.get("kind"))
            if spec is None or spec.kind != triggers.EVENT:
                continue
            for kind in spec.event_types:
                by_type.setdefault(kind, []).append(rule)
        _CACHE.by_type, _CACHE.stamp = by_type, stamp
        _CACHE.catalogue = Catalogue.load() if by_type else None
    return _CACHE.by_type.get(event_type, []), _CACHE.catalogue


def subscribed_types() -> list[str]:
    return sorted({t for spec in triggers.CATALOGUE for t in spec.event_types})


# Recording runs ---------------------------------------------------------------------------------


def _runs_last_hour(rule: Rule, now: dt.datetime) -> int:
    return RuleRun.objects.filter(rule=rule, created_at__gte=now - dt.timedelta(hours=1)).exclude(
        status=RuleRun.SKIPPED).count()


def _limit_reached(rule: Rule, adding: int, now: dt.datetime) -> bool:
    """True (and the rule paused, audited) when `adding` more runs would pass the limit."""
    if _runs_last_hour(rule, now) + adding <= rule.max_runs_per_hour:
        return False
    from kehu.automation.services import rule_pause_for_limit

    rule_pause_for_limit(rule=rule, wanted=adding)
    invalidate()
    return True


def on_event(event) -> None:
    """The `automation.rules` subscriber: fire matching event rules for the event's customer."""
    if event.customer_id is None:
        return
    rules, catalogue = _event_rules(event.type)
    if not rules:
        return
    origin = origin_of(event.actor)
    now = timezone.now()
    for rule in rules:
        if rule.activated_at is not None and event.occurred_at < rule.activated_at:
            continue  # a change from before the rule was on (a backfill covers those)
        if not triggers.matches(rule.trigger, event):
            continue
        try:
            with transaction.atomic():
                _fire(rule, event, origin, now, catalogue)
        except DatabaseError:
            raise  # the delivery is retried (a locked database, a lost connection)
        except Exception as exc:  # a broken rule never holds the others' events back
            log.exception("rule %s: event %s not handled", rule.pk, event.id)
            _run_get_or_create(rule, event.customer_id, f"event:{event.key}",
                               text=f"{event.type} #{event.key}", event_id=event.id,
                               skip=_("the rule could not be evaluated: %s") % _error_text(exc),
                               status=RuleRun.FAILED)


def _fire(rule: Rule, event, origin, now: dt.datetime, catalogue) -> None:
    depth, skip = 0, ""
    if origin is not None:
        depth = origin[1] + 1
        if origin[0] == rule.pk:
            skip = _("loop guard: caused by this rule's own action")
        elif depth > MAX_DEPTH:
            skip = _("chain depth limit (%d) reached") % MAX_DEPTH
    if not conditions_hold(rule, event.customer_id, now=now, catalogue=catalogue):
        return
    key = f"event:{event.key}"
    if not skip and _limit_reached(rule, 1, now):
        skip = _("paused: limit reached")
    run, created = _run_get_or_create(rule, event.customer_id, key,
                                      text=f"{event.type} #{event.key}", event_id=event.id,
                                      depth=depth, skip=skip)
    if created and not skip:
        run_execute(run.pk)


def _run_get_or_create(rule: Rule, customer_id: int, key: str, *, text: str,
                       event_id: int | None = None, depth: int = 0, skip: str = "",
                       status: str = RuleRun.SKIPPED) -> tuple[RuleRun, bool]:
    defaults = {"rule_version": rule.version, "trigger": text[:200], "event_id": event_id,
                "depth": depth}
    if skip:
        defaults.update(status=status, error=skip[:2000], finished_at=timezone.now())
    with transaction.atomic():
        return RuleRun.objects.get_or_create(rule=rule, customer_id=customer_id, key=key,
                                             defaults=defaults)


def runs_create_many(rule: Rule, customer_ids: list[int], key_of, *, text: str) -> int:
    """Record runs (pending) for many customers at once; existing keys are left alone.
    Returns how many were asked for."""
    rows = [RuleRun(rule=rule, rule_version=rule.version, customer_id=pk, key=key_of(pk),
                    trigger=text[:200]) for pk in customer_ids]
    for start in range(0, len(rows), _CHUNK):
        RuleRun.objects.bulk_create(rows[start:start + _CHUNK], ignore_conflicts=True)
    return len(rows)


# Running actions --------------------------------------------------------------------------------


@dataclass
class RunContext:
    rule: Rule
    run: RuleRun
    customer: Customer
    actor: RuleActor
    consent_skipped: int = 0


_VERSIONS: dict[tuple[int, int], list[dict[str, Any]]] = {}


def _actions_of(rule: Rule, version: int) -> list[dict[str, Any]]:
    if version == rule.version:
        return rule.actions
    key = (rule.pk, version)
    if key not in _VERSIONS:
        snapshot = RuleVersion.objects.filter(rule=rule, version=version).values_list(
            "snapshot", flat=True).first()
        _VERSIONS[key] = (snapshot or {}).get("actions", rule.actions)
    return _VERSIONS[key]


def _error_text(exc: BaseException) -> str:
    message = getattr(exc, "message", None)
    details = getattr(exc, "details", None)
    if message is not None:
        text = f"{message}" + (f" {details}" if details else "")
    else:
        text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return text[:1000]


def _lock_kwargs() -> dict[str, Any]:
    return {"skip_locked": True} if connection.features.has_select_for_update_skip_locked else {}


def run_execute(run_id: int) -> RuleRun | None:
    """Run a pending (or due) run's actions that have not succeeded yet, each in a savepoint,
    and record the outcome with them in one transaction: exactly once for database effects.
    None when another worker holds it or it is finished."""
    with transaction.atomic():
        run = (RuleRun.objects.select_for_update(**_lock_kwargs()).select_related("rule")
               .filter(pk=run_id, status__in=(RuleRun.PENDING, RuleRun.RETRY)).first())
        if run is None:
            return None
        rule = run.rule
        now = timezone.now()
        customer = Customer.objects.select_related("owner", "owner__team", "team").filter(
            pk=run.customer_id).first()
        if customer is None or customer.status != Customer.STATUS_ACTIVE:
            run.status, run.error, run.finished_at = RuleRun.SKIPPED, _(
                "the customer is no longer active"), now
            run.save(update_fields=["status", "error", "finished_at"])
            return run
        ctx = RunContext(rule=rule, run=run, customer=customer,
                         actor=actor_for(rule, run.depth))
        plan = _actions_of(rule, run.rule_version)
        outcome = list(run.outcome or [])
        outcome += [None] * (len(plan) - len(outcome))
        for index, action in enumerate(plan):
            previous = outcome[index]
            if previous and previous.get("status") in ("done", "skipped"):
                continue
            ctx.consent_skipped = 0
            spec = action_catalogue.SPECS.get(action.get("kind"))
            entry: dict[str, Any] = {"kind": action.get("kind"), "at": now.isoformat()}
            try:
                if spec is None:
                    raise ValueError(f"unknown action {action.get('kind')!r}")
                with transaction.atomic():
                    entry.update(status="done", detail=spec.perform(ctx, action, index))
            except action_catalogue.ActionSkipped as exc:
                entry.update(status="skipped", detail=str(exc))
            except Exception as exc:  # recorded on the run and retried, never lost
                entry.update(status="failed", detail=_error_text(exc))
            if ctx.consent_skipped:
                entry["consent_skipped"] = ctx.consent_skipped
            if previous and previous.get("status") == "failed":
                entry["tries"] = previous.get("tries", 1) + 1
            outcome[index] = entry
            # Later actions read the customer as the earlier ones left it.
            ctx.customer = Customer.objects.select_related("owner", "owner__team", "team").get(
                pk=customer.pk)
        failed = [o for o in outcome if o and o.get("status") == "failed"]
        run.attempts += 1
        run.outcome = outcome
        if failed:
            run.error = "; ".join(str(o.get("detail", "")) for o in failed)[:2000]
            if run.attempts >= MAX_ATTEMPTS:
                run.status, run.finished_at, run.next_attempt_at = RuleRun.FAILED, now, None
            else:
                run.status = RuleRun.RETRY
                run.next_attempt_at = now + dt.timedelta(
                    seconds=RETRY_SECONDS * 2 ** (run.attempts - 1))
        else:
            run.status, run.error, run.finished_at, run.next_attempt_at = (
                RuleRun.DONE, "", now, None)
        run.save(update_fields=["attempts", "outcome", "status", "error", "finished_at",
                                "next_attempt_at"])
        return run


def runs_execute_due(*, limit: int = 5000, now: dt.datetime | None = None,
                     max_seconds: float | None = None) -> int:
    """Run the pending runs and the retries that are due (the tick, the worker); returns how
    many were run."""
    now = now or timezone.now()
    started = time.monotonic()
    ids = list(RuleRun.objects.filter(
        Q(status=RuleRun.PENDING) | Q(status=RuleRun.RETRY, next_attempt_at__lte=now))
        .order_by("pk").values_list("pk", flat=True)[:limit])
    done = 0
    for pk in ids:
        if run_execute(pk) is not None:
            done += 1
        if max_seconds is not None and time.monotonic() - started > max_seconds:
            break
    return done


def chain_start(ctx: RunContext, target_id: int) -> str:
    """The "start another rule" action: run the target rule's actions for this customer now
    (when its conditions hold), one level deeper; refused past MAX_DEPTH."""
    target = Rule.objects.filter(pk=target_id).first()
    if target is None:
        raise action_catalogue.ActionSkipped(_("the rule to start no longer exists"))
    if target.pk == ctx.rule.pk:
        raise action_catalogue.ActionSkipped(_("loop guard: a rule cannot start itself"))
    if target.status != ACTIVE:
        raise action_catalogue.ActionSkipped(_("“%s” is not active") % target.name)
    depth = ctx.run.depth + 1
    if depth > MAX_DEPTH:
        raise action_catalogue.ActionSkipped(_("chain depth limit (%d) reached") % MAX_DEPTH)
    if not conditions_hold(target, ctx.customer.pk, now=timezone.now()):
        raise action_catalogue.ActionSkipped(_("the conditions of “%s” do not hold")
                                             % target.name)
    run, created = _run_get_or_create(target, ctx.customer.pk, f"chain:{ctx.run.pk}",
                                      text=_("started by rule “%s”") % ctx.rule.name,
                                      depth=depth)
    if created:
        run_execute(run.pk)
    return _("started rule “%s”") % target.name


# Time rules -------------------------------------------------------------------------------------


def tick(*, now: dt.datetime | None = None, execute: bool = True) -> dict[str, int]:
    """Evaluate every active time rule once (idempotent: a second tick at the same moment
    changes nothing), then run what is pending. Returns counts.

    Each rule's qualifying set is read outside any write transaction (readers do not block
    the one SQLite writer); the few customers who entered or left are then checked again
    under the rule's lock and recorded, so concurrent ticks never act twice."""
    now = now or timezone.now()
    stats = {"rules": 0, "entered": 0, "left": 0, "runs": 0, "executed": 0}
    catalogue = Catalogue.load()
    rules = [r for r in Rule.objects.filter(status=ACTIVE)
             if triggers.SPECS.get(r.trigger.get("kind")) is not None
             and triggers.is_time(r.trigger)]
    for rule in rules:
        try:
            if rule.trigger["kind"] == "schedule":
                part = _tick_schedule(rule, now, catalogue)
            else:
                part = _tick_entries(rule, now, catalogue)
        except Exception as exc:  # shown on the rule's pages, never silent
            log.exception("rule %s: tick failed", rule.pk)
            Rule.objects.filter(pk=rule.pk).update(last_error=_error_text(exc))
            continue
        if rule.last_error:
            Rule.objects.filter(pk=rule.pk).update(last_error="")
        stats["rules"] += 1
        for key, value in part.items():
            stats[key] += value
    if execute:
        stats["executed"] = runs_execute_due(now=now)
    return stats


_NOTHING = {"entered": 0, "left": 0, "runs": 0}


def _still(qualifying, ids: list[int]) -> set[int]:
    """Which of `ids` qualify (checked again under the lock: a small pk IN query)."""
    found: set[int] = set()
    for start in range(0, len(ids), _CHUNK):
        found.update(qualifying.filter(pk__in=ids[start:start + _CHUNK])
                     .values_list("pk", flat=True))
    return found


def _tick_entries(rule: Rule, now: dt.datetime, catalogue: Catalogue) -> dict[str, int]:
    qualifying = qualifying_queryset(rule, now=now, catalogue=catalogue)
    inside = RuleEntry.objects.filter(rule=rule, inside=True)
    # One run of the (costly) qualifying statement and one read of the entries, compared in
    # memory: cheaper than two anti-joins at a million customers.
    wanted = set(qualifying.values_list("pk", flat=True))
    current = set(inside.values_list("customer_id", flat=True))
    entered, left = sorted(wanted - current), sorted(current - wanted)
    del wanted, current
    if not entered and not left:
        return dict(_NOTHING)
    with transaction.atomic():
        if not Rule.objects.select_for_update().filter(pk=rule.pk, status=ACTIVE).exists():
            return dict(_NOTHING)
        if entered:
            still = _still(qualifying, entered)
            if len(entered) <= 5000:
                already = set(RuleEntry.objects.filter(
                    rule=rule, inside=True, customer_id__in=entered).values_list(
                    "customer_id", flat=True))
            else:
                already = set(inside.values_list("customer_id", flat=True))
            entered = [pk for pk in entered if pk in still and pk not in already]
        if left:
            back = _still(qualifying, left)
            left = [pk for pk in left if pk not in back]
        if entered and _limit_reached(rule, len(entered), now):
            return dict(_NOTHING)
        for start in range(0, len(left), _CHUNK):
            inside.filter(customer_id__in=left[start:start + _CHUNK]).update(
                inside=False, changed_at=now)
        if entered:
            _enter(rule, entered, now)
            numbers = {}
            for start in range(0, len(entered), _CHUNK):
                numbers.update(RuleEntry.objects.filter(
                    rule=rule, customer_id__in=entered[start:start + _CHUNK]).values_list(
                    "customer_id", "entries"))
            runs_create_many(rule, entered, lambda pk: f"entry:{numbers[pk]}",
                             text=triggers.describe(rule.trigger))
    return {"entered": len(entered), "left": len(left), "runs": len(entered)}


def _enter(rule: Rule, customer_ids: list[int], now: dt.datetime, *, count: bool = True) -> None:
    """Mark customers inside; `count`: a new entry (its number is the run's key)."""
    for start in range(0, len(customer_ids), _CHUNK):
        chunk = customer_ids[start:start + _CHUNK]
        known = RuleEntry.objects.filter(rule=rule, customer_id__in=chunk)
        seen = set(known.values_list("customer_id", flat=True))
        known.filter(inside=False).update(
            inside=True, changed_at=now, **({"entries": F("entries") + 1} if count else {}))
        RuleEntry.objects.bulk_create(
            [RuleEntry(rule=rule, customer_id=pk, inside=True, entries=1 if count else 0,
                       changed_at=now) for pk in chunk if pk not in seen],
            ignore_conflicts=True)


def _tick_schedule(rule: Rule, now: dt.datetime, catalogue: Catalogue) -> dict[str, int]:
    occurrence = triggers.last_occurrence(rule.trigger, now)
    if rule.last_occurrence is not None and rule.last_occurrence >= occurrence:
        return dict(_NOTHING)
    ids = list(qualifying_queryset(rule, now=now, catalogue=catalogue, with_state=False)
               .values_list("pk", flat=True))
    with transaction.atomic():
        rule = Rule.objects.select_for_update().filter(pk=rule.pk, status=ACTIVE).first()
        if rule is None or (rule.last_occurrence is not None
                            and rule.last_occurrence >= occurrence):
            return dict(_NOTHING)
        if ids and _limit_reached(rule, len(ids), now):
            return dict(_NOTHING)
        key = f"at:{occurrence.isoformat(timespec='minutes')}"
        runs_create_many(rule, ids, lambda pk: key, text=triggers.describe(rule.trigger))
        rule.last_occurrence = occurrence
        rule.save(update_fields=["last_occurrence"])
    return {"entered": 0, "left": 0, "runs": len(ids)}


def start_state(rule: Rule, *, backfill: bool, now: dt.datetime | None = None) -> int:
    """Set up a rule being activated. Backfill: customers already qualifying get a run (event
    rules now; time rules at the next tick, as entries). Future only: time rules count the
    customers inside now as already entered. Returns how many the backfill covers."""
    now = now or timezone.now()
    kind = rule.trigger["kind"]
    if triggers.is_time(rule.trigger):
        if kind == "schedule":
            if rule.last_occurrence is None:
                rule.last_occurrence = triggers.last_occurrence(rule.trigger, now)
                if backfill:
                    rule.last_occurrence -= dt.timedelta(seconds=1)
                rule.save(update_fields=["last_occurrence"])
            return qualifying_queryset(rule, now=now, with_state=False).count() if backfill \
                else 0
        RuleEntry.objects.filter(rule=rule).update(inside=False, changed_at=now)
        if backfill:
            return would_fire_queryset(rule, now=now).count()
        ids = list(qualifying_queryset(rule, now=now).values_list("pk", flat=True))
        _enter(rule, ids, now, count=False)
        return 0
    if not backfill:
        return 0
    ids = list(would_fire_queryset(rule, now=now).values_list("pk", flat=True))
    stamp = int(now.timestamp())
    runs_create_many(rule, ids, lambda pk: f"backfill:{stamp}",
                     text=_("backfill at activation"))
    return len(ids)
