"""Which customer fields validation rules (kehu.core.FieldRule) and the quality score may name,
and how a customer's values are read for them. Shared by the customer services (enforcing
rules on write), the rule pages and the quality score, so all speak of the same fields."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.utils.translation import gettext_lazy as _

from kehu.customers.models import Customer, CustomFieldDefinition

# Plain columns read straight from the customer row.
COLUMN_FIELDS = ("name", "gender", "birthday", "title", "company", "uscc", "industry",
                 "company_size", "revenue_band", "website", "source", "lifecycle_stage", "preferred_channel",
                 "notes", "province", "city")
PERSON_FIELDS = {"gender", "birthday", "title", "company", "id_number"}
ORGANISATION_FIELDS = {"uscc", "industry", "company_size", "revenue_band", "website"}

_LABELS = {
    "name": _("Name"), "gender": _("Gender"), "birthday": _("Birthday"), "title": _("Title"),
    "company": _("Company"),
    "id_number": _("ID number"), "uscc": _("Unified social credit code"),
    "industry": _("Industry"), "company_size": _("Company size"),
    "revenue_band": _("Revenue band"), "website": _("Website"), "source": _("Source"),
    "lifecycle_stage": _("Lifecycle stage"), "preferred_channel": _("Preferred channel"),
    "notes": _("Notes"), "province": _("Province"), "city": _("City"),
    "mobile": _("Mobile"), "email": _("Email"), "wechat": _("WeChat"),
}


def rule_fields(definitions: Iterable[CustomFieldDefinition] | None = None) -> dict[str, str]:
    """Every field key a rule may name, with its label in the active language."""
    if definitions is None:
        definitions = CustomFieldDefinition.objects.filter(is_active=True)
    fields = {key: str(label) for key, label in _LABELS.items()}
    for definition in definitions:
        fields[f"custom.{definition.key}"] = definition.label
    return fields


def field_applies(field: str, kind: str) -> bool:
    """Whether a field exists for this kind of customer (custom fields: see their definition)."""
    if field in PERSON_FIELDS:
        return kind == Customer.KIND_PERSON
    if field in ORGANISATION_FIELDS:
        return kind == Customer.KIND_ORGANISATION
    return True


def label_for(field: str, labels: Mapping[str, str] | None = None) -> str:
    """A field's label; `labels` may name custom fields by "custom.<key>" or by key."""
    if labels and field in labels:
        return str(labels[field])
    if labels and field.startswith("custom.") and field[len("custom."):] in labels:
        return str(labels[field[len("custom."):]])
    if field in _LABELS:
        return str(_LABELS[field])
    return field[len("custom."):] if field.startswith("custom.") else field


def stored_values(row: Mapping[str, Any], *, wechat: str = "") -> dict[str, Any]:
    """A customer's rule values from a row of `Customer.objects.values(*STORED_COLUMNS)`."""
    values = {name: row.get(name) for name in COLUMN_FIELDS}
    values.update(mobile=row.get("primary_mobile") or "", email=row.get("primary_email") or "",
                  id_number=row.get("id_number_masked") or "", wechat=wechat)
    for key, value in (row.get("custom") or {}).items():
        values[f"custom.{key}"] = value
    return values


STORED_COLUMNS = ("id", "kind", *COLUMN_FIELDS, "primary_mobile", "primary_email",
                  "id_number_masked", "custom")


def applicable_rules(rules: Iterable[Any], kind: str,
                     custom_keys: Iterable[str] | None = None) -> list[Any]:
    """The rules that concern a customer of this kind: its own fields, and custom fields
    defined (and active) for its kind. `custom_keys` saves the query when known."""
    rules = list(rules)
    if custom_keys is None and any(r.field.startswith("custom.") for r in rules):
        custom_keys = custom_keys_for(kind)
    keys = set(custom_keys or ())
    return [r for r in rules if r.applies_to in ("both", kind) and (
        r.field[len("custom."):] in keys if r.field.startswith("custom.")
        else field_applies(r.field, kind))]


def custom_keys_for(kind: str) -> dict[str, str]:
    """The active custom fields of this kind of customer: key -> label."""
    return dict(CustomFieldDefinition.objects.filter(
        is_active=True, applies_to__in=("both", kind)).values_list("key", "label"))
