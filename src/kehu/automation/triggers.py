"""The trigger catalogue: what makes a rule fire.

A trigger is JSON, `{"kind": "<key>", ...params}`. Event triggers name the domain event
types they listen to; the catalogue is data, so a trigger whose event type is not in
`kehu.core.events.EVENT_TYPES` at run time (a deal or payment event of an app not installed)
is simply not offered. Time triggers are evaluated set-based through the segment compiler:
each gives a definition node (and, for the customer anniversary, a Q) that is ANDed with the
rule's conditions.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _

from kehu.core.errors import ValidationFailed

EVENT, TIME = "event", "time"
MAX_DAYS = 3660
HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class Param:
    """One input of a trigger or an action: `kind` decides the picker (choice, text, int,
    time, weekday, tag, segment, field, user, role, rule, assignment_rule)."""

    name: str
    label: Any
    kind: str = "text"
    required: bool = False
    choices: Callable[[], list[tuple[str, Any]]] | None = None
    default: Any = ""


@dataclass(frozen=True)
class TriggerSpec:
    key: str
    label: Any
    kind: str  # event | time
    event_types: tuple[str, ...] = ()
    params: tuple[Param, ...] = ()
    group: Any = field(default=_("When something happens"))


def _model_choices(label: str, attr: str):
    def choices():
        from django.apps import apps

        model = apps.get_model(*label.split("."))
        return [(k, str(v)) for k, v in getattr(model, attr)]
    return choices


def _value_tiers():
    from kehu.customers.value_labels import VALUE_TIERS

    return [(k, str(v)) for k, v in VALUE_TIERS]


def _churn_levels():
    return [("low", _g("Low")), ("medium", _g("Medium")), ("high", _g("High"))]


def changed_fields():
    """Customer fields a "field changed" trigger may watch (no sensitive ones: their values
    never enter events)."""
    from kehu.segments.definition import Catalogue

    out = []
    for spec in Catalogue.load().fields.values():
        if spec.sensitive or spec.kind in ("tags", "district", "presence") or "__" in spec.path \
                and not spec.path.startswith("custom__"):
            continue
        if spec.key in ("created_at", "last_activity_at", "quality_score"):
            continue
        out.append((spec.key, str(spec.label)))
    return out


def date_fields():
    """Date fields an "N days after" trigger may count from."""
    from kehu.segments.definition import Catalogue

    return [(spec.key, str(spec.label)) for spec in Catalogue.load().fields.values()
            if spec.kind in ("date", "datetime", "custom_date") and not spec.sensitive]


ANNIVERSARY_FIELDS = [("birthday", _("Birthday")), ("created_at", _("Customer since"))]
SCHEDULES = [("day", _("Every day")), ("week", _("Every week"))]
WEEKDAYS = [(str(i), label) for i, label in enumerate(
    (_("Monday"), _("Tuesday"), _("Wednesday"), _("Thursday"), _("Friday"), _("Saturday"),
     _("Sunday")))]
PROPERTY_OPS = [("eq", _("is")), ("contains", _("contains")), ("starts_with", _("starts with")),
                ("ne", _("is not")), ("is_set", _("is set"))]

_TO = Param("to", _("to"), "text")
CATALOGUE: list[TriggerSpec] = [
    TriggerSpec("customer_created", _("Customer created"), EVENT, ("customer.created",)),
    TriggerSpec("field_changed", _("Field changed"), EVENT, ("customer.field_changed",), (
        Param("field", _("Field"), "choice", True, changed_fields),
        Param("from", _("from (optional)")), Param("to", _("to (optional)")))),
    TriggerSpec("tag_added", _("Tag added"), EVENT, ("tag.added",),
                (Param("tag", _("Tag (optional)"), "tag"),)),
    TriggerSpec("tag_removed", _("Tag removed"), EVENT, ("tag.removed",),
                (Param("tag", _("Tag (optional)"), "tag"),)),
    TriggerSpec("order_created", _("Order placed"), EVENT, ("order.created",)),
    TriggerSpec("order_status_changed", _("Order status changed"), EVENT,
                ("order.status_changed",),
                (Param("to", _("to (optional)"), "choice", False,
                       _model_choices("transactions.Order", "STATUSES")),)),
    TriggerSpec("ticket_opened", _("Ticket opened"), EVENT, ("ticket.opened",),
                (Param("ticket_kind", _("Ticket type (optional)"), "choice", False,
                       _model_choices("transactions.Ticket", "KINDS")),)),
    TriggerSpec("ticket_closed", _("Ticket closed"), EVENT, ("ticket.closed",)),
    TriggerSpec("ticket_sla_breached", _("Ticket SLA breached"), EVENT,
                ("ticket.sla_breached",)),
    TriggerSpec("interaction_logged", _("Interaction logged"), EVENT, ("interaction.logged",),
                (Param("interaction_kind", _("Interaction type (optional)"), "choice", False,
                       _model_choices("interactions.Interaction", "KINDS")),)),
    TriggerSpec("event_ingested", _("Event received"), EVENT, ("event.ingested",), (
        Param("event_type", _("Event"), "choice", True,
              _model_choices("interactions.Event", "TYPES")),
        Param("property", _("Property (optional), e.g. url")),
        Param("op", _("Property operator"), "choice", False, lambda: [
            (k, str(v)) for k, v in PROPERTY_OPS], "contains"),
        Param("value", _("Property value")))),
    TriggerSpec("value_tier_changed", _("Value tier changed"), EVENT, ("value.tier_changed",),
                (Param("to", _("to (optional)"), "choice", False, _value_tiers),)),
    TriggerSpec("lifecycle_changed", _("Lifecycle stage changed"), EVENT,
                ("lifecycle.changed", "customer.field_changed"),
                (Param("to", _("to (optional)"), "choice", False,
                       _model_choices("customers.Customer", "LIFECYCLE_STAGES")),)),
    TriggerSpec("churn_risk_changed", _("Churn risk changed"), EVENT, ("churn.risk_changed",),
                (Param("to", _("to (optional)"), "choice", False, _churn_levels),)),
    TriggerSpec("segment_entered", _("Entered a segment"), EVENT, ("segment.entered",),
                (Param("segment", _("Segment"), "segment", True),)),
    TriggerSpec("segment_left", _("Left a segment"), EVENT, ("segment.left",),
                (Param("segment", _("Segment"), "segment", True),)),
    # Events of apps that may not be installed: offered when their type exists.
    TriggerSpec("deal_stage_changed", _("Deal stage changed"), EVENT, ("deal.stage_changed",),
                (Param("to", _("to (optional)")),)),
    TriggerSpec("deal_won", _("Deal won"), EVENT, ("deal.won",)),
    TriggerSpec("deal_lost", _("Deal lost"), EVENT, ("deal.lost",)),
    TriggerSpec("quote_accepted", _("Quote accepted"), EVENT, ("quote.accepted",)),
    TriggerSpec("contract_signed", _("Contract signed"), EVENT, ("contract.signed",)),
    TriggerSpec("payment_received", _("Payment received"), EVENT, ("payment.received",)),
    TriggerSpec("payment_overdue", _("Payment overdue"), EVENT, ("payment.overdue",)),
    # Time.
    TriggerSpec("no_interaction", _("No interaction for N days"), TIME, (), (
        Param("days", _("Days"), "int", True, default=30),), group=_("As time passes")),
    TriggerSpec("before_anniversary", _("N days before a birthday or anniversary"), TIME, (), (
        Param("field", _("Date"), "choice", True, lambda: [
            (k, str(v)) for k, v in ANNIVERSARY_FIELDS], "birthday"),
        Param("days", _("Days before"), "int", True, default=7)), group=_("As time passes")),
    TriggerSpec("after_date", _("N days after a date field"), TIME, (), (
        Param("field", _("Date field"), "choice", True, date_fields, "created_at"),
        Param("days", _("Days after"), "int", True, default=30)), group=_("As time passes")),
    TriggerSpec("schedule", _("On a schedule"), TIME, (), (
        Param("every", _("Repeat"), "choice", True, lambda: [
            (k, str(v)) for k, v in SCHEDULES], "day"),
        Param("weekday", _("Weekday (weekly)"), "choice", False, lambda: [
            (k, str(v)) for k, v in WEEKDAYS], "0"),
        Param("at", _("At (HH:MM)"), "time", True, default="09:00")), group=_("As time passes")),
]
SPECS = {spec.key: spec for spec in CATALOGUE}


def available() -> list[TriggerSpec]:
    """The triggers this installation can fire: time ones, and event ones whose event types
    exist now."""
    from kehu.core.events import EVENT_TYPES

    return [s for s in CATALOGUE if s.kind == TIME or all(t in EVENT_TYPES
                                                          for t in s.event_types[:1])]


def spec_of(trigger: dict[str, Any]) -> TriggerSpec:
    return SPECS[trigger["kind"]]


def is_time(trigger: dict[str, Any]) -> bool:
    return SPECS[trigger["kind"]].kind == TIME


# Validation -------------------------------------------------------------------------------


def validate_trigger(trigger: Any) -> dict[str, Any]:
    """The cleaned trigger or ValidationFailed naming `trigger.<param>`."""
    if not isinstance(trigger, dict) or trigger.get("kind") not in {s.key for s in available()}:
        raise ValidationFailed(details={"trigger.kind": [
            _g("Choose a trigger; one of: %s.") % ", ".join(s.key for s in available())]})
    spec = SPECS[trigger["kind"]]
    out: dict[str, Any] = {"kind": spec.key}
    errors: dict[str, list[str]] = {}
    known = {p.name for p in spec.params} | {"kind"}
    for key in trigger:
        if key not in known:
            errors[f"trigger.{key}"] = [_g("Unknown setting “%s” for this trigger.") % key]
    for param in spec.params:
        raw = trigger.get(param.name, "")
        raw = "" if raw is None else raw
        path = f"trigger.{param.name}"
        if raw == "" or raw == []:
            if param.required:
                errors[path] = [_g("Required.")]
            continue
        if param.kind == "int":
            try:
                value = int(str(raw).strip())
            except ValueError:
                errors[path] = [_g("Enter a whole number.")]
                continue
            if not 0 <= value <= MAX_DAYS:
                errors[path] = [_g("Between 0 and %d.") % MAX_DAYS]
                continue
            if param.name == "days" and value < 1 and spec.key != "before_anniversary":
                errors[path] = [_g("At least 1.")]
                continue
            out[param.name] = value
        elif param.kind == "time":
            if not HHMM.match(str(raw).strip()):
                errors[path] = [_g("Give a time as HH:MM, e.g. 09:00.")]
                continue
            out[param.name] = str(raw).strip()
        elif param.kind == "segment":
            try:
                out[param.name] = int(raw)
            except (TypeError, ValueError):
                errors[path] = [_g("Choose a segment.")]
        elif param.kind == "choice" and param.choices is not None:
            allowed = {k for k, _label in param.choices()}
            if str(raw) not in allowed:
                errors[path] = [_g("“%(value)s” is not a choice; use one of: %(choices)s.")
                                % {"value": raw, "choices": ", ".join(sorted(allowed))}]
                continue
            out[param.name] = str(raw)
        else:
            text = str(raw).strip()
            if len(text) > 200:
                errors[path] = [_g("At most 200 characters.")]
                continue
            out[param.name] = text
    if errors:
        raise ValidationFailed(details=errors)
    return out


# Event matching -----------------------------------------------------------------------------


def _after(changes: dict[str, Any], key: str) -> Any:
    value = changes.get(key)
    return value.get("after") if isinstance(value, dict) and "after" in value else value


def _before(changes: dict[str, Any], key: str) -> Any:
    value = changes.get(key)
    return value.get("before") if isinstance(value, dict) and "before" in value else None


def _same(value: Any, wanted: str) -> bool:
    if isinstance(value, dict):
        value = value.get("id", value.get("name"))
    return str(value if value is not None else "") == str(wanted)


def matches(trigger: dict[str, Any], event) -> bool:
    """Whether `event` (a kehu.core.events.Event) is a qualifying change for the trigger."""
    spec = SPECS[trigger["kind"]]
    if event.type not in spec.event_types:
        return False
    changes = event.changes
    kind = spec.key
    if kind == "field_changed":
        key = trigger["field"]
        if key not in changes:
            return False
        if "from" in trigger and not _same(_before(changes, key), trigger["from"]):
            return False
        return "to" not in trigger or _same(_after(changes, key), trigger["to"])
    if kind == "lifecycle_changed":
        if "lifecycle_stage" not in changes:
            return False
        return "to" not in trigger or _same(_after(changes, "lifecycle_stage"), trigger["to"])
    if kind in ("tag_added", "tag_removed"):
        if "tag" not in trigger:
            return True
        name = _after(changes, "tag") if kind == "tag_added" else _before(changes, "tag")
        return str(name or "").lower() == trigger["tag"].lower()
    if kind in ("order_status_changed", "deal_stage_changed"):
        key = "status" if kind == "order_status_changed" else "stage"
        return "to" not in trigger or _same(_after(changes, key), trigger["to"])
    if kind == "ticket_opened":
        return "ticket_kind" not in trigger or _same(_after(changes, "kind"),
                                                     trigger["ticket_kind"])
    if kind == "interaction_logged":
        return "interaction_kind" not in trigger or _same(_after(changes, "kind"),
                                                          trigger["interaction_kind"])
    if kind == "value_tier_changed":
        return "to" not in trigger or _same(_after(changes, "value_tier"), trigger["to"])
    if kind == "churn_risk_changed":
        return "to" not in trigger or _same(_after(changes, "churn_risk"), trigger["to"])
    if kind in ("segment_entered", "segment_left"):
        ref = _after(changes, "segment") if kind == "segment_entered" else _before(
            changes, "segment")
        return isinstance(ref, dict) and ref.get("id") == trigger["segment"]
    if kind == "event_ingested":
        if not _same(_after(changes, "event_type"), trigger["event_type"]):
            return False
        return _property_matches(trigger, event)
    return True


def _property_matches(trigger: dict[str, Any], event) -> bool:
    """Property conditions read the stored event (payloads never copy properties)."""
    if not trigger.get("property"):
        return True
    from django.apps import apps

    from kehu.segments.compiler import _Compiler

    item = {"property": trigger["property"], "op": trigger.get("op", "contains")}
    if item["op"] != "is_set":
        item["value"] = trigger.get("value", "")
    rows = apps.get_model("interactions", "Event").objects.filter(pk=event.object_id)
    return rows.filter(_Compiler.property(item)).exists()


# State: what "qualifies now" means ------------------------------------------------------------


def state_node(trigger: dict[str, Any], *, today: dt.date) -> dict[str, Any] | None:
    """The definition node of the customers the trigger describes now, ANDed with the rule's
    conditions for time rules (what enters) and for dry runs and backfills of event rules
    (customers already in the state the change leads to). None: no state of its own."""
    kind = trigger["kind"]
    if kind == "no_interaction":
        return {"type": "group", "match": "all", "conditions": [
            {"type": "interaction", "did": False, "within_days": trigger["days"]},
            {"type": "field", "field": "created_at", "op": "before",
             "value": (today - dt.timedelta(days=trigger["days"] - 1)).isoformat()}]}
    if kind == "before_anniversary" and trigger["field"] == "birthday":
        return {"type": "field", "field": "birthday", "op": "anniversary_days",
                "value": [0, min(trigger["days"], 365)]}
    if kind == "after_date":
        return {"type": "group", "match": "all", "conditions": [
            {"type": "field", "field": trigger["field"], "op": "is_set"},
            {"type": "field", "field": trigger["field"], "op": "before",
             "value": (today - dt.timedelta(days=trigger["days"] - 1)).isoformat()}]}
    if kind == "field_changed" and "to" in trigger and trigger["field"] not in ("owner", "team"):
        return {"type": "field", "field": trigger["field"], "op": "eq", "value": trigger["to"]}
    if kind == "lifecycle_changed" and "to" in trigger:
        return {"type": "field", "field": "lifecycle_stage", "op": "eq", "value": trigger["to"]}
    if kind == "value_tier_changed" and "to" in trigger:
        return {"type": "field", "field": "value_tier", "op": "eq", "value": trigger["to"]}
    if kind == "tag_added" and "tag" in trigger:
        return {"type": "field", "field": "tags", "op": "has_any", "value": [trigger["tag"]]}
    if kind == "tag_removed" and "tag" in trigger:
        return {"type": "field", "field": "tags", "op": "has_none", "value": [trigger["tag"]]}
    if kind == "ticket_opened" and "ticket_kind" in trigger:
        return {"type": "ticket", "name": trigger["ticket_kind"], "within_days": 30}
    return None


def state_q(trigger: dict[str, Any], *, now: dt.datetime) -> Q | None:
    """Conditions the definition language cannot say: a customer's anniversary of joining."""
    if trigger["kind"] == "before_anniversary" and trigger["field"] == "created_at":
        from kehu.segments.compiler import anniversary_days

        condition = Q(pk__in=[])
        by_month: dict[int, list[int]] = {}
        today = timezone.localtime(now).date()
        for month, day in anniversary_days(today, 0, min(trigger["days"], 365)):
            by_month.setdefault(month, []).append(day)
        for month, days in by_month.items():
            condition |= Q(created_at__month=month, created_at__day__in=days)
        # Not on the day they joined: the first anniversary is a year on.
        return condition & Q(created_at__lt=now - dt.timedelta(days=300))
    return None


# Schedules ----------------------------------------------------------------------------------


def last_occurrence(trigger: dict[str, Any], now: dt.datetime) -> dt.datetime:
    """The latest scheduled moment at or before `now` (local time)."""
    local = timezone.localtime(now)
    hour, minute = (int(x) for x in trigger["at"].split(":"))
    moment = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if moment > local:
        moment -= dt.timedelta(days=1)
    if trigger.get("every") == "week":
        weekday = int(trigger.get("weekday", "0") or 0)
        while moment.weekday() != weekday:
            moment -= dt.timedelta(days=1)
    return moment


def describe(trigger: dict[str, Any]) -> str:
    """One line for lists and run logs: the trigger's label and its settings."""
    spec = SPECS.get(trigger.get("kind"))
    if spec is None:
        return str(trigger.get("kind", ""))
    parts = []
    for param in spec.params:
        if param.name not in trigger:
            continue
        value = trigger[param.name]
        if param.choices is not None and param.kind == "choice":
            value = dict(param.choices()).get(str(value), value)
        parts.append(f"{param.label}: {value}")
    return f"{spec.label}" + (f" ({'; '.join(str(p) for p in parts)})" if parts else "")
