"""Writes of rules: create, update (a new version each time), activate (with or without
backfill), pause, delete, and the automatic pause when a rule passes its hourly limit.

Every write needs `rule.manage`, runs in one transaction, is audited and emits its domain
event. A rule is changed by its owner or by someone who sees all records.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.automation import actions as action_catalogue
from kehu.automation import engine, triggers
from kehu.automation.models import ACTIVE, DRAFT, PAUSED, Rule, RuleVersion
from kehu.core.actor import Actor
from kehu.core.audit import diff
from kehu.core.errors import NotFound, PermissionDenied, ValidationFailed
from kehu.core.events import record_change
from kehu.core.permissions import SCOPE_ALL
from kehu.segments.definition import validate

MAX_PER_HOUR = 1_000_000


def _clean(actor: Actor, *, name: str, description: str, trigger: Any, conditions: Any,
           actions: Any, max_runs_per_hour: Any, rule: Rule | None) -> dict[str, Any]:
    details: dict[str, list[str]] = {}
    name = (name or "").strip()
    if not name or len(name) > 80:
        details["name"] = [_("A rule needs a name of 1 to 80 characters.")]
    if len(description or "") > 2000:
        details["description"] = [_("At most 2000 characters.")]
    clean: dict[str, Any] = {"name": name, "description": description or ""}
    for key, check in (("trigger", triggers.validate_trigger),
                       ("actions", action_catalogue.validate_actions)):
        try:
            clean[key] = check(trigger if key == "trigger" else actions)
        except ValidationFailed as exc:
            details |= exc.details
    try:
        conditions = conditions or {"type": "group", "match": "all", "conditions": []}
        clean["conditions"] = validate(conditions, access=actor.access)
    except ValidationFailed as exc:
        details |= {f"conditions.{k}" if k != "definition" else "conditions": v
                    for k, v in exc.details.items()}
    try:
        limit = int(max_runs_per_hour)
        if not 1 <= limit <= MAX_PER_HOUR:
            raise ValueError
        clean["max_runs_per_hour"] = limit
    except (TypeError, ValueError):
        details["max_runs_per_hour"] = [_("A whole number from 1 to %d.") % MAX_PER_HOUR]
    for index, action in enumerate(clean.get("actions", [])):
        if action["kind"] == "start_rule" and rule is not None and \
                int(action["rule"]) == rule.pk:
            details[f"actions[{index}].rule"] = [_("A rule cannot start itself.")]
    if details:
        raise ValidationFailed(details=details)
    return clean


def rule_check(*, actor: Actor, name: str, trigger: Any, actions: Any, conditions: Any = None,
               description: str = "", max_runs_per_hour: Any = 1000,
               rule: Rule | None = None) -> Rule:
    """An unsaved rule from these fields (for a dry run of the editor's content), or
    ValidationFailed as rule_create would raise it. Writes nothing."""
    actor.require("rule.manage")
    clean = _clean(actor, name=name, description=description, trigger=trigger,
                   conditions=conditions, actions=actions,
                   max_runs_per_hour=max_runs_per_hour, rule=rule)
    return Rule(pk=rule.pk if rule else None, owner=actor.user,
                status=rule.status if rule else DRAFT,
                version=rule.version if rule else 1, **clean)


def _state(rule: Rule) -> dict[str, Any]:
    return {"name": rule.name, "description": rule.description, "trigger": rule.trigger,
            "conditions": rule.conditions, "actions": rule.actions, "status": rule.status,
            "max_runs_per_hour": rule.max_runs_per_hour, "version": rule.version}


def _snapshot(actor: Actor, rule: Rule) -> None:
    RuleVersion.objects.create(rule=rule, version=rule.version, snapshot=_state(rule),
                               saved_by=actor.user)


def rule_create(*, actor: Actor, name: str, trigger: Any, actions: Any, conditions: Any = None,
                description: str = "", max_runs_per_hour: int = 1000,
                template: str = "") -> Rule:
    """Save a new rule as a draft owned by the actor (version 1)."""
    actor.require("rule.manage")
    clean = _clean(actor, name=name, description=description, trigger=trigger,
                   conditions=conditions, actions=actions,
                   max_runs_per_hour=max_runs_per_hour, rule=None)
    with transaction.atomic():
        rule = Rule.objects.create(**clean, owner=actor.user, status=DRAFT, template=template)
        _snapshot(actor, rule)
        record_change(actor=actor, action="rule.create", event="rule.created",
                      object_type="rule", object_id=rule.pk, object_repr=rule.name,
                      changes=diff({}, _state(rule)))
    engine.invalidate()
    return rule


def _locked(actor: Actor, rule: Rule) -> Rule:
    found = Rule.objects.select_for_update().filter(pk=rule.pk).first()
    if found is None:
        raise NotFound()
    access = actor.access
    if access is not None and found.owner_id != actor.user.pk and access.scope != SCOPE_ALL:
        raise PermissionDenied(_("Only the rule's owner can change it."))
    return found


def rule_update(*, actor: Actor, rule: Rule, name: str, trigger: Any, actions: Any,
                conditions: Any = None, description: str = "",
                max_runs_per_hour: int = 1000) -> Rule:
    """Change a rule: a new version; an active rule stays active with the new version (runs
    record the version they ran)."""
    actor.require("rule.manage")
    with transaction.atomic():
        rule = _locked(actor, rule)
        clean = _clean(actor, name=name, description=description, trigger=trigger,
                       conditions=conditions, actions=actions,
                       max_runs_per_hour=max_runs_per_hour, rule=rule)
        before = _state(rule)
        for key, value in clean.items():
            setattr(rule, key, value)
        if _state(rule) == before:
            return rule
        trigger_changed = before["trigger"] != rule.trigger
        rule.version += 1
        if trigger_changed:
            rule.last_occurrence = None
        rule.save()
        _snapshot(actor, rule)
        record_change(actor=actor, action="rule.update", event="rule.updated",
                      object_type="rule", object_id=rule.pk, object_repr=rule.name,
                      changes=diff(before, _state(rule)))
        if trigger_changed and rule.status == ACTIVE:
            engine.start_state(rule, backfill=False)
    engine.invalidate()
    return rule


def rule_activate(*, actor: Actor, rule: Rule, backfill: bool) -> tuple[Rule, int]:
    """Turn a draft or paused rule on. `backfill`: also act on customers who already qualify
    (the dry run's set); otherwise only on changes from now. Returns the rule and how many
    customers the backfill covers."""
    actor.require("rule.manage")
    with transaction.atomic():
        rule = _locked(actor, rule)
        if rule.status == ACTIVE:
            return rule, 0
        before = _state(rule)
        rule.status, rule.paused_reason = ACTIVE, ""
        rule.activated_at = timezone.now()
        rule.save(update_fields=["status", "paused_reason", "activated_at", "updated_at"])
        covered = engine.start_state(rule, backfill=backfill, now=rule.activated_at)
        record_change(actor=actor, action="rule.activate", event="rule.activated",
                      object_type="rule", object_id=rule.pk, object_repr=rule.name,
                      changes={**diff(before, _state(rule)), "backfill": backfill,
                               "backfill_customers": covered})
    engine.invalidate()
    if backfill:
        transaction.on_commit(_run_pending_soon)
    return rule, covered


def _run_pending_soon() -> None:
    """A backfill acts at once: the worker ticks (time rules enter) and runs what is pending."""
    try:
        from kehu.automation.tasks import rules_tick_now

        rules_tick_now()
    except Exception:  # the minute tick runs what this leaves behind
        engine.log.exception("could not schedule the rules' pending runs")


def rule_pause(*, actor: Actor, rule: Rule) -> Rule:
    """Stop a rule firing; its entry state and run log stay."""
    actor.require("rule.manage")
    with transaction.atomic():
        rule = _locked(actor, rule)
        if rule.status != ACTIVE:
            return rule
        before = _state(rule)
        rule.status, rule.paused_reason = PAUSED, Rule.PAUSED_BY_USER
        rule.save(update_fields=["status", "paused_reason", "updated_at"])
        record_change(actor=actor, action="rule.pause", event="rule.paused",
                      object_type="rule", object_id=rule.pk, object_repr=rule.name,
                      changes={**diff(before, _state(rule)), "reason": Rule.PAUSED_BY_USER})
    engine.invalidate()
    return rule


def rule_pause_for_limit(*, rule: Rule, wanted: int) -> Rule:
    """The engine's brake: a rule about to pass its hourly limit is paused ("paused: limit
    reached"), audited as the system."""
    with transaction.atomic():
        rule = Rule.objects.select_for_update().get(pk=rule.pk)
        if rule.status != ACTIVE:
            return rule
        before = _state(rule)
        rule.status, rule.paused_reason = PAUSED, Rule.PAUSED_BY_LIMIT
        rule.save(update_fields=["status", "paused_reason", "updated_at"])
        record_change(actor=Actor.system(via="system"), action="rule.pause",
                      event="rule.paused", object_type="rule", object_id=rule.pk,
                      object_repr=rule.name,
                      changes={**diff(before, _state(rule)), "reason": Rule.PAUSED_BY_LIMIT,
                               "wanted": wanted})
    engine.invalidate()
    return rule


def rule_delete(*, actor: Actor, rule: Rule) -> None:
    """Delete a rule with its versions, entry state and run log (the audit log keeps it)."""
    actor.require("rule.manage")
    with transaction.atomic():
        rule = _locked(actor, rule)
        record_change(actor=actor, action="rule.delete", event="rule.deleted",
                      object_type="rule", object_id=rule.pk, object_repr=rule.name,
                      changes=diff(_state(rule), {}))
        rule.delete()
    engine.invalidate()


def rule_from_template(*, actor: Actor, key: str) -> Rule:
    """A draft made from one of the shipped templates (kehu.automation.library)."""
    from kehu.automation.library import template_rule

    data = template_rule(key)
    if data is None:
        raise NotFound()
    return rule_create(actor=actor, template=key, **data)
