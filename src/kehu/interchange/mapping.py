"""Which column of an import file feeds which customer field.

People name columns every way: 手机号码, 联系电话, "Mobile Phone", ＥＭＡＩＬ, "*姓名",
"生日（yyyy-mm-dd）". Headers are compared folded (NFKC full-width to half-width, case,
spaces, underscores, hyphens, required-marks and colons ignored; a trailing remark in
brackets ignored if the full header is not known), against the synonyms below and the
custom fields' labels and keys. The user corrects the suggestion (the wizard, or the CLI's
`--map COLUMN=field`) and may save it as a template keyed by header text, so the same
template fits next month's file even if its columns moved.

A mapping is `{column index: field key or None}`; field keys are the customer fields
below and `custom.<key>` for custom fields.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from kehu.core.errors import DomainError

CUSTOM_PREFIX = "custom."
TEMPLATE_VERSION = 1

# field key -> (label, synonyms). The key itself and the label also match.
CUSTOMER_FIELDS: dict[str, tuple[Any, tuple[str, ...]]] = {
    "name": (_("Name"), (
        "客户名称", "客户名", "客户姓名", "姓名", "名称", "名字", "客户", "name", "customer name",
        "full name", "customer")),
    "mobile": (_("Mobile"), (
        "手机", "手机号", "手机号码", "移动电话", "联系电话", "电话", "电话号码", "联系方式",
        "mobile", "mobile phone", "mobile number", "cell", "cellphone", "phone",
        "phone number", "tel", "telephone")),
    "email": (_("Email"), (
        "邮箱", "电子邮箱", "邮箱地址", "邮件", "电子邮件", "email", "e-mail", "mail",
        "email address")),
    "gender": (_("Gender"), ("性别", "gender", "sex")),
    "birthday": (_("Birthday"), (
        "生日", "出生日期", "出生年月日", "出生年月", "birthday", "birth date", "date of birth",
        "dob")),
    "id_number": (_("ID number"), (
        "身份证", "身份证号", "身份证号码", "证件号码", "证件号", "id number", "id card",
        "id card number", "resident id")),
    "address": (_("Address"), (
        "地址", "联系地址", "通讯地址", "通信地址", "详细地址", "住址", "家庭地址", "address")),
    "company": (_("Company"), (
        "公司", "公司名称", "单位", "单位名称", "工作单位", "所在公司", "企业名称", "company",
        "company name", "organisation", "organization", "employer")),
    "source": (_("Source channel"), (
        "来源", "来源渠道", "客户来源", "渠道", "source", "source channel", "channel",
        "lead source")),
    "notes": (_("Notes"), ("备注", "备注信息", "说明", "notes", "note", "remark", "remarks",
                           "comment", "comments")),
    "wechat": (_("WeChat"), ("微信", "微信号", "微信id", "wechat", "wechat id", "weixin")),
    "title": (_("Title"), ("职位", "职务", "头衔", "title", "job title", "position")),
    "kind": (_("Customer type"), ("客户类型", "类型", "kind", "customer type", "type")),
    "lifecycle_stage": (_("Lifecycle stage"), (
        "生命周期", "生命周期阶段", "客户阶段", "阶段", "lifecycle", "lifecycle stage", "stage")),
    "owner": (_("Owner"), ("负责人", "归属人", "销售负责人", "跟进人", "客户经理", "owner",
                           "account owner", "sales rep")),
    "external_id": (_("External id"), (
        "外部编号", "外部id", "客户编号", "编号", "external id", "customer id", "customer no")),
    "uscc": (_("Unified social credit code"), (
        "统一社会信用代码", "信用代码", "社会信用代码", "uscc", "unified social credit code")),
    "industry": (_("Industry"), ("行业", "所属行业", "industry")),
}
REQUIRED_FIELDS = ("name",)

_IGNORED = re.compile(r"[\s_\-*:：.·]+")
_REMARK = re.compile(r"[(\[【（][^)\]】）]*[)\]】）]$")


class MappingError(DomainError):
    """A mapping that cannot be used: unknown column or field, or a field used twice."""

    code = "invalid_mapping"
    status = 422


def fold_header(text: str) -> str:
    """"  Mobile_Phone " , "ＭＯＢＩＬＥ ＰＨＯＮＥ", "*mobile-phone:" -> "mobilephone"."""
    return _IGNORED.sub("", unicodedata.normalize("NFKC", str(text or "")).casefold())


def _without_remark(folded: str) -> str:
    return _REMARK.sub("", folded)


def _field_table(custom_fields: Iterable[Any]) -> dict[str, str]:
    """folded spelling -> field key; built-in synonyms first, then custom labels and keys."""
    table: dict[str, str] = {}
    for key, (_label, synonyms) in CUSTOMER_FIELDS.items():
        for spelling in (key, *synonyms):
            table.setdefault(fold_header(spelling), key)
    for definition in custom_fields:
        field = CUSTOM_PREFIX + definition.key
        for spelling in (definition.label, definition.key, field):
            table.setdefault(fold_header(spelling), field)
    return table


def field_choices(custom_fields: Iterable[Any] = ()) -> list[tuple[str, str]]:
    """(field key, label in the active language) for the wizard's column drop-downs."""
    choices = [(key, str(label)) for key, (label, _synonyms) in CUSTOMER_FIELDS.items()]
    choices += [(CUSTOM_PREFIX + d.key, d.label) for d in custom_fields]
    return choices


def field_label(field: str, custom_fields: Iterable[Any] = ()) -> str:
    if field in CUSTOMER_FIELDS:
        return str(CUSTOMER_FIELDS[field][0])
    for definition in custom_fields:
        if CUSTOM_PREFIX + definition.key == field:
            return definition.label
    return field


def _lookup(text: str, table: Mapping[str, str]) -> str | None:
    folded = fold_header(text)
    if not folded:
        return None
    if folded in table:
        return table[folded]
    return table.get(_without_remark(folded))


def _table_with_labels(custom_fields: Sequence[Any]) -> dict[str, str]:
    """The synonyms plus each field's label in the active language (so "手机" or "Mobile")."""
    table = _field_table(custom_fields)
    for key, (label, _synonyms) in CUSTOMER_FIELDS.items():
        table.setdefault(fold_header(str(label)), key)
    return table


def suggest_mapping(headers: Sequence[str], *, custom_fields: Iterable[Any] = ()
                    ) -> dict[int, str | None]:
    """Recognise each header; a field goes to the first column that names it, so a second
    "电话" beside "手机" stays unmapped for the user to decide."""
    table = _table_with_labels(list(custom_fields))
    mapping: dict[int, str | None] = {}
    taken: set[str] = set()
    for index, header in enumerate(headers):
        field = _lookup(header, table)
        if field in taken:
            field = None
        mapping[index] = field
        if field:
            taken.add(field)
    return mapping


def resolve_field(name: str, *, custom_fields: Iterable[Any] = ()) -> str:
    """A field as a person writes it in `--map` (mobile, 手机, custom.vip, vip, VIP等级) ->
    its key; MappingError naming it when there is no such field."""
    custom_fields = list(custom_fields)
    text = name.strip()
    if text in CUSTOMER_FIELDS:
        return text
    keys = {CUSTOM_PREFIX + d.key for d in custom_fields}
    if text in keys:
        return text
    if CUSTOM_PREFIX + text in keys:
        return CUSTOM_PREFIX + text
    field = _lookup(text, _table_with_labels(custom_fields))
    if field is None:
        raise MappingError(gettext("There is no field “%(field)s”; use one of: %(fields)s.") % {
            "field": text, "fields": ", ".join([*CUSTOMER_FIELDS, *sorted(keys)])},
            code="unknown_field")
    return field


def _column_index(column: str, headers: Sequence[str]) -> int:
    """A column named by its header text: exact first, then folded; ambiguity is an error."""
    exact = [i for i, h in enumerate(headers) if h == column]
    if not exact:
        folded = fold_header(column)
        exact = [i for i, h in enumerate(headers) if folded and fold_header(h) == folded]
    if not exact:
        raise MappingError(gettext("The file has no column “%(column)s”; its columns are: "
                                   "%(columns)s.") % {"column": column,
                                                      "columns": "、".join(h for h in headers if h)},
                           code="unknown_column")
    if len(exact) > 1:
        raise MappingError(gettext("The file has more than one column “%(column)s”; rename one "
                                   "of them.") % {"column": column}, code="ambiguous_column")
    return exact[0]


def apply_overrides(mapping: Mapping[int, str | None], overrides: Iterable[str],
                    headers: Sequence[str], *, custom_fields: Iterable[Any] = ()
                    ) -> dict[int, str | None]:
    """Apply `COLUMN=field` corrections (`COLUMN=` or `COLUMN=-` ignores the column).

    A field given to a column is taken from whichever column had it by suggestion; two
    overrides naming the same field are an error, as are unknown columns and fields.
    """
    custom_fields = list(custom_fields)
    result = {i: mapping.get(i) for i in range(len(headers))}
    assigned: dict[str, str] = {}
    for override in overrides:
        column, sep, name = override.rpartition("=")
        if not sep or not column.strip():
            raise MappingError(gettext("Write the mapping as COLUMN=field, not “%(map)s”.")
                               % {"map": override}, code="invalid_override")
        index = _column_index(column.strip(), headers)
        if name.strip() in ("", "-"):
            result[index] = None
            continue
        field = resolve_field(name, custom_fields=custom_fields)
        if field in assigned and assigned[field] != headers[index]:
            raise MappingError(gettext("Both “%(first)s” and “%(second)s” are mapped to "
                                       "“%(field)s”; map one of them only.")
                               % {"first": assigned[field], "second": headers[index],
                                  "field": field}, code="duplicate_field")
        assigned[field] = headers[index]
        for other, value in result.items():
            if value == field and other != index:
                result[other] = None
        result[index] = field
    return result


def missing_required(mapping: Mapping[int, str | None]) -> list[str]:
    """Required fields no column is mapped to (every row would be rejected)."""
    mapped = set(mapping.values())
    return [field for field in REQUIRED_FIELDS if field not in mapped]


def mapping_to_json(mapping: Mapping[int, str | None], headers: Sequence[str]) -> str:
    """A template: {"version": 1, "columns": {header text: field or null}}."""
    columns = {headers[i]: field for i, field in sorted(mapping.items())
               if i < len(headers) and headers[i]}
    return json.dumps({"version": TEMPLATE_VERSION, "columns": columns}, ensure_ascii=False)


def mapping_from_json(text: str, headers: Sequence[str], *, custom_fields: Iterable[Any] = ()
                      ) -> dict[int, str | None]:
    """Apply a saved template to a file's headers (matched exactly, then folded); columns the
    template does not know stay unmapped. A field that no longer exists is a MappingError."""
    custom_fields = list(custom_fields)
    try:
        data = json.loads(text)
        columns = data["columns"]
        if not isinstance(columns, dict):
            raise TypeError
    except (ValueError, TypeError, KeyError):
        raise MappingError(gettext("The mapping template is not valid."),
                           code="invalid_template") from None
    folded = {fold_header(header): field for header, field in columns.items()}
    mapping: dict[int, str | None] = {}
    taken: set[str] = set()
    for index, header in enumerate(headers):
        field = columns.get(header, folded.get(fold_header(header)))
        if field:
            field = resolve_field(str(field), custom_fields=custom_fields)
            if field in taken:
                field = None
            else:
                taken.add(field)
        mapping[index] = field or None
    return mapping
