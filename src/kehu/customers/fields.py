"""The customer field catalogue: one entry per field a person reads, types or imports.

Each entry says what the field is called (label), where it is stored, whether persons,
organisations or both have it, which role field setting guards it (and so how it is masked),
the column headers an import recognises it by, and the key its changes are audited under.
The services (planning, permissions), the card's history, the audit log, the import mapping
and the rule pages read it from here instead of each keeping its own list.

Apps above customers add their own fields with `register` (in their AppConfig.ready) instead
of customers reaching up to them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _

from kehu.core.masking import mask_email, mask_generic, mask_id_number, mask_phone

PERSON, ORGANISATION = "person", "organisation"
BOTH = (PERSON, ORGANISATION)

# Where a field lives.
COLUMN = "column"          # a plain column of the customer row
IDENTIFIER = "identifier"  # a live Identifier row (the primary one is copied to a column)
ID_NUMBER = "id_number"    # encrypted + blind index + masked columns, and an Identifier
ADDRESS = "address"        # the primary Address row (province/city copied to columns)
OWNER = "owner"            # a foreign key to a user
TAGS = "tags"              # CustomerTag rows
DERIVED = "derived"        # kept by the services (province/city from the address)


@dataclass(frozen=True)
class Field:
    key: str
    label: Any
    storage: str = COLUMN
    kinds: tuple[str, ...] = BOTH
    # The role field setting (AccessPolicy) that guards reading and changing the value.
    permission: str = ""
    masker: Callable[[str], str] | None = None
    # Column headers an import recognises (the key and the label match too); empty: the
    # field cannot be imported.
    synonyms: tuple[str, ...] = ()
    # The key of the field in audit entries' changes (None: never audited by itself).
    audit_key: str | None = ""
    # For identifiers: the Identifier kinds that store it.
    identifier_kinds: tuple[str, ...] = ()
    # The label of the identifier in "…已属于客户 …" messages.
    identifier_label: Any = None

    @property
    def audited_as(self) -> str | None:
        return self.key if self.audit_key == "" else self.audit_key

    def applies_to(self, kind: str) -> bool:
        return kind in self.kinds


FIELDS: dict[str, Field] = {}

# Plain columns a caller may set directly (the services keep everything else), and the ones
# only persons or only organisations have.
SIMPLE_FIELDS = (
    "name", "gender", "birthday", "title", "company", "uscc", "industry", "company_size",
    "revenue_band", "website", "source", "lifecycle_stage", "preferred_channel",
    "product_interests", "notes",
)
PERSON_ONLY = ("gender", "birthday", "title", "company")
ORGANISATION_ONLY = ("uscc", "industry", "company_size", "revenue_band", "website")


def register(field: Field) -> Field:
    """Add a field (apps above customers add their own in AppConfig.ready)."""
    FIELDS[field.key] = field
    return field


def _builtin(*fields: Field) -> None:
    for field in fields:
        register(field)


_builtin(
    Field("name", _("Name"), synonyms=(
        "客户名称", "客户名", "客户姓名", "姓名", "名称", "名字", "客户", "name", "customer name",
        "full name", "customer")),
    Field("mobile", _("Mobile"), IDENTIFIER, permission="customer.mobile", masker=mask_phone,
          identifier_kinds=("mobile", "landline"), identifier_label=_("Mobile number"),
          synonyms=(
              "手机", "手机号", "手机号码", "移动电话", "联系电话", "电话", "电话号码", "联系方式",
              "mobile", "mobile phone", "mobile number", "cell", "cellphone", "phone",
              "phone number", "tel", "telephone")),
    Field("email", _("Email"), IDENTIFIER, permission="customer.email", masker=mask_email,
          identifier_kinds=("email",), identifier_label=_("Email address"), synonyms=(
              "邮箱", "电子邮箱", "邮箱地址", "邮件", "电子邮件", "email", "e-mail", "mail",
              "email address")),
    Field("gender", _("Gender"), kinds=(PERSON,), synonyms=("性别", "gender", "sex")),
    Field("birthday", _("Birthday"), kinds=(PERSON,), permission="customer.birthday",
          masker=mask_generic, synonyms=(
              "生日", "出生日期", "出生年月日", "出生年月", "birthday", "birth date",
              "date of birth", "dob")),
    Field("id_number", _("ID number"), ID_NUMBER, kinds=(PERSON,),
          permission="customer.id_number", masker=mask_id_number,
          identifier_kinds=("id_number",), identifier_label=_("ID number"), synonyms=(
              "身份证", "身份证号", "身份证号码", "证件号码", "证件号", "id number", "id card",
              "id card number", "resident id")),
    Field("address", _("Address"), ADDRESS, permission="customer.address",
          masker=mask_generic, synonyms=(
              "地址", "联系地址", "通讯地址", "通信地址", "详细地址", "住址", "家庭地址",
              "address")),
    Field("province", _("Province"), DERIVED, synonyms=("省份", "省", "所在省份", "province")),
    Field("city", _("City"), DERIVED, synonyms=("城市", "市", "所在城市", "city")),
    Field("company", _("Company"), kinds=(PERSON,), synonyms=(
        "公司", "公司名称", "单位", "单位名称", "工作单位", "所在公司", "企业名称", "company",
        "company name", "organisation", "organization", "employer")),
    Field("source", _("Source channel"), synonyms=(
        "来源", "来源渠道", "客户来源", "渠道", "source", "source channel", "channel",
        "lead source")),
    Field("notes", _("Notes"), synonyms=(
        "备注", "备注信息", "说明", "notes", "note", "remark", "remarks", "comment",
        "comments")),
    Field("wechat", _("WeChat"), IDENTIFIER, permission="customer.wechat", masker=mask_generic,
          identifier_kinds=("wechat",), identifier_label=_("WeChat ID"), synonyms=(
              "微信", "微信号", "微信id", "wechat", "wechat id", "weixin")),
    Field("title", _("Title"), kinds=(PERSON,), synonyms=(
        "职位", "职务", "头衔", "title", "job title", "position")),
    Field("kind", _("Customer type"), synonyms=(
        "客户类型", "类型", "kind", "customer type", "type")),
    Field("lifecycle_stage", _("Lifecycle stage"), synonyms=(
        "生命周期", "生命周期阶段", "客户阶段", "阶段", "lifecycle", "lifecycle stage", "stage")),
    Field("owner", _("Owner"), OWNER, synonyms=(
        "负责人", "归属人", "销售负责人", "跟进人", "客户经理", "owner", "account owner",
        "sales rep")),
    Field("external_id", _("External id"), IDENTIFIER, identifier_kinds=("external",),
          identifier_label=_("External id"), synonyms=(
              "外部编号", "外部id", "客户编号", "编号", "external id", "customer id",
              "customer no")),
    Field("uscc", _("Unified social credit code"), kinds=(ORGANISATION,), synonyms=(
        "统一社会信用代码", "信用代码", "社会信用代码", "uscc", "unified social credit code")),
    Field("industry", _("Industry"), kinds=(ORGANISATION,), synonyms=(
        "行业", "所属行业", "industry")),
    Field("company_size", _("Company size"), kinds=(ORGANISATION,)),
    Field("revenue_band", _("Revenue band"), kinds=(ORGANISATION,)),
    Field("website", _("Website"), kinds=(ORGANISATION,)),
    Field("preferred_channel", _("Preferred channel")),
    Field("product_interests", _("Product interests")),
    Field("tags", _("Tags"), TAGS, audit_key="tag", synonyms=(
        "标签", "客户标签", "tags", "tag", "labels")),
)


def max_length(key: str) -> int:
    """The longest value a field stores (from the model column that keeps it)."""
    from kehu.customers.models import Address, Customer, Identifier, Tag

    model, column = {"address": (Address, "raw"), "province": (Address, "province"),
                     "city": (Address, "city"), "tags": (Tag, "name"),
                     "external_id": (Identifier, "value"), "mobile": (Identifier, "value"),
                     "email": (Identifier, "value"), "wechat": (Identifier, "value")
                     }.get(key, (Customer, key))
    return model._meta.get_field(column).max_length


def choices(key: str) -> list[tuple[str, Any]]:
    """The stored values and labels of a choice field (kind, gender, lifecycle stage …)."""
    from kehu.customers.models import Customer

    return list(Customer._meta.get_field(key).choices or [])


def field(key: str) -> Field | None:
    return FIELDS.get(key)


def label(key: str) -> str:
    found = FIELDS.get(key)
    return str(found.label) if found is not None else key


def importable() -> dict[str, Field]:
    """The fields an import may map a column to, in the catalogue's order."""
    return {key: f for key, f in FIELDS.items() if f.synonyms}


def sensitive_inputs() -> dict[str, str]:
    """Field key -> the role field setting that guards it (only guarded fields)."""
    return {key: f.permission for key, f in FIELDS.items() if f.permission}


def permission_of_audit_key(key: str) -> str | None:
    """The field setting guarding the values audited under `key` (None: not sensitive)."""
    for f in FIELDS.values():
        if f.audited_as == key and f.permission:
            return f.permission
    return None


def permission_of_identifier_kind(kind: str) -> str | None:
    """The field setting guarding an Identifier kind ("landline" -> customer.mobile)."""
    for f in FIELDS.values():
        if kind in f.identifier_kinds:
            return f.permission or None
    return None


def field_of_identifier_kind(kind: str) -> Field | None:
    return next((f for f in FIELDS.values() if kind in f.identifier_kinds), None)


def identifier_audit_key(kind: str, system: str = "") -> str:
    """The audit key of one identifier change: one key per identifier kind ("identifier.mobile",
    "identifier.external"), so every value is masked by its own field."""
    return f"identifier.{kind}"


def kind_of_identifier_audit_key(key: str) -> str | None:
    """"identifier.wechat" -> "wechat"; None for other keys."""
    if not key.startswith("identifier."):
        return None
    return key[len("identifier."):].partition(":")[0]


def person_only() -> tuple[str, ...]:
    return tuple(k for k, f in FIELDS.items() if f.kinds == (PERSON,) and f.storage == COLUMN)


def organisation_only() -> tuple[str, ...]:
    return tuple(k for k, f in FIELDS.items() if f.kinds == (ORGANISATION,))


def present_change(access, key: str, value: Any) -> tuple[bool, Any]:
    """One audited value as this user may read it: (shown, value). Hidden fields are not
    shown at all; masked ones masked by their own field's setting. Values audited as
    "kind:value" text (older entries) are masked by their kind."""
    if access is None:
        return True, value
    permission = permission_of_audit_key(key)
    kind = kind_of_identifier_audit_key(key)
    if kind is not None:
        permission = permission_of_identifier_kind(kind)
    elif key == "identifier":
        return True, _present_described(access, value)
    if not permission:
        return True, value
    if access.is_hidden(permission):
        return False, None
    return True, access.present(permission, value) if value not in (None, "") else value


def _present_described(access, described: Any) -> Any:
    """Identifier changes audited as one text ("wechat:abc", or several joined with ", "
    before audit values were per field): each part masked by its own kind."""
    if not isinstance(described, str) or ":" not in described:
        return described
    parts = []
    for part in described.split(", "):
        kind, _sep, rest = part.partition(":")
        permission = permission_of_identifier_kind(kind)
        if permission and access.is_hidden(permission):
            parts.append(f"{kind}:—")
        elif permission:
            system, _s, value = rest.rpartition(":") if kind == "external" else ("", "", rest)
            shown = access.present(permission, value)
            parts.append(f"{kind}:{system + ':' if system else ''}{shown}")
        else:
            parts.append(part)
    return ", ".join(parts)


def present_changes(access, changes: dict[str, Any]) -> dict[str, Any]:
    """An audit entry's changes ({field: {"before", "after"}} or plain values) as this user
    may read them, field by field."""
    out: dict[str, Any] = {}
    for key, change in (changes or {}).items():
        if isinstance(change, dict) and set(change) == {"before", "after"}:
            shown_before, before = present_change(access, key, change["before"])
            shown_after, after = present_change(access, key, change["after"])
            if not (shown_before and shown_after):
                continue
            out[key] = {"before": before, "after": after}
        else:
            shown, value = present_change(access, key, change)
            if shown:
                out[key] = value
    return out


def keys(fields: Iterable[Field]) -> list[str]:
    return [f.key for f in fields]


# List filters and columns added by apps above customers ----------------------------------


@dataclass(frozen=True)
class ListFilter:
    """A customer-list filter an app above customers adds (scoring's value tier, quality's
    score below…). `listing.filters_from_query` parses it and the list selector applies it,
    so it means the same on the page, the API, exports, the CLI and the duplicate scan."""

    key: str
    label: Any
    parse: Callable[[str], Any]             # query text -> value; None when unusable (ignored)
    apply: Callable[[Any, Any], Any]        # (queryset, value) -> queryset
    permission: str = ""                    # the role permission needed to filter by it
    # (access, value) -> None: refuse a drill-down on a field masked or hidden for the caller.
    check: Callable[[Any, Any], None] | None = None
    choices: Callable[[], list[tuple[str, Any]]] | None = None
    widget: str = "select"                  # select | number | hidden (drill-downs only)
    # The API's query parameter: (annotation, default or pydantic Field with its description).
    api_field: tuple[Any, Any] = (str, "")


@dataclass(frozen=True)
class ListColumns:
    """Columns one app adds to the list and exports, read from its one-to-one row joined by
    `related` (only `fields` of it are read, so exports can fetch them as plain values)."""

    related: str
    fields: tuple[str, ...]                 # the first is never null on a stored row
    columns: dict[str, Any]                 # column key -> header
    # (access, customer, its joined row or None) -> {column: value}
    present: Callable[[Any, Any, Any], dict[str, Any]]
    labels: Callable[[], dict[str, dict[str, str]]] | None = None  # coded columns: code->label
    # (column, value) -> what the list page shows (a percentage, money…); exports keep values.
    display: Callable[[str, Any], Any] | None = None
    # Further rows the card's read joins along (e.g. "prediction__fit").
    card_joins: tuple[str, ...] = ()


LIST_FILTERS: dict[str, ListFilter] = {}
LIST_COLUMNS: dict[str, ListColumns] = {}


def register_filter(list_filter: ListFilter) -> ListFilter:
    """Add a list filter (apps above customers call it in AppConfig.ready)."""
    LIST_FILTERS[list_filter.key] = list_filter
    return list_filter


def register_columns(columns: ListColumns) -> ListColumns:
    """Add list columns read from one joined row (apps above call it in AppConfig.ready)."""
    LIST_COLUMNS[columns.related] = columns
    return columns
