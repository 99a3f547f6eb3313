"""How one customer's quality score is worked out, from plain values (no queries here).

score = weighted mean of four components, each 0–100:
  completeness  share of the weighted fields that matter which are filled;
  validity      share of the checked values that pass today's field rules and normalisation
                (phone, email, credit code, ID number agreeing with birthday and gender);
  freshness     100 up to `fresh_days` since the last contact or change, 0 from
                `expired_days`, linear in between;
  duplicates    100, or 0 while the customer is in a pending duplicate candidate.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kehu.core.crypto import decrypt
from kehu.core.field_rules import field_rules_check, is_empty
from kehu.core.normalize import (
    NormalizationError,
    id_number_inconsistencies,
    normalize_email,
    normalize_phone,
    normalize_uscc,
)

COMPONENTS = ("completeness", "validity", "freshness", "duplicates")
DEFAULT_COMPONENT_WEIGHTS = {"completeness": 40, "validity": 30, "freshness": 20,
                             "duplicates": 10}
DEFAULT_COMPLETENESS_WEIGHTS = {
    "person": {"mobile": 3, "email": 2, "gender": 1, "birthday": 1, "province": 1, "city": 1,
               "owner": 2, "source": 1},
    "organisation": {"uscc": 3, "mobile": 2, "email": 1, "industry": 2, "company_size": 1,
                     "website": 1, "province": 1, "city": 1, "owner": 2, "source": 1},
}
_PLAIN_CN_MOBILE = re.compile(r"^\+861[3-9]\d{9}$")
_PLAIN_EMAIL = re.compile(r"^[a-z0-9._%+\-]+@[a-z0-9\-]+(\.[a-z0-9\-]+)+$")


@dataclass(frozen=True)
class Config:
    completeness_weights: Mapping[str, Mapping[str, int]]
    component_weights: Mapping[str, int]
    fresh_days: int = 30
    expired_days: int = 365
    stale_days: int = 180


@dataclass
class Result:
    score: int
    components: dict[str, Any] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)


def config_from(settings_row) -> Config:
    """The effective configuration: the settings row over the defaults."""
    if settings_row is None:
        return Config(DEFAULT_COMPLETENESS_WEIGHTS, DEFAULT_COMPONENT_WEIGHTS)
    return Config(
        completeness_weights=settings_row.completeness_weights or DEFAULT_COMPLETENESS_WEIGHTS,
        component_weights=settings_row.component_weights or DEFAULT_COMPONENT_WEIGHTS,
        fresh_days=settings_row.fresh_days, expired_days=settings_row.expired_days,
        stale_days=settings_row.stale_days)


def completeness(values: Mapping[str, Any], weights: Mapping[str, int]) -> tuple[int, list[str]]:
    total = sum(weights.values())
    if not total:
        return 100, []
    missing = [name for name, weight in weights.items() if weight and is_empty(values.get(name))]
    filled = total - sum(weights[name] for name in missing)
    return round(100 * filled / total), missing


def normalisation_problems(values: Mapping[str, Any], *, id_number_encrypted: str = "",
                           birthday=None, gender: str = "") -> tuple[set[str], set[str]]:
    """(checked, invalid) field keys for the values kehu normalises."""
    checked, invalid = set(), set()
    mobile = values.get("mobile") or ""
    if mobile:
        checked.add("mobile")
        if not _PLAIN_CN_MOBILE.match(mobile):
            try:
                normalize_phone(mobile)
            except NormalizationError:
                invalid.add("mobile")
    email = values.get("email") or ""
    if email:
        checked.add("email")
        if not _PLAIN_EMAIL.match(email):
            try:
                normalize_email(email)
            except NormalizationError:
                invalid.add("email")
    uscc = values.get("uscc") or ""
    if uscc:
        checked.add("uscc")
        try:
            normalize_uscc(uscc)
        except NormalizationError:
            invalid.add("uscc")
    if id_number_encrypted:
        checked.add("id_number")
        try:
            clear = decrypt(id_number_encrypted)
        except Exception:  # noqa: BLE001 - an unreadable ciphertext is an invalid value
            invalid.add("id_number")
        else:
            if id_number_inconsistencies(clear, birthday=birthday, gender=gender or None):
                invalid.add("id_number")
    return checked, invalid


def freshness(age_days: int, config: Config) -> int:
    if age_days <= config.fresh_days:
        return 100
    if age_days >= config.expired_days:
        return 0
    span = config.expired_days - config.fresh_days
    return round(100 * (config.expired_days - age_days) / span)


def score_customer(
    *,
    kind: str,
    values: Mapping[str, Any],
    rules: Iterable[Any],
    config: Config,
    last_touched: dt.datetime,
    now: dt.datetime,
    pending_duplicates: int = 0,
    id_number_encrypted: str = "",
) -> Result:
    """The quality of one customer. `values` are its rule values (see
    kehu.customers.rule_fields.stored_values) plus "owner"; `rules` those applicable to it."""
    rules = list(rules)
    complete, missing = completeness(values, config.completeness_weights.get(kind, {}))
    checked, invalid = normalisation_problems(
        values, id_number_encrypted=id_number_encrypted, birthday=values.get("birthday"),
        gender=values.get("gender") or "")
    checked |= {rule.field for rule in rules
                if rule.rule == "required" or not is_empty(values.get(rule.field))}
    invalid |= set(field_rules_check(values, kind=kind, rules=rules))
    valid = 100 if not checked else round(100 * (1 - len(invalid) / len(checked)))
    age_days = max(0, (now - last_touched).days)
    parts = {
        "completeness": complete,
        "validity": valid,
        "freshness": freshness(age_days, config),
        "duplicates": 0 if pending_duplicates else 100,
    }
    weights = {name: max(0, int(config.component_weights.get(name, 0))) for name in COMPONENTS}
    total = sum(weights.values())
    score = round(sum(parts[n] * weights[n] for n in COMPONENTS) / total) if total else 100
    return Result(
        score=score,
        components={**parts, "missing": missing, "invalid": sorted(invalid),
                    "age_days": age_days, "pending_duplicates": pending_duplicates},
        missing=missing, invalid=sorted(invalid))


def joined(keys: Iterable[str]) -> str:
    """",a,b," so that `__contains=",a,"` finds exactly the key a."""
    keys = list(keys)
    return f",{','.join(keys)}," if keys else ""
