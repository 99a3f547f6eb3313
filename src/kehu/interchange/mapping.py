"""Which column of an import file feeds which customer field.

People name columns every way: 手机号码, 联系电话, "Mobile Phone", ＥＭＡＩＬ, "*姓名",
"生日（yyyy-mm-dd）". Headers are compared folded (NFKC full-width to half-width, case,
spaces, underscores, hyphens, required-marks and colons ignored; a trailing remark in
brackets ignored if the full header is not known), against the synonyms below and the
custom fields' labels and keys. The user corrects the suggestion (the wizard, or the CLI's
`--map COLUMN=field`) and may save it as a template keyed by header text, so the same
template fits next month's file even if its columns moved.

A mapping is `{column index: field key or None}`; field keys are the fields of the
import's kind below (customers, orders, interactions, events) and, for customers,
`custom.<key>` for custom fields. Every function takes `kind` (default "customers").
For events, "property" may be given to several columns: each becomes a property of the
event named by its header, and headers the events fields do not know are suggested as
properties.
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
from kehu.customers import fields as catalogue
from kehu.privacy.consent import import_fields as consent_import_fields

CUSTOM_PREFIX = "custom."
TEMPLATE_VERSION = 1

# field key -> (label, synonyms). The key itself and the label also match. Customers' come
# from the customer field catalogue (kehu.customers.fields): every field with synonyms.
CUSTOMER_FIELDS: dict[str, tuple[Any, tuple[str, ...]]] = {
    key: (field.label, field.synonyms) for key, field in catalogue.importable().items()}
# Consent columns (同意短信营销 = 是/否): `consent.<purpose>.<channel>`, recorded in the
# consent ledger with the file as the evidence (kehu.privacy).
CONSENT_PREFIX = "consent."
CUSTOMER_FIELDS.update(consent_import_fields())
REQUIRED_FIELDS = ("name",)

# The customer of an order, interaction or event: by the same identifiers, in the same
# precedence, as a customer import matches customers.
_CUSTOMER_KEYS: dict[str, tuple[Any, tuple[str, ...]]] = {
    "mobile": (_("Customer mobile"), (
        "客户手机", "客户手机号", "客户电话", "买家手机", "买家手机号", "会员手机", "会员手机号",
        "手机", "手机号", "手机号码", "联系电话", "电话", "mobile", "phone", "customer mobile",
        "customer phone")),
    "email": (_("Customer email"), (
        "客户邮箱", "买家邮箱", "会员邮箱", "邮箱", "电子邮箱", "email", "e-mail",
        "customer email")),
    "id_number": (_("Customer ID number"), (
        "客户身份证", "客户身份证号", "身份证", "身份证号", "证件号码", "id number",
        "customer id number")),
    "external_id": (_("Customer external id"), (
        "客户编号", "客户外部编号", "会员编号", "会员号", "会员id", "买家id", "外部编号",
        "external id", "customer external id", "customer id", "customer no",
        "member id")),
}

ORDER_FIELDS: dict[str, tuple[Any, tuple[str, ...]]] = {
    "order_no": (_("Order number"), (
        "订单号", "订单编号", "订单号码", "单号", "单据号", "单据编号", "订单id", "order no", "order number",
        "order id", "order")),
    **_CUSTOMER_KEYS,
    "sku": (_("SKU"), (
        "商品编码", "商品编号", "商品sku", "产品编码", "产品编号", "货号", "物料编码", "sku",
        "product code", "item code", "sku code")),
    "product_name": (_("Product name"), (
        "商品名称", "商品", "产品名称", "产品", "品名", "宝贝名称", "product name", "product",
        "item name", "item")),
    "quantity": (_("Quantity"), (
        "数量", "购买数量", "商品数量", "件数", "qty", "quantity", "count")),
    "unit_price": (_("Unit price"), (
        "单价", "商品单价", "价格", "售价", "unit price", "price")),
    "discount": (_("Discount"), (
        "优惠", "优惠金额", "折扣金额", "折扣", "discount", "discount amount")),
    "amount": (_("Amount"), (
        "金额", "实付金额", "实付", "实收金额", "小计", "成交金额", "支付金额", "订单金额",
        "amount", "paid amount", "line amount", "line total", "total", "subtotal")),
    "ordered_at": (_("Order date"), (
        "下单时间", "订单日期", "下单日期", "订单时间", "成交时间", "付款时间", "创建时间", "日期",
        "时间", "order date", "ordered at", "order time", "date")),
    "status": (_("Order status"), (
        "订单状态", "状态", "交易状态", "status", "order status")),
    "payment_method": (_("Payment method"), (
        "支付方式", "付款方式", "payment", "payment method")),
    "sales_channel": (_("Sales channel"), (
        "销售渠道", "渠道", "平台", "店铺", "channel", "sales channel")),
    "notes": (_("Notes"), ("备注", "订单备注", "买家留言", "notes", "note", "remark", "remarks")),
}

INTERACTION_FIELDS: dict[str, tuple[Any, tuple[str, ...]]] = {
    **_CUSTOMER_KEYS,
    "kind": (_("Interaction type"), (
        "互动类型", "互动方式", "跟进方式", "联系方式类型", "类型", "方式", "type",
        "interaction type", "kind")),
    "channel": (_("Channel"), ("渠道", "沟通渠道", "channel")),
    "direction": (_("Direction"), ("方向", "呼入呼出", "direction")),
    "occurred_at": (_("Time"), (
        "时间", "互动时间", "跟进时间", "联系时间", "发生时间", "日期", "time", "date",
        "occurred at")),
    "summary": (_("Content"), (
        "内容", "互动内容", "跟进内容", "沟通内容", "记录", "摘要", "备注", "content", "summary",
        "notes", "note")),
    "outcome": (_("Outcome"), ("结果", "跟进结果", "outcome", "result")),
}

EVENT_FIELDS: dict[str, tuple[Any, tuple[str, ...]]] = {
    **_CUSTOMER_KEYS,
    "event_type": (_("Event name"), (
        "事件名称", "事件", "事件类型", "行为", "行为类型", "event", "event name", "event type")),
    "occurred_at": (_("Time"), (
        "发生时间", "事件时间", "时间", "日期", "time", "occurred at", "timestamp", "date")),
    "source": (_("Source"), ("来源", "数据来源", "source")),
    "property": (_("Property (named by the column)"), ()),
}

# Deals (商机) and payments received (回款): kehu.interchange.pipeline_import.
DEAL_FIELDS: dict[str, tuple[Any, tuple[str, ...]]] = {
    **_CUSTOMER_KEYS,
    "title": (_("Deal title"), (
        "商机名称", "商机", "项目名称", "机会名称", "销售机会", "标题", "deal", "deal name",
        "deal title", "opportunity", "title")),
    "amount": (_("Deal amount"), (
        "金额", "商机金额", "预计金额", "预计成交金额", "合同金额", "amount", "deal amount",
        "value")),
    "expected_close_date": (_("Expected close date"), (
        "预计成交日期", "预计签单日期", "预计结单日期", "成交日期", "预计关闭日期",
        "expected close date", "close date", "closing date")),
    "pipeline": (_("Pipeline"), ("管道", "销售管道", "销售流程", "pipeline")),
    "stage": (_("Stage"), ("阶段", "销售阶段", "商机阶段", "stage", "deal stage")),
    "probability": (_("Probability"), ("赢率", "成交概率", "可能性", "probability",
                                       "win probability")),
    "owner": (_("Owner"), ("负责人", "销售", "销售员", "业务员", "所有人", "owner",
                           "salesperson", "sales rep")),
    "source": (_("Source"), ("来源", "商机来源", "source", "lead source")),
    "competitor": (_("Competitor"), ("竞争对手", "竞品", "competitor")),
    "next_step": (_("Next step"), ("下一步", "下一步计划", "下一步行动", "next step")),
    "lost_reason": (_("Lost reason"), ("输单原因", "丢单原因", "失败原因", "lost reason")),
}

PAYMENT_FIELDS: dict[str, tuple[Any, tuple[str, ...]]] = {
    "contract_no": (_("Contract number"), (
        "合同编号", "合同号", "合同", "contract", "contract no", "contract number")),
    "received_on": (_("Date received"), (
        "回款日期", "到账日期", "收款日期", "付款日期", "日期", "date", "received on",
        "payment date")),
    "amount": (_("Amount received"), (
        "回款金额", "到账金额", "收款金额", "金额", "amount", "amount received")),
    "method": (_("Payment method"), (
        "付款方式", "回款方式", "收款方式", "支付方式", "method", "payment method")),
    "reference": (_("Reference"), (
        "流水号", "银行流水号", "交易流水号", "凭证号", "参考号", "备注", "reference",
        "transaction id")),
}

KIND_FIELDS: dict[str, dict[str, tuple[Any, tuple[str, ...]]]] = {
    "customers": CUSTOMER_FIELDS, "orders": ORDER_FIELDS, "interactions": INTERACTION_FIELDS,
    "events": EVENT_FIELDS, "deals": DEAL_FIELDS, "payments": PAYMENT_FIELDS,
}
CUSTOMER_KEYS = tuple(_CUSTOMER_KEYS)
# Each group must have at least one column mapped to one of its fields.
REQUIRED_GROUPS: dict[str, tuple[tuple[str, ...], ...]] = {
    "customers": tuple((field,) for field in REQUIRED_FIELDS),
    "orders": (("order_no",), CUSTOMER_KEYS, ("ordered_at",),
               ("sku", "product_name")),
    "interactions": (CUSTOMER_KEYS, ("occurred_at",), ("summary",)),
    "events": (CUSTOMER_KEYS, ("event_type",), ("occurred_at",)),
    "deals": (("title",), CUSTOMER_KEYS, ("amount",), ("expected_close_date",)),
    "payments": (("contract_no",), ("received_on",), ("amount",)),
}
# Fields several columns may be mapped to.
MULTI_FIELDS = frozenset({"property"})


def kind_fields(kind: str) -> dict[str, tuple[Any, tuple[str, ...]]]:
    """The fields of an import kind; MappingError for an unknown kind."""
    try:
        return KIND_FIELDS[kind]
    except KeyError:
        raise MappingError(gettext("There is no import kind “%(kind)s”; use one of: %(kinds)s.")
                           % {"kind": kind, "kinds": ", ".join(KIND_FIELDS)},
                           code="unknown_kind") from None


def _customs(custom_fields: Iterable[Any], kind: str) -> list[Any]:
    """Custom fields belong to customers only."""
    return list(custom_fields) if kind == "customers" else []

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


def _field_table(custom_fields: Iterable[Any], kind: str = "customers") -> dict[str, str]:
    """folded spelling -> field key; built-in synonyms first, then custom labels and keys."""
    table: dict[str, str] = {}
    for key, (_label, synonyms) in kind_fields(kind).items():
        for spelling in (key, *synonyms):
            table.setdefault(fold_header(spelling), key)
    for definition in _customs(custom_fields, kind):
        field = CUSTOM_PREFIX + definition.key
        for spelling in (definition.label, definition.key, field):
            table.setdefault(fold_header(spelling), field)
    return table


def field_choices(custom_fields: Iterable[Any] = (), kind: str = "customers"
                  ) -> list[tuple[str, str]]:
    """(field key, label in the active language) for the wizard's column drop-downs."""
    choices = [(key, str(label)) for key, (label, _synonyms) in kind_fields(kind).items()]
    choices += [(CUSTOM_PREFIX + d.key, d.label) for d in _customs(custom_fields, kind)]
    return choices


def field_label(field: str, custom_fields: Iterable[Any] = (), kind: str = "customers") -> str:
    fields = kind_fields(kind)
    if field in fields:
        return str(fields[field][0])
    for definition in _customs(custom_fields, kind):
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


def _table_with_labels(custom_fields: Sequence[Any], kind: str = "customers") -> dict[str, str]:
    """The synonyms plus each field's label in the active language (so "手机" or "Mobile")."""
    table = _field_table(custom_fields, kind)
    for key, (label, _synonyms) in kind_fields(kind).items():
        table.setdefault(fold_header(str(label)), key)
    return table


def suggest_mapping(headers: Sequence[str], *, custom_fields: Iterable[Any] = (),
                    kind: str = "customers") -> dict[int, str | None]:
    """Recognise each header; a field goes to the first column that names it, so a second
    "电话" beside "手机" stays unmapped for the user to decide. For events, a named column
    that no field recognises is suggested as a property."""
    table = _table_with_labels(list(custom_fields), kind)
    mapping: dict[int, str | None] = {}
    taken: set[str] = set()
    for index, header in enumerate(headers):
        field = _lookup(header, table)
        if field is None and kind == "events" and fold_header(header):
            field = "property"
        if field in taken:
            field = None
        mapping[index] = field
        if field and field not in MULTI_FIELDS:
            taken.add(field)
    return mapping


def resolve_field(name: str, *, custom_fields: Iterable[Any] = (), kind: str = "customers"
                  ) -> str:
    """A field as a person writes it in `--map` (mobile, 手机, custom.vip, vip, VIP等级) ->
    its key; MappingError naming it when there is no such field."""
    custom_fields = _customs(custom_fields, kind)
    fields = kind_fields(kind)
    text = name.strip()
    if text in fields:
        return text
    keys = {CUSTOM_PREFIX + d.key for d in custom_fields}
    if text in keys:
        return text
    if CUSTOM_PREFIX + text in keys:
        return CUSTOM_PREFIX + text
    field = _lookup(text, _table_with_labels(custom_fields, kind))
    if field is None:
        raise MappingError(gettext("There is no field “%(field)s”; use one of: %(fields)s.") % {
            "field": text, "fields": ", ".join(
                [*(f for f in fields if not f.startswith(CONSENT_PREFIX)), *sorted(keys)])
            + (" (consent.<purpose>.<channel>)" if kind == "customers" else "")},
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
                    headers: Sequence[str], *, custom_fields: Iterable[Any] = (),
                    kind: str = "customers") -> dict[int, str | None]:
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
        field = resolve_field(name, custom_fields=custom_fields, kind=kind)
        if field in MULTI_FIELDS:
            result[index] = field
            continue
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


def missing_required(mapping: Mapping[int, str | None], kind: str = "customers") -> list[str]:
    """Required fields no column is mapped to (every row would be rejected); for a group
    of alternatives (the customer's identifiers) its first field stands for the group."""
    mapped = set(mapping.values())
    return [group[0] for group in REQUIRED_GROUPS[kind] if not mapped.intersection(group)]


def missing_required_text(mapping: Mapping[int, str | None], kind: str = "customers") -> str:
    """The missing required fields as a person reads them: "订单号；客户手机 / 客户邮箱 …"."""
    mapped = set(mapping.values())
    return "; ".join(" / ".join(field_label(field, kind=kind) for field in group)
                     for group in REQUIRED_GROUPS[kind] if not mapped.intersection(group))


def mapping_to_json(mapping: Mapping[int, str | None], headers: Sequence[str]) -> str:
    """A template: {"version": 1, "columns": {header text: field or null}}."""
    columns = {headers[i]: field for i, field in sorted(mapping.items())
               if i < len(headers) and headers[i]}
    return json.dumps({"version": TEMPLATE_VERSION, "columns": columns}, ensure_ascii=False)


def mapping_from_json(text: str, headers: Sequence[str], *, custom_fields: Iterable[Any] = (),
                      kind: str = "customers") -> dict[int, str | None]:
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
            field = resolve_field(str(field), custom_fields=custom_fields, kind=kind)
            if field in taken:
                field = None
            elif field not in MULTI_FIELDS:
                taken.add(field)
        mapping[index] = field or None
    return mapping
