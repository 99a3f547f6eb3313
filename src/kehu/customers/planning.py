"""The rules every customer write plans by, as pure functions (no database, no writes).

customer_create / customer_update (one row, through the card, the API and the CLI) and
customers_upsert_many (the set-based import writer) both decide with these functions, so a
row the card refuses is refused by an import with the same field and message, and an
import stores what the card stores. tests/customers/test_write_parity.py runs the same rows
through both paths and compares outcomes, errors and audit entries.

A `Rules` bundle carries what the checks need from the database, read once (per write, or
per chunk of an import): the data steward's field rules and the active custom fields.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.utils.translation import gettext as _

from kehu.core.field_rules import active_rules, field_rules_check
from kehu.customers import fields as catalogue
from kehu.customers.models import Customer, CustomFieldDefinition
from kehu.customers.rule_fields import COLUMN_FIELDS, applicable_rules, label_for
from kehu.matching import names_conflict

# Values that count as "not given".
EMPTY = (None, "", [], {})
ON_NAME_CONFLICT = ("review", "reject", "update")


@dataclass
class Rules:
    """Field rules and custom field definitions in force, per kind of customer."""

    field_rules: dict[str, list[Any]] = field(default_factory=dict)
    custom_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    required_custom: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    # The form designer's field behaviour rules (required / read-only / hidden when …).
    behaviour: list[Behaviour] = field(default_factory=list)

    @classmethod
    def load(cls, *, custom: bool = True) -> Rules:
        """Read the rules in force; `custom=False` skips the custom field definitions when no
        field rule needs them (one query for a write under no rules)."""
        rules = cls()
        rules.behaviour = behaviour_rules()
        every = active_rules()
        if not custom and not every and not any(
                b.field.startswith("custom.") for b in rules.behaviour):
            return rules
        definitions = list(CustomFieldDefinition.objects.filter(is_active=True))
        for kind, _label in Customer.KINDS:
            mine = [d for d in definitions if d.applies_to in ("both", kind)]
            rules.custom_labels[kind] = {d.key: d.label for d in mine}
            rules.required_custom[kind] = [(d.key, d.label) for d in mine if d.required]
            rules.field_rules[kind] = applicable_rules(
                [r for r in every if r.applies_to in ("both", kind)], kind,
                rules.custom_labels[kind])
        return rules


def kind_field_error(kind: str, name: str, value: Any) -> str | None:
    """A person-only field given to an organisation, or the other way round."""
    if value in (None, ""):
        return None
    found = catalogue.field(name)
    if found is None or found.applies_to(kind):
        return None
    if found.kinds == (catalogue.PERSON,):
        return _("Only persons have this field.")
    return _("Only organisations have this field.")


def id_number_agreement(errors: dict[str, list[str]], columns: dict[str, Any], *,
                        birthday: date | None, gender: str, birthday_of_id: date,
                        gender_of_id: str) -> None:
    """The birth date and gender in an ID number fill empty fields and must match filled
    ones. `columns` are the values being written (filled in place); birthday and gender
    the customer's current values."""
    birthday = columns.get("birthday", birthday)
    if birthday and birthday != birthday_of_id:
        errors.setdefault("id_number", []).append(
            _("The birth date in the ID number does not match the birthday."))
    elif not birthday:
        columns["birthday"] = birthday_of_id
    gender = columns.get("gender", gender)
    if gender in ("", "unknown", None):
        columns["gender"] = gender_of_id
    elif gender != gender_of_id:
        errors.setdefault("id_number", []).append(
            _("The gender in the ID number does not match the gender."))


def sensitive_errors(access, names: Iterable[str]) -> dict[str, list[str]]:
    """The fields among `names` this role may not change."""
    if access is None:
        return {}
    guarded = catalogue.sensitive_inputs()
    return {name: [_("Your role may not change this field.")] for name in names
            if name in guarded and not access.can_edit_field(guarded[name])}


def required_custom_errors(rules: Rules, kind: str, custom: Mapping[str, Any],
                           errors: Mapping[str, Any]) -> dict[str, list[str]]:
    return {f"custom.{key}": [_("%s is required.") % label]
            for key, label in rules.required_custom.get(kind, [])
            if custom.get(key) in (None, "", []) and f"custom.{key}" not in errors}


def rule_values(*, columns: Mapping[str, Any], mobile: str, email: str, wechat: str,
                id_number: str, province: str, city: str,
                custom: Mapping[str, Any]) -> dict[str, Any]:
    """A customer's values as the data steward's rules read them, after the write."""
    values = {name: columns.get(name) for name in COLUMN_FIELDS}
    values.update(province=province, city=city, mobile=mobile, email=email, wechat=wechat,
                  id_number=id_number)
    for key, value in (custom or {}).items():
        values[f"custom.{key}"] = value
    return values


def written_fields(names: Iterable[str], custom: Mapping[str, Any] | None) -> set[str]:
    """The rule fields a write touches (an update checks only these)."""
    only: set[str] = set()
    for name in names:
        if name == "address":
            only |= {"province", "city"}
        elif name == "custom":
            only |= {f"custom.{key}" for key in (custom or {})}
        else:
            only.add(name)
    return only


def field_rule_errors(rules: Rules, kind: str, values: Mapping[str, Any],
                      only: set[str] | None, errors: Mapping[str, Any]) -> dict[str, list[str]]:
    """The data steward's rules (kehu.core.field_rules) against the values a write leaves.
    A create checks every rule; an update only the fields it writes, so a rule added later
    never blocks an unrelated edit of an older record (its quality score shows it). A value
    already rejected keeps its own error."""
    found_rules = rules.field_rules.get(kind) or []
    if not found_rules:
        return {}
    labels = rules.custom_labels.get(kind) or {}
    found = field_rules_check(values, kind=kind, only=only, rules=found_rules,
                              label=lambda name: label_for(name, labels))
    return {name: messages for name, messages in found.items() if name not in errors}


def name_conflict(stored: str, incoming: str | None) -> bool:
    """Whether a row matched by an identifier names clearly another person than the stored
    customer: not the same name, nor a pinyin, traditional/simplified or typo variant of it
    (kehu.matching's name comparison)."""
    if not incoming or not stored or incoming == stored:
        return False
    return names_conflict(stored, incoming)


def name_conflict_message(kind_field: str, customer_name: str, customer_id: int) -> str:
    """"手机号码已属于客户 李寻欢（#12）"."""
    found = catalogue.field(kind_field)
    label = found.identifier_label if found is not None and found.identifier_label else (
        found.label if found is not None else kind_field)
    return _("%(identifier)s already belongs to customer %(name)s (#%(id)s).") % {
        "identifier": label, "name": customer_name, "id": customer_id}



# Field behaviour (the form designer) -------------------------------------------------------

REQUIRED, READONLY, HIDDEN = "required", "readonly", "hidden"
CONDITION_OPS = ("eq", "ne", "in", "not_in", "contains", "is_set", "is_not_set")


@dataclass(frozen=True)
class Behaviour:
    """One field behaviour rule as the write path reads it."""

    field: str
    effect: str
    condition: Mapping[str, Any]
    roles: tuple[str, ...] = ()

    def concerns(self, role: str | None) -> bool:
        return not self.roles or (role is not None and role in self.roles)

    def condition_fields(self) -> set[str]:
        return {c.get("field", "") for c in (self.condition or {}).get("conditions") or ()}


def behaviour_rules() -> list[Behaviour]:
    """The active field behaviour rules (one query)."""
    from kehu.customers.models import FieldBehaviour

    return [Behaviour(field=b.field, effect=b.effect, condition=b.condition or {},
                      roles=tuple(b.roles or ()))
            for b in FieldBehaviour.objects.filter(is_active=True).order_by("id")]


def _plain(value: Any) -> Any:
    if value in EMPTY:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return sorted(str(v) for v in value)
    return str(value).strip()


def _test(op: str, value: Any, wanted: Any) -> bool:
    have = _plain(value)
    if op == "is_set":
        return have != ""
    if op == "is_not_set":
        return have == ""
    options = [str(w).strip() for w in (wanted if isinstance(wanted, list | tuple) else [wanted])]
    if isinstance(have, list):
        hit = any(item in options for item in have)
    elif op == "contains":
        return any(option and option in have for option in options)
    else:
        hit = have in options
    return hit if op in ("eq", "in") else not hit


def condition_holds(condition: Mapping[str, Any] | None, values: Mapping[str, Any]) -> bool:
    """A behaviour condition on a record's values (`behaviour_values`): all or any of its
    tests; no tests: always."""
    tests = list((condition or {}).get("conditions") or ())
    if not tests:
        return True
    results = (_test(t.get("op", "eq"), values.get(t.get("field", "")), t.get("value"))
               for t in tests)
    return any(results) if (condition or {}).get("match") == "any" else all(results)


def behaviour_values(kind: str, values: Mapping[str, Any], *, owner: Any = None,
                     address: Any = None) -> dict[str, Any]:
    """A record's values as behaviour conditions read them: the rule values (`rule_values`)
    plus the kind, the address (its province and city when no raw text) and the owner."""
    out = dict(values)
    out["kind"] = kind
    if address is None:
        address = " ".join(str(out.get(k) or "") for k in ("province", "city")).strip()
    out["address"] = address or ""
    out["owner"] = owner if owner is not None else out.get("owner", "")
    return out


def behaviour_state(rules: Rules, kind: str, role: str | None,
                    values: Mapping[str, Any]) -> dict[str, set[str]]:
    """Field -> the effects in force for this role on a record with these values (the form
    and the card render by it: hidden fields left out, read-only ones disabled)."""
    state: dict[str, set[str]] = {}
    for rule in rules.behaviour:
        if rule.concerns(role) and _applies(rule.field, kind) and condition_holds(
                rule.condition, values):
            state.setdefault(rule.field, set()).add(rule.effect)
    return state


def _applies(name: str, kind: str) -> bool:
    found = catalogue.field(name)
    return found is None or found.applies_to(kind)


def behaviour_errors(rules: Rules, kind: str, role: str | None, *,
                     before: Mapping[str, Any], after: Mapping[str, Any],
                     written: set[str], creating: bool,
                     errors: Mapping[str, Any]) -> dict[str, list[str]]:
    """The form designer's field behaviour rules on one write, the same for the page, the
    API and imports (docs/forms.md):

    - required: the value the write leaves is empty while the condition holds on the values
      it leaves (an update is checked when it writes the field or a field of the condition);
    - read-only / hidden: the write changes the field while the condition holds on the
      stored record (on a create: on the values it leaves). `before` holds the stored values
      (for a create the defaults), so writing back an unchanged value is no change.
    """
    found: dict[str, list[str]] = {}
    if not rules.behaviour:
        return found
    labels = rules.custom_labels.get(kind) or {}
    for rule in rules.behaviour:
        name = rule.field
        if name in errors or name in found or not rule.concerns(role) or not _applies(
                name, kind):
            continue
        if name.startswith("custom.") and name[len("custom."):] not in labels:
            continue  # a custom field this kind of customer does not have
        label = label_for(name, labels)
        if rule.effect == REQUIRED:
            if not creating and not (written & ({name} | rule.condition_fields())):
                continue
            if _plain(after.get(name)) == "" and condition_holds(rule.condition, after):
                found[name] = [_("%s is required.") % label]
            continue
        if name not in written:
            continue
        changed = (_plain(after.get(name)) != "" if name == "id_number"
                   else _plain(before.get(name)) != _plain(after.get(name)))
        if not changed or not condition_holds(rule.condition, after if creating else before):
            continue
        if rule.effect == READONLY:
            found[name] = [_("%s is read-only here: it cannot be changed.") % label]
        else:
            found[name] = [_("%s is hidden for you here: it cannot be changed.") % label]
    return found
