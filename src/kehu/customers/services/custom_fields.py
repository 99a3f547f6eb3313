"""Custom field definitions (admin) and the one validation of custom values by type.

Forms, the API and imports all call `custom_values_clean`, so a value that passes
one door passes them all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils.translation import gettext as _

from kehu.core.actor import Actor
from kehu.core.audit import diff
from kehu.core.errors import ValidationFailed
from kehu.core.events import record_change
from kehu.core.normalize import NormalizationError, parse_date
from kehu.customers.models import CustomFieldDefinition
from kehu.customers.services._common import full_clean

VALIDATION_KEYS = {"min", "max", "max_length", "pattern"}
CHOICE_TYPES = {"choice", "multi_choice"}
DEFAULT_MAX_LENGTH = 500
_TRUE = {"true", "1", "yes", "y", "on", "是", "对", "√"}
_FALSE = {"false", "0", "no", "n", "off", "否", "不", "×"}


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value == []


def _choice_values(definition: CustomFieldDefinition) -> list[str]:
    return [str(c["value"] if isinstance(c, dict) else c) for c in definition.choices or []]


def _clean_one(definition: CustomFieldDefinition, value: Any) -> Any:
    """One value of one field, normalised to JSON; raises ValueError with the message."""
    kind, rules = definition.field_type, definition.validation or {}
    if kind == "text":
        text = str(value).strip()
        limit = int(rules.get("max_length") or DEFAULT_MAX_LENGTH)
        if len(text) > limit:
            raise ValueError(_("At most %(n)d characters.") % {"n": limit})
        if rules.get("pattern") and not re.fullmatch(rules["pattern"], text):
            raise ValueError(_("Does not have the required format."))
        return text
    if kind == "number":
        try:
            number = Decimal(str(value).strip().replace(",", ""))
        except InvalidOperation:
            raise ValueError(_("Enter a number.")) from None
        if not number.is_finite():
            raise ValueError(_("Enter a number."))
        if rules.get("min") is not None and number < Decimal(str(rules["min"])):
            raise ValueError(_("Must be at least %(min)s.") % {"min": rules["min"]})
        if rules.get("max") is not None and number > Decimal(str(rules["max"])):
            raise ValueError(_("Must be at most %(max)s.") % {"max": rules["max"]})
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == "date":
        try:
            day = parse_date(value)
        except NormalizationError as exc:
            raise ValueError(str(exc)) from None
        if rules.get("min") and day.isoformat() < str(rules["min"]):
            raise ValueError(_("Must be on or after %s.") % rules["min"])
        if rules.get("max") and day.isoformat() > str(rules["max"]):
            raise ValueError(_("Must be on or before %s.") % rules["max"])
        return day.isoformat()
    if kind == "choice":
        text = str(value).strip()
        if text not in _choice_values(definition):
            raise ValueError(_("“%s” is not one of the choices.") % text)
        return text
    if kind == "multi_choice":
        items = re.split(r"[,，;；、]", value) if isinstance(value, str) else list(value)
        allowed, picked = _choice_values(definition), []
        for item in (str(i).strip() for i in items):
            if not item:
                continue
            if item not in allowed:
                raise ValueError(_("“%s” is not one of the choices.") % item)
            if item not in picked:
                picked.append(item)
        return picked
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError(_("Enter yes or no."))
    if kind == "url":
        text = str(value).strip()
        try:
            URLValidator(schemes=["http", "https"])(text)
        except ValidationError:
            raise ValueError(_("Enter a valid URL.")) from None
        if len(text) > DEFAULT_MAX_LENGTH:
            raise ValueError(_("At most %(n)d characters.") % {"n": DEFAULT_MAX_LENGTH})
        return text
    if kind == "user":
        from kehu.accounts.models import User

        text = str(value).strip()
        found = (User.objects.filter(pk=int(text)) if text.isdigit()
                 else User.objects.filter(username=text)).filter(is_active=True).first()
        if found is None:
            raise ValueError(_("No active user “%s”.") % text)
        return found.pk
    raise ValueError(_("Unknown field type."))


def custom_values_clean(
    *,
    values: Mapping[str, Any],
    kind: str,
    current: Mapping[str, Any] | None = None,
    definitions: Iterable[CustomFieldDefinition] | None = None,
) -> dict[str, Any]:
    """Validate custom values for a customer of `kind`; returns the complete new dict.

    `values` may be partial: keys not named keep their `current` value; an empty value
    removes the key. Errors come back together as {"custom.<key>": [message]}.
    """
    if definitions is None:
        definitions = CustomFieldDefinition.objects.filter(is_active=True)
    by_key = {d.key: d for d in definitions if d.applies_to in ("both", kind)}
    result = dict(current or {})
    errors: dict[str, list[str]] = {}
    for key, value in values.items():
        definition = by_key.get(key)
        if definition is None:
            errors[f"custom.{key}"] = [_("There is no custom field “%s”.") % key]
            continue
        if _empty(value):
            result.pop(key, None)
            continue
        try:
            result[key] = _clean_one(definition, value)
        except ValueError as exc:
            errors[f"custom.{key}"] = [str(exc)]
    for key, definition in by_key.items():
        if definition.required and _empty(result.get(key)) and f"custom.{key}" not in errors:
            errors[f"custom.{key}"] = [_("%s is required.") % definition.label]
    if errors:
        raise ValidationFailed(details=errors)
    return result


def _check_definition(definition: CustomFieldDefinition) -> None:
    errors: dict[str, list[str]] = {}
    if definition.field_type in CHOICE_TYPES:
        values = _choice_values(definition)
        if not values:
            errors["choices"] = [_("A choice field needs at least one choice.")]
        elif len(set(values)) != len(values):
            errors["choices"] = [_("Choices must be different from each other.")]
    elif definition.choices:
        errors["choices"] = [_("Only choice fields have choices.")]
    rules = definition.validation or {}
    unknown = sorted(set(rules) - VALIDATION_KEYS)
    if unknown:
        errors["validation"] = [_("Unknown rule: %s") % ", ".join(unknown)]
    if rules.get("pattern"):
        try:
            re.compile(rules["pattern"])
        except re.error:
            errors["validation"] = [_("The pattern is not a valid regular expression.")]
    for bound in ("min", "max", "max_length"):
        if rules.get(bound) in (None, ""):
            continue
        try:
            if definition.field_type == "date" and bound != "max_length":
                rules[bound] = parse_date(rules[bound]).isoformat()
            else:
                Decimal(str(rules[bound]))
        except (InvalidOperation, NormalizationError):
            errors["validation"] = [_("The rule “%s” has an invalid value.") % bound]
    if errors:
        raise ValidationFailed(details=errors)


def _definition_snapshot(definition: CustomFieldDefinition) -> dict[str, Any]:
    return {f: getattr(definition, f) for f in (
        "key", "label", "field_type", "applies_to", "required", "choices", "help_text",
        "validation", "position", "is_active")}


def custom_field_define(
    *,
    actor: Actor,
    key: str,
    label: str,
    field_type: str,
    applies_to: str = "both",
    required: bool = False,
    choices: list[Any] | None = None,
    help_text: str = "",
    validation: dict[str, Any] | None = None,
    position: int = 0,
) -> CustomFieldDefinition:
    """Add a custom field for persons, organisations or both (customfield.manage)."""
    actor.require("customfield.manage")
    definition = CustomFieldDefinition(
        key=key.strip(), label=label.strip(), field_type=field_type, applies_to=applies_to,
        required=required, choices=list(choices or []), help_text=help_text,
        validation={k: v for k, v in (validation or {}).items() if v not in (None, "")},
        position=position)
    full_clean(definition)
    if CustomFieldDefinition.objects.filter(key=definition.key).exists():
        raise ValidationFailed(details={"key": [_("A custom field with this key exists.")]})
    _check_definition(definition)
    with transaction.atomic():
        definition.save()
        record_change(actor=actor, action="customfield.create", event="customfield.created",
                      object_type="customfield",
                      object_id=definition.pk, object_repr=definition.key,
                      changes=diff({}, _definition_snapshot(definition)))
    return definition


def custom_field_update(
    *,
    actor: Actor,
    definition: CustomFieldDefinition,
    label: str,
    applies_to: str,
    required: bool,
    choices: list[Any] | None = None,
    help_text: str = "",
    validation: dict[str, Any] | None = None,
    position: int = 0,
    is_active: bool = True,
) -> CustomFieldDefinition:
    """Change a custom field. Key and type stay fixed: stored values were written for them."""
    actor.require("customfield.manage")
    with transaction.atomic():
        definition = CustomFieldDefinition.objects.select_for_update().get(pk=definition.pk)
        before = _definition_snapshot(definition)
        definition.label, definition.applies_to = label.strip(), applies_to
        definition.required, definition.choices = required, list(choices or [])
        definition.help_text, definition.position, definition.is_active = (
            help_text, position, is_active)
        definition.validation = {k: v for k, v in (validation or {}).items()
                                 if v not in (None, "")}
        full_clean(definition)
        _check_definition(definition)
        definition.save(update_fields=["label", "applies_to", "required", "choices",
                                       "help_text", "validation", "position", "is_active"])
        record_change(actor=actor, action="customfield.update", event="customfield.updated",
                      object_type="customfield",
                      object_id=definition.pk, object_repr=definition.key,
                      changes=diff(before, _definition_snapshot(definition)))
    return definition
