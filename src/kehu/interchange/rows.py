"""One import row -> clean customer values, or the exact reasons it cannot go in.

Values are normalised by kehu.core.normalize and custom values checked by
custom_values_clean, the same rules the card's forms and the API apply, so an import
lets in nothing the card would refuse. Each problem becomes a RowError with the row
number as Excel shows it, the column as the file names it, the raw value and a reason in
the active language; ID numbers appear only masked (110***********1234), wherever they
were typed. Empty cells give no value at all, so an upsert never erases stored data.

By default a row with any error is rejected whole; with skip_invalid_fields the row keeps
its valid fields (the errors are still reported) unless the name itself is bad.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.utils import timezone, translation
from django.utils.translation import gettext as _

from kehu.core.errors import ValidationFailed
from kehu.core.masking import mask_id_number
from kehu.core.normalize import (
    MSG_NAME,
    IdNumber,
    NormalizationError,
    normalize_email,
    normalize_gender,
    normalize_id_number,
    normalize_name,
    normalize_phone,
    normalize_uscc,
    parse_address,
    parse_date,
)
from kehu.customers import fields as catalogue
from kehu.customers.planning import kind_field_error
from kehu.customers.services import custom_values_clean
from kehu.customers.services.identity import normalize_identifier
from kehu.interchange.mapping import CONSENT_PREFIX, CUSTOM_PREFIX, CUSTOMER_FIELDS, fold_header
from kehu.privacy.consent import parse_yes_no

# Anything shaped like a resident ID number (15 or 18 characters) is masked in errors,
# whichever column it was typed in.
_ID_LIKE = re.compile(r"^(?:\d{17}[\dXx]|\d{15})$")
_ID_JUNK = re.compile(r"[\s\-]")
_TAG_SEPARATORS = re.compile(r"[,，;；、|]")
_MIDNIGHT = re.compile(r"[ T]0?0:00(?::00(?:\.0+)?)?$")

_KIND_WORDS = {
    catalogue.PERSON: ("个人", "个人客户", "自然人", "person", "individual", "personal"),
    catalogue.ORGANISATION: ("企业", "企业客户", "公司", "组织", "机构", "单位", "法人",
                                 "organisation", "organization", "company", "business"),
}
# The model's comments name the stages the way Chinese sales teams say them.
_STAGE_WORDS = {
    "lead": ("潜在", "潜在客户", "线索"), "prospect": ("意向", "意向客户"),
    "customer": ("成交", "成交客户", "已成交"), "loyal": ("忠诚", "忠诚客户"),
    "churned": ("流失", "流失客户", "已流失"),
}


def masked(value: str) -> str:
    """The raw cell as a report may show it: ID-number-shaped values masked."""
    text = _ID_JUNK.sub("", value)
    return mask_id_number(text.upper()) if _ID_LIKE.match(text) else value


@dataclass(frozen=True)
class RowError:
    """One problem: Excel row number, column as named in the file, raw (masked) value, reason."""

    row: int
    column: str
    value: str
    reason: str

    def __post_init__(self) -> None:
        # What is stored, reported and shown of a cell is capped: a 10 MB cell must not make
        # a 10 MB database row and job page.
        if len(self.value) > SHOWN_CHARS:
            object.__setattr__(self, "value", shown(self.value))


SHOWN_CHARS = 200


def shown(value: str) -> str:
    """A cell as a report or a page shows it: at most SHOWN_CHARS characters, then "…"."""
    return value if len(value) <= SHOWN_CHARS else value[:SHOWN_CHARS - 1] + "…"


@dataclass
class CleanRow:
    """The clean values of one row (keys as in mapping.CUSTOMER_FIELDS, plus "custom": {…})
    and its errors. `rejected` rows must not be written; `values` is then empty."""

    row_number: int
    values: dict[str, Any]
    errors: list[RowError] = field(default_factory=list)
    rejected: bool = False

    def __repr__(self) -> str:  # values may hold a clear ID number: keep it out of logs
        shown = {k: (mask_id_number(v) if k == "id_number" else v) for k, v in self.values.items()}
        return (f"CleanRow(row_number={self.row_number}, values={shown!r}, "
                f"errors={self.errors!r}, rejected={self.rejected})")


class _Invalid(Exception):
    def __init__(self, reason: Any):
        super().__init__(str(reason))
        self.reason = str(reason)


def choice_table(choices: Iterable[tuple[str, Any]],
                  extra: Mapping[str, Iterable[str]] | None = None) -> dict[str, str]:
    """folded spelling -> choice key: the key, its label in English and Chinese, extra words."""
    table: dict[str, str] = {}
    for key, label in choices:
        table.setdefault(fold_header(key), key)
        for language in ("en", "zh-hans"):
            with translation.override(language):
                table.setdefault(fold_header(str(label)), key)
    for key, words in (extra or {}).items():
        for word in words:
            table.setdefault(fold_header(word), key)
    return table


def _limit(text: str, max_length: int) -> str:
    if len(text) > max_length:
        raise _Invalid(_("At most %(n)d characters.") % {"n": max_length})
    return text


class RowCleaner:
    """Cleans the rows of one file with one mapping; build it once per import.

    `custom_fields` are the active CustomFieldDefinition rows (passed in so a million rows
    cost no query). A required custom field is not demanded here: a row that updates a
    customer may leave it as stored; creating a customer still checks it.
    """

    def __init__(self, headers: Sequence[str], mapping: Mapping[int, str | None], *,
                 custom_fields: Iterable[Any] = (), skip_invalid_fields: bool = False,
                 default_kind: str = catalogue.PERSON, today: date | None = None):
        self.headers = list(headers)
        self.columns = [(index, key, self.headers[index]) for index, key in sorted(mapping.items())
                        if key and index < len(self.headers)]
        self.definitions = list(custom_fields)
        self._custom_defs = {d.key: d for d in self.definitions}
        self.skip_invalid_fields = skip_invalid_fields
        self.default_kind = default_kind
        self.today = today or timezone.localdate()
        self._kinds = choice_table(catalogue.choices("kind"), _KIND_WORDS)
        self._stages = choice_table(catalogue.choices("lifecycle_stage"), _STAGE_WORDS)
        self._name_column = next((h for _i, k, h in self.columns if k == "name"), None)

    # One field ------------------------------------------------------------------------------

    def _field(self, key: str, text: str) -> Any:
        """The clean value of one built-in field; raises _Invalid with the reason."""
        try:
            if key == "name":
                name = normalize_name(text)
                if not name:
                    raise _Invalid(MSG_NAME)
                return _limit(name, catalogue.max_length("name"))
            if key == "mobile":
                return normalize_phone(text).e164
            if key == "email":
                return normalize_email(text)
            if key == "gender":
                gender = normalize_gender(text)
                return None if gender == "unknown" else gender
            if key == "birthday":
                day = parse_date(_MIDNIGHT.sub("", text))
                if day > self.today:
                    raise _Invalid(_("The birthday cannot be in the future."))
                return day
            if key == "id_number":
                return normalize_id_number(text)
            if key == "wechat":
                return normalize_identifier("wechat", text)["value"]
            if key == "uscc":
                return normalize_uscc(text)
            if key == "kind":
                return self._choice(self._kinds, text)
            if key == "lifecycle_stage":
                return self._choice(self._stages, text)
            if key == "company":
                return _limit(normalize_name(text), catalogue.max_length("company"))
            if key == "address":
                return _limit(text, catalogue.max_length("address"))
            if key == "province":
                return _limit(parse_address(text).province or text,
                              catalogue.max_length("province"))
            if key == "city":
                return _limit(parse_address(text).city or text,
                              catalogue.max_length("city"))
            if key == "tags":
                names = list(dict.fromkeys(normalize_name(t) for t in _TAG_SEPARATORS.split(text)
                                           if normalize_name(t)))
                for name in names:
                    _limit(name, catalogue.max_length("tags"))
                return names or None
            if key == "external_id":
                return _limit(text, catalogue.max_length("external_id"))
            if key in ("title", "source", "industry"):
                return _limit(text, catalogue.max_length(key))
            return text  # notes, owner (the job resolves the user: it needs the actor's scope)
        except NormalizationError as exc:
            raise _Invalid(exc) from None

    @staticmethod
    def _choice(table: Mapping[str, str], text: str) -> str:
        found = table.get(fold_header(text))
        if found is None:
            raise _Invalid(_("“%s” is not one of the choices.") % text)
        return found

    def _custom(self, key: str, text: str, kind: str) -> Any:
        """custom_values_clean on this one field, so other (required) fields stay out of it."""
        definition = self._custom_defs.get(key)
        try:
            result = custom_values_clean(values={key: text}, kind=kind,
                                         definitions=[definition] if definition else [])
        except ValidationFailed as exc:
            messages = exc.details.get(CUSTOM_PREFIX + key) or [str(exc.message)]
            raise _Invalid(messages[0]) from None
        return result.get(key)

    # One row ---------------------------------------------------------------------------------

    def clean(self, row_number: int, cells: Sequence[str]) -> CleanRow:
        """Normalise and validate one data row (cells as readers.Table.rows gives them)."""
        raw: dict[str, tuple[int, str, str]] = {}  # field -> (column index, header, text)
        for index, key, header in self.columns:
            text = cells[index].strip() if index < len(cells) and cells[index] else ""
            if text:
                raw[key] = (index, header, text)
        values: dict[str, Any] = {}
        problems: list[tuple[int, str, RowError]] = []  # (column index, field, error)
        fatal = False

        def fail(key: str, reason: Any) -> None:
            index, header, text = raw[key] if key in raw else (-1, self._name_column
                                                               or str(CUSTOMER_FIELDS[key][0]), "")
            value = mask_id_number(_ID_JUNK.sub("", text).upper()) if key == "id_number" else (
                masked(text))
            problems.append((index, key, RowError(row=row_number, column=header, value=value,
                                                  reason=str(reason))))

        kind = self.default_kind
        if "kind" in raw:
            try:
                kind = values["kind"] = self._field("kind", raw["kind"][2])
            except _Invalid as exc:
                fail("kind", exc.reason)
        id_number: IdNumber | None = None
        custom: dict[str, Any] = {}
        consent: dict[str, bool] = {}
        for key, (_index, _header, text) in raw.items():
            if key == "kind":
                continue
            # Without a kind column a row may update an organisation: the writer checks the
            # fields against the matched customer's kind (or the new one's) instead.
            wrong_kind = kind_field_error(kind, key, text) if "kind" in raw else None
            if wrong_kind:
                fail(key, wrong_kind)
                continue
            if key.startswith(CONSENT_PREFIX):
                answer = parse_yes_no(text)
                if answer is None:
                    fail(key, _("Use 是 or 否 (yes or no)."))
                else:
                    consent[key] = answer
                continue
            try:
                if key.startswith(CUSTOM_PREFIX):
                    cleaned = self._custom(key[len(CUSTOM_PREFIX):], text, kind)
                    if cleaned not in (None, "", []):
                        custom[key[len(CUSTOM_PREFIX):]] = cleaned
                    continue
                cleaned = self._field(key, text)
            except _Invalid as exc:
                fail(key, exc.reason)
                fatal = fatal or key == "name"
                continue
            if key == "id_number":
                id_number = cleaned
                values[key] = cleaned.value
            elif cleaned is not None:
                values[key] = cleaned
        if "name" not in raw:
            fail("name", MSG_NAME)
            fatal = True
        if id_number is not None:
            self._check_id_number(id_number, values, fail)
        if custom:
            values["custom"] = custom
        if consent:
            values["consent"] = consent
        problems.sort(key=lambda item: item[0])
        errors = [error for _index, _key, error in problems]
        if errors and (fatal or not self.skip_invalid_fields):
            return CleanRow(row_number=row_number, values={}, errors=errors, rejected=True)
        for _index, key, _error in problems:
            values.pop(key, None)
        return CleanRow(row_number=row_number, values=values, errors=errors)

    @staticmethod
    def _check_id_number(parsed: IdNumber, values: dict[str, Any], fail) -> None:
        """The birth date and gender inside an ID number must agree with the row's own."""
        if values.get("birthday") and values["birthday"] != parsed.birthday:
            fail("id_number", _("The birth date in the ID number does not match the birthday."))
        elif values.get("gender") and values["gender"] != parsed.gender:
            fail("id_number", _("The gender in the ID number does not match the gender."))


def clean_row(row_number: int, cells: Sequence[str], *, headers: Sequence[str],
              mapping: Mapping[int, str | None], custom_fields: Iterable[Any] = (),
              skip_invalid_fields: bool = False) -> CleanRow:
    """One-off convenience around RowCleaner (build a RowCleaner for a whole file)."""
    return RowCleaner(headers, mapping, custom_fields=custom_fields,
                      skip_invalid_fields=skip_invalid_fields).clean(row_number, cells)
