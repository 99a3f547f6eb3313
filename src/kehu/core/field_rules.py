"""The one implementation of field validation rules (kehu.core.models.FieldRule).

Customer services call `field_rules_check` on every create and update (pages, the card's
inline edit, the API and imports all go through them); the quality score calls it to find
stored values that fail today's rules. Nothing else interprets a rule.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _

from kehu.core.models import FieldRule

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value in ([], {})


def active_rules(*, kind: str | None = None) -> list[FieldRule]:
    """The rules in force, for one kind of customer ("person", "organisation") or all."""
    rules = FieldRule.objects.filter(is_active=True).order_by("field", "id")
    if kind is not None:
        rules = rules.filter(applies_to__in=("both", kind))
    return list(rules)


def _items(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _text(value: Any) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


def _bound(raw: str) -> Decimal | str | None:
    """A range bound: an ISO date (kept as text, which sorts like the date) or a number."""
    raw = (raw or "").strip()
    if not raw:
        return None
    if _ISO_DATE.match(raw):
        return raw
    return Decimal(raw)


def _outside(rule: FieldRule, value: Any) -> str | None:
    low, high = _bound(rule.min_value), _bound(rule.max_value)
    dated = isinstance(low, str) or isinstance(high, str)
    text = _text(value)
    if dated:
        if not _ISO_DATE.match(text[:10]):
            return _("%(field)s must be a date.")
        text = text[:10]
        if low is not None and text < low:
            return _("%(field)s must be on or after %(min)s.")
        if high is not None and text > high:
            return _("%(field)s must be on or before %(max)s.")
        return None
    try:
        number = Decimal(text.replace(",", ""))
    except InvalidOperation:
        return _("%(field)s must be a number.")
    if not number.is_finite():
        return _("%(field)s must be a number.")
    if low is not None and number < low:
        return _("%(field)s must be at least %(min)s.")
    if high is not None and number > high:
        return _("%(field)s must be at most %(max)s.")
    return None


def rule_violation(rule: FieldRule, value: Any, *, label: str) -> str | None:
    """The message when `value` breaks `rule`, else None. Empty values break only `required`."""
    template = None
    if rule.rule == FieldRule.REQUIRED:
        if is_empty(value):
            template = _("%(field)s is required.")
    elif is_empty(value):
        return None
    elif rule.rule == FieldRule.FORMAT:
        if any(not re.fullmatch(rule.pattern, _text(item)) for item in _items(value)):
            template = _("%(field)s does not have the required format.")
    elif rule.rule == FieldRule.RANGE:
        template = next((m for m in (_outside(rule, item) for item in _items(value)) if m), None)
    elif rule.rule == FieldRule.ALLOWED:
        allowed = {_text(v) for v in rule.allowed_values or []}
        if any(_text(item) not in allowed for item in _items(value)):
            template = _("%(field)s must be one of: %(values)s.")
    if template is None:
        return None
    if rule.message:
        template = rule.message
    values = "、".join(_text(v) for v in rule.allowed_values or [])
    try:
        return template % {"field": label, "min": rule.min_value, "max": rule.max_value,
                           "values": values}
    except (KeyError, ValueError, TypeError):
        return template


def field_rules_check(
    values: Mapping[str, Any],
    *,
    kind: str,
    only: Iterable[str] | None = None,
    rules: Iterable[FieldRule] | None = None,
    label: Callable[[str], str] = str,
) -> dict[str, list[str]]:
    """Check a record's values against the active rules for its kind.

    `values` maps field keys ("email", "custom.level") to the record's values; `only`
    limits the check to the fields being written (None: every rule). Returns
    {field: [messages]}, empty when everything passes.
    """
    wanted = None if only is None else set(only)
    errors: dict[str, list[str]] = {}
    for rule in (active_rules(kind=kind) if rules is None else rules):
        if rule.applies_to not in ("both", kind) or not rule.is_active:
            continue
        if wanted is not None and rule.field not in wanted:
            continue
        message = rule_violation(rule, values.get(rule.field), label=label(rule.field))
        if message:
            errors.setdefault(rule.field, []).append(message)
    return errors


def rule_definition_errors(rule: FieldRule) -> dict[str, list[str]]:
    """What is wrong with a rule itself (bad pattern, bounds, empty value list)."""
    errors: dict[str, list[str]] = {}
    if rule.rule == FieldRule.FORMAT:
        if not rule.pattern:
            errors["pattern"] = [_("A format rule needs a pattern.")]
        else:
            try:
                re.compile(rule.pattern)
            except re.error:
                errors["pattern"] = [_("The pattern is not a valid regular expression.")]
    elif rule.rule == FieldRule.RANGE:
        bounds = {}
        for name in ("min_value", "max_value"):
            try:
                bounds[name] = _bound(getattr(rule, name))
            except InvalidOperation:
                errors[name] = [_("Enter a number or a date (YYYY-MM-DD).")]
        if not errors:
            low, high = bounds["min_value"], bounds["max_value"]
            if low is None and high is None:
                errors["min_value"] = [_("A range rule needs a minimum or a maximum.")]
            elif low is not None and high is not None:
                if type(low) is not type(high):
                    errors["max_value"] = [_("Both bounds must be numbers or both dates.")]
                elif low > high:
                    errors["max_value"] = [_("The maximum is below the minimum.")]
    elif rule.rule == FieldRule.ALLOWED:
        if not isinstance(rule.allowed_values, list) or not [
                v for v in rule.allowed_values if _text(v)]:
            errors["allowed_values"] = [_("List at least one allowed value.")]
    return errors
