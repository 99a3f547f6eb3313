"""Turn a MatchRecord (raw values as typed) into the flat row of matching keys the model
compares, and into the blocking keys that find candidate pairs.

All normalisation comes from `kehu.core.normalize`; this module only decides which key
feeds which column. Bad values never raise here: they become None (missing).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from kehu.core.normalize import (
    NormalizationError,
    company_match_key,
    date_match_key,
    email_match_key,
    id_number_match_key,
    name_match_key,
    name_pinyin,
    normalize_gender,
    parse_address,
    phone_match_key,
)

MatchRecord = dict[str, Any]

_IS_CJK = re.compile(r"[\u3400-\u9fff]")

# The columns of a prepared row, in order; `unique_id` is str(record["id"]).
COLUMNS = (
    "unique_id", "name_key", "name_pinyin", "surname_pinyin", "given_pinyin", "phone_1",
    "phone_2", "email", "id_number", "id_valid", "birthday", "gender", "province", "city",
    "district", "address_detail", "company_key", "postcode",
)


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


@lru_cache(maxsize=200_000)
def _name(raw: str) -> tuple[str | None, str | None, str | None, str | None]:
    pinyin = name_pinyin(raw)
    key = name_match_key(raw)
    return (key or None, pinyin.key or None, pinyin.family or None, pinyin.given or None)


@lru_cache(maxsize=200_000)
def _name_part(raw: str) -> str | None:
    """A surname or given name typed in its own field, as pinyin syllables in order."""
    return " ".join(name_pinyin(raw).syllables) or None


@lru_cache(maxsize=200_000)
def _address(raw: str) -> tuple[str, str, str, str]:
    parts = parse_address(raw)
    return parts.province, parts.city, parts.district, parts.detail.lower()


@lru_cache(maxsize=100_000)
def _company(raw: str) -> str | None:
    return company_match_key(raw) or None


@lru_cache(maxsize=50_000)
def _date(raw: str) -> str | None:
    return date_match_key(raw)


@lru_cache(maxsize=64)
def _gender(raw: str) -> str | None:
    try:
        gender = normalize_gender(raw)
    except NormalizationError:
        return None
    return None if gender == "unknown" else gender


@lru_cache(maxsize=100_000)
def _id_valid(value: str) -> bool:
    """Check digit and birth date right (the area-code lookup is too slow for a batch and
    adds nothing to telling two people apart)."""
    if len(value) != 18 or not value[:17].isdigit() or value[17] != ric.calc_check_digit(value):
        return False
    try:
        ric.get_birth_date(value)
    except ValidationError:
        return False
    return True


def _text(record: Mapping[str, Any], key: str) -> str | None:
    value = record.get(key)
    return None if _blank(value) else str(value).strip()


def prepare_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """The flat normalised row the model compares (see COLUMNS); never raises on bad input."""
    name = _text(record, "name")
    surname_raw, given_raw = _text(record, "surname"), _text(record, "given_name")
    if not name and (surname_raw or given_raw):
        parts = [p for p in (surname_raw, given_raw) if p]
        name = "".join(parts) if _IS_CJK.search("".join(parts)) else " ".join(reversed(parts))
    name_key, pinyin, surname, given = _name(name) if name else (None, None, None, None)
    if surname_raw or given_raw:  # the record says which part is which
        surname = _name_part(surname_raw) if surname_raw else None
        given = _name_part(given_raw) if given_raw else None
    phones = []
    for key in ("mobile", "phone"):
        raw = _text(record, key)
        e164 = phone_match_key(raw) if raw else None
        if e164 and e164 not in phones:
            phones.append(e164)
    email_raw = _text(record, "email")
    id_raw = _text(record, "id_number")
    id_number = id_number_match_key(id_raw) if id_raw else None
    birthday_raw = record.get("birthday")
    if hasattr(birthday_raw, "isoformat"):
        birthday = birthday_raw.isoformat()[:10]
    else:
        birthday = _date(str(birthday_raw)) if not _blank(birthday_raw) else None
    gender_raw = _text(record, "gender")
    province, city, district = (_text(record, key) for key in ("province", "city", "district"))
    address = _text(record, "address")
    detail = None
    if address:
        parsed = _address(address)
        province, city, district = province or parsed[0], city or parsed[1], district or parsed[2]
        detail = parsed[3] or None
    company = _text(record, "company")
    postcode = _text(record, "postcode")
    return {
        "unique_id": str(record.get("id")),
        "name_key": name_key,
        "name_pinyin": pinyin,
        "surname_pinyin": surname,
        "given_pinyin": given,
        "phone_1": phones[0] if phones else None,
        "phone_2": phones[1] if len(phones) > 1 else None,
        "email": email_match_key(email_raw) if email_raw else None,
        "id_number": id_number,
        "id_valid": bool(id_number) and _id_valid(id_number),
        "birthday": birthday,
        "gender": _gender(gender_raw.strip().lower()) if gender_raw else None,
        "province": province or None,
        "city": city or None,
        "district": district or None,
        "address_detail": detail,
        "company_key": _company(company) if company else None,
        "postcode": "".join(postcode.split()).upper() if postcode else None,
    }


# Blocking keys: the pairs the model scores are exactly those sharing one of these groups.
BLOCKING_KEYS = (
    ("phone",), ("email",), ("id_number",), ("name_pinyin", "birthday"), ("name", "city"),
    ("name_pinyin", "address"),
)


def candidate_keys(record: Mapping[str, Any]) -> dict[str, str]:
    """The record's blocking keys, only the non-empty ones (see docs/matching.md)."""
    row = prepare_record(record)
    keys = {
        "phone": row["phone_1"], "phone_2": row["phone_2"], "email": row["email"],
        "id_number": row["id_number"], "name": row["name_key"], "name_pinyin": row["name_pinyin"],
        "birthday": row["birthday"], "city": row["city"], "address": row["address_detail"],
        "surname": row["surname_pinyin"], "given_name": row["given_pinyin"],
        "postcode": row["postcode"],
    }
    return {key: value for key, value in keys.items() if value}
