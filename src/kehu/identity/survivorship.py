"""Survivorship: which value a merged customer keeps, per field, by a named rule.

Each choosable field (see `choices.choosable_fields`) follows one rule. The defaults are
`DEFAULT_RULES`; an admin may change a field's rule on the survivorship settings page
(`SurvivorshipRule` rows, audited). `propose` applies the rules in force to the records
being merged and says, per field, whose value survives (or the combined value) and why.

Rules (documented in docs/identity.md):
- agreement: the value most records share; on a tie the survivor's, then the longest.
- most_advanced: the most advanced lifecycle stage (lead < prospect < churned < customer
  < loyal: a churned record only says the person once bought).
- survivor: the survivor's value; another record's (in the order given) if it has none.
- verified_first: a verified value first, then the survivor's, then another's.
- most_recent: the value of the most recently updated record that has one.
- join: every record's distinct text, the survivor's first, one paragraph each.
- union: every record's values together, the survivor's first, without repeats.
- review: when the records hold different values, nothing is chosen: the reviewer must
  pick one, and an automatic merge leaves the group for review.
In every rule a filled value beats an empty one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _

from kehu.customers.models import Customer, CustomFieldDefinition
from kehu.identity.choices import choosable_fields, field_value, primary_row

AGREEMENT, MOST_ADVANCED, SURVIVOR, VERIFIED_FIRST = (
    "agreement", "most_advanced", "survivor", "verified_first")
MOST_RECENT, JOIN, UNION, REVIEW = "most_recent", "join", "union", "review"
CHOSEN = "chosen"  # not a rule: the reviewer picked the value

RULES: dict[str, Any] = {
    AGREEMENT: _("Agreement: the value most records share; on a tie the survivor's, then "
                 "the longest"),
    MOST_ADVANCED: _("The most advanced lifecycle stage"),
    SURVIVOR: _("The survivor's value (another record's when the survivor has none)"),
    VERIFIED_FIRST: _("A verified value first, then the survivor's"),
    MOST_RECENT: _("The most recently updated record's value"),
    JOIN: _("All records' texts joined"),
    UNION: _("All records' values together"),
    REVIEW: _("Left to the reviewer when the records disagree"),
    CHOSEN: _("Chosen by the reviewer"),
}
# Short names for the rule menus.
RULE_NAMES: dict[str, Any] = {
    AGREEMENT: _("Agreement of the records"), MOST_ADVANCED: _("Most advanced"),
    SURVIVOR: _("Survivor's value"), VERIFIED_FIRST: _("Verified first"),
    MOST_RECENT: _("Most recently updated"), JOIN: _("Join the texts"),
    UNION: _("Union of the values"), REVIEW: _("Reviewer decides"),
}

GENERIC = (AGREEMENT, SURVIVOR, MOST_RECENT, REVIEW)
STAGE_RANK = {"lead": 0, "prospect": 1, "churned": 2, "customer": 3, "loyal": 4}

DEFAULT_RULES: dict[str, str] = {
    "name": AGREEMENT, "gender": AGREEMENT, "birthday": REVIEW, "title": SURVIVOR,
    "uscc": REVIEW, "industry": SURVIVOR, "company_size": SURVIVOR,
    "revenue_band": SURVIVOR, "website": SURVIVOR, "source": SURVIVOR,
    "lifecycle_stage": MOST_ADVANCED, "preferred_channel": SURVIVOR,
    "product_interests": UNION, "notes": JOIN, "owner": SURVIVOR, "team": SURVIVOR,
    "id_number": REVIEW, "mobile": VERIFIED_FIRST, "email": VERIFIED_FIRST,
    "address": SURVIVOR,
}
# Rules that build a value from every record rather than take one record's.
COMBINING = frozenset({JOIN, UNION})
# What a merge always does with the rows that hang off a customer (shown, not configurable).
FIXED = {"identifiers": UNION, "tags": UNION}


def _custom_types() -> dict[str, str]:
    return dict(CustomFieldDefinition.objects.values_list("key", "field_type"))


def allowed_rules(field: str, custom_types: dict[str, str] | None = None) -> tuple[str, ...]:
    """The rules a field may follow."""
    if field.startswith("custom."):
        kind = (custom_types if custom_types is not None else _custom_types()).get(field[7:])
        extra = {"text": (JOIN,), "multi_choice": (UNION,)}.get(kind or "", ())
        return (*extra, *GENERIC)
    extra = {"lifecycle_stage": (MOST_ADVANCED,), "notes": (JOIN,),
             "product_interests": (UNION,), "mobile": (VERIFIED_FIRST,),
             "email": (VERIFIED_FIRST,)}.get(field, ())
    return (*extra, *GENERIC)


def default_rule(field: str, custom_types: dict[str, str] | None = None) -> str:
    if field.startswith("custom."):
        kind = (custom_types if custom_types is not None else _custom_types()).get(field[7:])
        return {"date": REVIEW, "multi_choice": UNION}.get(kind or "", SURVIVOR)
    return DEFAULT_RULES.get(field, SURVIVOR)


def rules_in_force(fields: Sequence[str]) -> dict[str, str]:
    """{field: rule} for these fields: the admin's choice where valid, else the default."""
    from kehu.identity.models import SurvivorshipRule

    types = _custom_types()
    stored = dict(SurvivorshipRule.objects.filter(field__in=list(fields))
                  .values_list("field", "rule"))
    rules = {}
    for field in fields:
        rule = stored.get(field)
        rules[field] = rule if rule in allowed_rules(field, types) else default_rule(field, types)
    return rules


@dataclass(frozen=True)
class Proposal:
    """What the survivor keeps for one field: a record's value (`source`), a value built
    from every record (`combined`, for join and union), or nothing yet (`needs_choice`)."""

    field: str
    rule: str
    source: int | None = None
    combined: Any = None
    needs_choice: bool = False

    @property
    def reason(self) -> str:
        return str(RULES[self.rule])


def _filled(value: Any) -> bool:
    return value not in (None, "", [], {})


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def _verified(customer: Customer, field: str) -> bool:
    if field not in ("mobile", "email"):
        return False
    row = primary_row(customer, field)
    return bool(row is not None and row.verified)


def _pick(rule: str, field: str, everyone: list[Customer],
          values: dict[int, Any]) -> Proposal:
    survivor = everyone[0]
    filled = [c for c in everyone if _filled(values[c.pk])]
    if not filled:
        return Proposal(field, rule, source=survivor.pk)
    first = filled[0]  # the survivor when it has a value
    if rule == AGREEMENT:
        counts: dict[str, int] = {}
        for c in filled:
            counts[_key(values[c.pk])] = counts.get(_key(values[c.pk]), 0) + 1
        top = max(counts.values())
        tied = [c for c in filled if counts[_key(values[c.pk])] == top]
        if any(c.pk == survivor.pk for c in tied):
            return Proposal(field, rule, source=survivor.pk)
        best = max(tied, key=lambda c: len(str(values[c.pk])))  # first of the longest
        return Proposal(field, rule, source=best.pk)
    if rule == MOST_ADVANCED:
        best = max(filled, key=lambda c: (STAGE_RANK.get(values[c.pk], -1), c.pk == survivor.pk))
        return Proposal(field, rule, source=best.pk)
    if rule == VERIFIED_FIRST:
        verified = [c for c in filled if _verified(c, field)]
        return Proposal(field, rule, source=(verified[0] if verified else first).pk)
    if rule == MOST_RECENT:
        best = max(filled, key=lambda c: (c.updated_at, c.pk == survivor.pk))
        return Proposal(field, rule, source=best.pk)
    if rule == JOIN:
        texts = list(dict.fromkeys(str(values[c.pk]).strip() for c in filled))
        texts = [t for t in texts if t]
        if len(texts) <= 1:
            return Proposal(field, rule, source=first.pk)
        return Proposal(field, rule, combined="\n\n".join(texts))
    if rule == UNION:
        merged: list[Any] = []
        for c in filled:
            value = values[c.pk]
            for item in (value if isinstance(value, list) else [value]):
                if item not in merged:
                    merged.append(item)
        if merged == values[first.pk] or (not isinstance(values[first.pk], list)
                                          and len(merged) == 1):
            return Proposal(field, rule, source=first.pk)
        return Proposal(field, rule, combined=merged)
    if rule == REVIEW:
        if len({_key(values[c.pk]) for c in filled}) > 1:
            return Proposal(field, rule, needs_choice=True)
        return Proposal(field, rule, source=first.pk)
    return Proposal(field, SURVIVOR, source=first.pk)  # SURVIVOR


def propose(survivor: Customer, others: Sequence[Customer],
            rules: dict[str, str] | None = None) -> dict[str, Proposal]:
    """{field: Proposal} for merging `others` into `survivor` under the rules in force
    (or the given ones)."""
    everyone = [survivor, *others]
    fields = choosable_fields(survivor.kind, everyone)
    rules = rules if rules is not None else rules_in_force(fields)
    proposals = {}
    for field in fields:
        # ID numbers are compared by their blind index: two different numbers can share a
        # masked form.
        values = {c.pk: (c.id_number_index if field == "id_number" else field_value(c, field))
                  for c in everyone}
        proposals[field] = _pick(rules[field], field, everyone, values)
    return proposals
