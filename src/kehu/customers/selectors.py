"""Reads of customers, scoped by the acting user's AccessPolicy and presented through it.

`customer_list` serves the list page, the API and exports; `customer_present` is the
one presentation of a customer (masking included) that all of them and the card use.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core import signing
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.crypto import blind_index
from kehu.core.errors import NotFound, ValidationFailed
from kehu.core.normalize import NormalizationError, normalize_email, normalize_phone
from kehu.core.schemas import MAX_ID
from kehu.customers.fields import LIST_COLUMNS, LIST_FILTERS
from kehu.customers.models import (
    Address,
    ContactLink,
    Customer,
    CustomerTag,
    CustomFieldDefinition,
    Identifier,
    SavedView,
    Tag,
    TagGroup,
)

# sort key -> the column keyset pagination orders by (never NULL, so the keyset is total)
SORTS = {
    "created_at": "created_at",
    "updated_at": "updated_at",
    "name": "name_pinyin",
    "lifecycle_stage": "lifecycle_stage",
    "region": "region",
}
DEFAULT_SORT = "-created_at"
MAX_LIMIT = 200
_CURSOR_SALT = "kehu.customers.cursor"
_DIGITS = re.compile(r"^[\d\s\-+()（）]+$")
_ID_NUMBER = re.compile(r"^\d{17}[\dXx]$")
_USCC = re.compile(r"^[0-9A-HJ-NPQRTUWXYa-hj-npqrtuwxy]{18}$")
_LATIN = re.compile(r"^[A-Za-z][A-Za-z\s'.\-]*$")


@dataclass(frozen=True)
class CustomerFilters:
    """What the list can be narrowed by; every field is optional."""

    q: str = ""
    owner: int | str | None = None  # a user id, or "me"
    team: int | None = None
    region: str = ""
    province: str = ""
    lifecycle: str = ""
    tag: int | str | None = None  # tag id or name
    source: str = ""
    kind: str = ""
    created_from: date | None = None
    created_to: date | None = None
    custom: Mapping[str, str] = field(default_factory=dict)  # "key": "v" | ">=n" | "<=n" | "a..b"
    # Filters apps above customers add (fields.register_filter): key -> parsed value.
    extra: Mapping[str, Any] = field(default_factory=dict)
    # No interaction for this many days.
    stale_days: int | None = None


@dataclass(frozen=True)
class CustomerPage:
    items: list[Customer]
    next_cursor: str | None
    count: int | None
    sort: str


def customer_queryset(*, user, include_inactive: bool = False) -> QuerySet[Customer]:
    """Every customer the user may see (active only unless asked); customer.view required."""
    user.access.require("customer.view")
    qs = Customer.objects.all()
    if not include_inactive:
        qs = qs.filter(status=Customer.STATUS_ACTIVE)
    return user.access.restrict(qs)


# What a list filter, sort or quality drill-down may name -> the sensitive field it reveals
# (AccessPolicy.may_condition_on decides; the rest are free).
SENSITIVE_KEYS = {"mobile": "customer.mobile", "phone": "customer.mobile",
                  "email": "customer.email", "id_number": "customer.id_number",
                  "birthday": "customer.birthday", "address": "customer.address",
                  "wechat": "customer.wechat", "district": "customer.district",
                  "postal_code": "customer.postal_code"}


def _search(q: str, access) -> tuple[Q, str | None]:
    """What a Chinese CRM user types into one box: a name (characters, pinyin or initials),
    a phone in any format or its last four digits, an email, a company, an ID number.

    Also says what sensitive lookup the text is ("id_number", "phone", "email" or None).
    An identifier matches only for callers who see that field in clear (the last four digits
    of a phone also for masked phones, whose masked form shows them); for anyone else the
    text is only looked for in names, so the box is no oracle for masked or hidden values.
    """
    text = q.strip()
    if not text:
        return Q(), None
    condition = Q(name__icontains=text)
    if "@" in text:
        if not access.may_condition_on("customer.email"):
            return condition, None
        try:
            email = normalize_email(text)
        except NormalizationError:
            return Q(primary_email__istartswith=text.lower()), None
        return Q(pk__in=Identifier.objects.filter(kind=Identifier.EMAIL, value=email,
                                                  is_live=True).values("customer_id")), "email"
    compact = re.sub(r"[\s\-()（）]", "", text)
    if _ID_NUMBER.match(compact):
        if not access.may_condition_on("customer.id_number"):
            return condition, None
        return Q(id_number_index=blind_index("id_number", compact.upper())), "id_number"
    if _USCC.match(compact) and not compact.isdigit():
        return Q(uscc=compact.upper()), None
    if _DIGITS.match(text):
        digits = re.sub(r"\D", "", compact)
        if len(digits) == 4:
            if not access.may_condition_on("customer.mobile", presence=True):
                return Q(pk__in=[]), None
            return Q(pk__in=Identifier.objects.filter(
                last4=digits, is_live=True, kind__in=(Identifier.MOBILE, Identifier.LANDLINE))
                .values("customer_id")), None
        if not access.may_condition_on("customer.mobile"):
            return Q(pk__in=[]), None
        try:
            phone = normalize_phone(text)
        except NormalizationError:
            return Q(pk__in=[]), None
        return Q(pk__in=Identifier.objects.filter(
            kind__in=(Identifier.MOBILE, Identifier.LANDLINE), value=phone.e164,
            is_live=True).values("customer_id")), "phone"
    if _LATIN.match(text):
        key = re.sub(r"[^a-z]", "", text.lower())
        if key:
            condition |= Q(name_pinyin__startswith=key) | Q(name_initials__startswith=key)
        return condition, None
    # A person is also found by the name of the organisation they are a contact of.
    return condition | Q(pk__in=ContactLink.objects.filter(
        organisation__name__icontains=text).values("person_id")), None


def _custom_filter(definition: CustomFieldDefinition, expression: str) -> Q:
    key = definition.key
    path = f"custom__{key}"
    text = str(expression).strip()

    def number(value: str):
        try:
            parsed = Decimal(value.strip())
        except InvalidOperation:
            raise ValidationFailed(details={f"custom.{key}": [_("Enter a number.")]}) from None
        return int(parsed) if parsed == parsed.to_integral_value() else float(parsed)

    if ".." in text:
        low, _sep, high = text.partition("..")
        condition = Q()
        if low.strip():
            condition &= Q(**{f"{path}__gte": number(low)})
        if high.strip():
            condition &= Q(**{f"{path}__lte": number(high)})
        return condition
    for op, lookup in ((">=", "gte"), ("<=", "lte"), (">", "gt"), ("<", "lt")):
        if text.startswith(op):
            return Q(**{f"{path}__{lookup}": number(text[len(op):])})
    if text.lower() in ("true", "false"):
        return Q(**{path: text.lower() == "true"})
    if definition.field_type == "multi_choice":
        # A JSON list: compare each position (portable, unlike JSON containment on SQLite).
        condition = Q(pk__in=[])
        for position in range(max(len(definition.choices or []), 1)):
            condition |= Q(**{f"{path}__{position}": text})
        return condition
    condition = Q(**{path: text})
    try:
        condition |= Q(**{path: number(text)})
    except ValidationFailed:
        pass
    return condition


def policy_name(key: str) -> str:
    """The access policy's name of a list field: its sensitive field, else customer.<key>."""
    return SENSITIVE_KEYS.get(key, f"customer.{key}")


def may_filter_on(user, key: str, *, presence: bool = False) -> bool:
    """Whether the list may be filtered or sorted by this key for the user (pages use it to
    offer only drill-downs that work)."""
    return user.access.may_condition_on(policy_name(key), presence=presence)


def _check_conditions(filters: CustomerFilters, sort: str, access) -> None:
    """Refuse a sort on a field masked or hidden for the caller (the access policy's one
    rule), and a registered filter the caller may not use or that would reveal such a field."""
    key = sort.lstrip("-")
    if key in SORTS or key in SENSITIVE_KEYS:
        require_condition_on(access, key, path="sort")
    for path, key in (("lifecycle", "lifecycle_stage"), ("source", "source")):
        if getattr(filters, path):
            require_condition_on(access, key, path=path)
    for custom_key, value in (filters.custom or {}).items():
        if str(value).strip():
            require_condition_on(access, f"custom.{custom_key}", path=f"custom.{custom_key}")
    for name, value in (filters.extra or {}).items():
        list_filter = LIST_FILTERS.get(name)
        if list_filter is None:
            raise ValidationFailed(details={name: [_("Unknown filter.")]})
        if list_filter.permission:
            access.require(list_filter.permission)
        if list_filter.check is not None:
            list_filter.check(access, value)


def require_condition_on(access, key: str, *, path: str, presence: bool = False) -> None:
    """Refuse a condition on catalogue field `key` when it is masked or hidden for the caller
    (a presence check only needs it not hidden); for filters apps above register."""
    access.require_condition(policy_name(key), path=path, presence=presence,
                             label=_label_of(key))


def _label_of(key: str) -> str:
    from kehu.core.permissions import SENSITIVE_FIELDS
    from kehu.customers.rule_fields import label_for

    label = label_for(key)
    return label if label != key else str(SENSITIVE_FIELDS.get(SENSITIVE_KEYS.get(key, ""), key))


def _filtered(qs: QuerySet[Customer], filters: CustomerFilters, user) -> QuerySet[Customer]:
    if filters.q:
        qs = qs.filter(_search(filters.q, user.access)[0])
    if filters.owner == "me":
        qs = qs.filter(owner_id=user.pk)
    elif filters.owner not in (None, ""):
        qs = qs.filter(owner_id=int(filters.owner))
    if filters.team:
        qs = qs.filter(team_id=filters.team)
    if filters.region:
        qs = qs.filter(region=filters.region)
    if filters.province:
        qs = qs.filter(province=filters.province)
    if filters.lifecycle:
        qs = qs.filter(lifecycle_stage=filters.lifecycle)
    if filters.source:
        qs = qs.filter(source=filters.source)
    if filters.kind:
        qs = qs.filter(kind=filters.kind)
    if filters.tag not in (None, ""):
        tag = filters.tag
        as_id = str(tag).isascii() and str(tag).isdigit() and int(tag) <= MAX_ID
        tags = (Tag.objects.filter(pk=int(tag)) if as_id
                else Tag.objects.filter(name=tag))
        qs = qs.filter(pk__in=CustomerTag.objects.filter(tag__in=tags).values("customer_id"))
    tz = timezone.get_current_timezone()
    if filters.created_from:
        qs = qs.filter(created_at__gte=datetime.combine(filters.created_from, time.min, tz))
    if filters.created_to:
        end = datetime.combine(filters.created_to + timedelta(days=1), time.min, tz)
        qs = qs.filter(created_at__lt=end)
    for name, value in (filters.extra or {}).items():
        qs = LIST_FILTERS[name].apply(qs, value)
    if filters.stale_days:
        qs = qs.filter(no_contact_since(filters.stale_days))
    wanted = {k: v for k, v in (filters.custom or {}).items() if str(v).strip()}
    if wanted:
        definitions = {d.key: d for d in CustomFieldDefinition.objects.filter(key__in=wanted)}
        for key, expression in wanted.items():
            if key not in definitions:
                raise ValidationFailed(details={"custom": [
                    _("Unknown custom field “%s”.") % key]})
            qs = qs.filter(_custom_filter(definitions[key], expression))
    return qs


def no_contact_since(days: int, now: datetime | None = None) -> Q:
    """Customers known for more than `days` days with no interaction in that time: the one
    definition behind the list filter, the data-quality page and the stale reminders."""
    cutoff = (now or timezone.now()) - timedelta(days=days)
    recent = Customer.objects.filter(pk=OuterRef("pk"), interactions__occurred_at__gte=cutoff)
    return Q(created_at__lt=cutoff) & ~Exists(recent)


def _encode_cursor(sort: str, customer: Customer) -> str:
    value = getattr(customer, SORTS[sort.lstrip("-")])
    if isinstance(value, datetime):
        value = value.isoformat()
    return signing.dumps([sort, value, customer.pk], salt=_CURSOR_SALT, compress=True)


def _after_cursor(qs: QuerySet[Customer], sort: str, cursor: str) -> QuerySet[Customer]:
    try:
        cursor_sort, value, pk = signing.loads(cursor, salt=_CURSOR_SALT)
    except signing.BadSignature:
        raise ValidationFailed(details={"cursor": [_("This page link is no longer valid.")]}
                               ) from None
    if cursor_sort != sort:
        raise ValidationFailed(details={"cursor": [_("This page link is no longer valid.")]})
    column = SORTS[sort.lstrip("-")]
    if column in ("created_at", "updated_at"):
        value = datetime.fromisoformat(value)
    op = "lt" if sort.startswith("-") else "gt"
    return qs.filter(Q(**{f"{column}__{op}": value})
                     | Q(**{column: value, f"pk__{op}": pk}))


def customer_filtered_queryset(
    *, user, filters: CustomerFilters | None = None, sort: str = DEFAULT_SORT, actor=None
) -> QuerySet[Customer]:
    """The customers the list shows for these filters, in its order (sort column, then id).

    The list, the API and exports all read through it, so their record scope and filtering
    can never disagree. An unknown sort falls back to the default, as on the list; a sort,
    filter or search on a field masked or hidden for the user is refused (ValidationFailed).
    `actor` (the request's) is who a sensitive lookup's audit entry names.
    """
    filters = filters or CustomerFilters()
    visible = customer_queryset(user=user)  # customer.view first: denied before refused
    _check_conditions(filters, sort, user.access)
    if sort.lstrip("-") not in SORTS:
        sort = DEFAULT_SORT
    qs = _filtered(visible, filters, user)
    lookup = _search(filters.q, user.access)[1] if filters.q else None
    if lookup is not None:
        # A search by a whole ID number, phone or email is a sensitive lookup (for an ID
        # number: allowance, audit entry with the number found; customers.services.lookups).
        from kehu.core.actor import Actor
        from kehu.customers.services import customer_sensitive_lookup

        qs = customer_sensitive_lookup(actor=actor or Actor(user=user), by=lookup,
                                       find=lambda: qs, count=lambda found: found.count())
    qs = qs.select_related(*LIST_COLUMNS)  # the later layers' columns, joined (one row each)
    column = SORTS[sort.lstrip("-")]
    direction = "-" if sort.startswith("-") else ""
    return qs.order_by(f"{direction}{column}", f"{direction}pk")


def customer_list(
    *,
    user,
    filters: CustomerFilters | None = None,
    sort: str = DEFAULT_SORT,
    cursor: str | None = None,
    limit: int = 50,
    with_count: bool = False,
    actor=None,
) -> CustomerPage:
    """One page of the customers the user may see, newest first by default.

    Keyset pagination on (sort column, id): page N costs what page 1 costs, however
    many customers there are. The count is optional because it is the slow part.
    """
    limit = max(1, min(int(limit), MAX_LIMIT))
    page_qs = customer_filtered_queryset(user=user, filters=filters, sort=sort, actor=actor)
    if sort.lstrip("-") not in SORTS:
        sort = DEFAULT_SORT
    count = page_qs.count() if with_count else None
    if cursor:
        page_qs = _after_cursor(page_qs, sort, cursor)
    rows = list(page_qs.select_related("owner", "team", *LIST_COLUMNS).prefetch_related(
        Prefetch("tag_links", queryset=CustomerTag.objects.select_related("tag")
                 .order_by("tag__name")))[:limit + 1])
    more = len(rows) > limit
    items = rows[:limit]
    return CustomerPage(items=items, next_cursor=_encode_cursor(sort, items[-1]) if more else None,
                        count=count, sort=sort)


def customer_get(*, user, customer_id: int, include_inactive: bool = False) -> Customer:
    """One customer with everything the card's identity layer shows; NotFound when outside
    the user's scope, so a record's existence is never revealed."""
    # "value" (the scoring layer's one-to-one row) comes in the same query, by lookup name.
    customer = (customer_queryset(user=user, include_inactive=include_inactive)
                .select_related("owner", "team", *LIST_COLUMNS,
                                *(j for c in LIST_COLUMNS.values() for j in c.card_joins))
                .prefetch_related(
                    Prefetch("identifiers", queryset=Identifier.objects.filter(is_live=True)),
                    "addresses",
                    Prefetch("tag_links", queryset=CustomerTag.objects.select_related("tag")
                             .order_by("tag__name")),
                    Prefetch("contact_links", queryset=ContactLink.objects.select_related(
                        "person").filter(person__status=Customer.STATUS_ACTIVE)),
                    Prefetch("employer_links", queryset=ContactLink.objects.select_related(
                        "organisation").filter(organisation__status=Customer.STATUS_ACTIVE)),
                ).filter(pk=customer_id).first())
    if customer is None:
        raise NotFound()
    return customer


def customer_lookup(*, user, phone: str = "", email: str = "",
                    id_number: str = "") -> Customer | None:
    """Caller lookup: the customer (within scope) holding this phone, email or ID number.

    Raises ValidationFailed when the value cannot be a phone / email / ID number at all.
    """
    from kehu.core.normalize import normalize_id_number

    try:
        if phone:
            match = Q(kind__in=(Identifier.MOBILE, Identifier.LANDLINE),
                      value=normalize_phone(phone).e164)
        elif email:
            match = Q(kind=Identifier.EMAIL, value=normalize_email(email))
        elif id_number:
            match = Q(kind=Identifier.ID_NUMBER,
                      value=blind_index("id_number", normalize_id_number(id_number).value))
        else:
            raise ValidationFailed(details={"phone": [_("Enter a phone, email or ID number.")]})
    except NormalizationError as exc:
        name = "phone" if phone else "email" if email else "id_number"
        raise ValidationFailed(details={name: [str(exc)]}) from None
    owners = Identifier.objects.filter(match, is_live=True).values("customer_id")
    return (customer_queryset(user=user).select_related("owner", "team")
            .prefetch_related(Prefetch("tag_links", queryset=CustomerTag.objects
                                       .select_related("tag").order_by("tag__name")))
            .filter(pk__in=owners).first())


_SENSITIVE_KIND = {"mobile": "customer.mobile", "landline": "customer.mobile",
                   "email": "customer.email", "wechat": "customer.wechat"}


def identifier_present(user, identifier: Identifier) -> dict[str, Any] | None:
    """An identifier as the user may see it; None when hidden (and always for ID numbers,
    whose stored value is only a blind index)."""
    access = user.access
    if identifier.kind == Identifier.ID_NUMBER or not identifier.is_live:
        return None
    sensitive = _SENSITIVE_KIND.get(identifier.kind)
    if sensitive and access.is_hidden(sensitive):
        return None
    return {
        "id": identifier.pk, "kind": identifier.kind, "system": identifier.system,
        "value": access.present(sensitive, identifier.value) if sensitive else identifier.value,
        "last4": access.present(sensitive, identifier.last4) if identifier.last4 else "",
        "is_primary": identifier.is_primary, "verified": identifier.verified,
        "source": identifier.source,
    }


def _presented_identifiers(user, customer: Customer) -> list[dict[str, Any]]:
    presented = (identifier_present(user, i) for i in customer.identifiers.all())
    return [p for p in presented if p is not None]


def address_present(user, address: Address) -> dict[str, Any] | None:
    """An address as the user may see it: the street, district and postal code follow
    customer.address (a district gives away an ID number's region code; see
    core.permissions.DERIVED_FIELDS), province, city and region are shown to all."""
    access = user.access
    if access.is_hidden("customer.address"):
        return None
    return {
        "id": address.pk, "label": address.label, "province": address.province,
        "city": address.city, "district": access.present("customer.address", address.district),
        "detail": access.present("customer.address", address.detail),
        "postal_code": access.present("customer.address", address.postal_code),
        "region": address.region,
        "is_primary": address.is_primary,
    }


def contact_present(link: ContactLink) -> dict[str, Any]:
    return {"id": link.pk, "person": _person_ref(link.person), "job_title": link.job_title,
            "decision_role": link.decision_role, "is_primary": link.is_primary}


def _person_ref(customer: Customer | None) -> dict[str, Any] | None:
    return {"id": customer.pk, "name": str(customer)} if customer is not None else None


def customer_present(user, customer: Customer, *, detail: bool = True) -> dict[str, Any]:
    """The customer as this user may see it: sensitive fields masked or hidden by role.

    `detail=False` is the list row (no identifier/address/contact lists, no extra queries
    once customer_list's prefetches are in place); `detail=True` adds them for the card and
    the API (customer_get prefetches them).
    """
    access = user.access
    wechat = None
    if detail:
        wechat = next((i.value for i in customer.identifiers.all()
                       if i.kind == Identifier.WECHAT and i.is_primary and i.is_live), None)
    data: dict[str, Any] = {
        "id": customer.pk,
        "kind": customer.kind,
        "name": customer.name,
        "gender": customer.gender,
        "birthday": access.present("customer.birthday", customer.birthday.isoformat()
                                   if customer.birthday else None),
        "title": customer.title,
        "company": customer.company,
        "mobile": access.present("customer.mobile", customer.primary_mobile or None),
        "email": access.present("customer.email", customer.primary_email or None),
        "wechat": access.present("customer.wechat", wechat) if detail else None,
        # Never the clear number: showing it is customer_reveal_id_number's job (audited).
        "id_number": None if access.is_hidden("customer.id_number")
        else (customer.id_number_masked or None),
        "id_number_revealable": bool(customer.id_number_encrypted)
        and access.can_read_field("customer.id_number"),
        "uscc": customer.uscc,
        "industry": customer.industry,
        "company_size": customer.company_size,
        "revenue_band": customer.revenue_band,
        "website": customer.website,
        "owner": _person_ref(customer.owner) if customer.owner_id else None,
        "team": {"id": customer.team.pk, "name": customer.team.name} if customer.team_id
        else None,
        "source": customer.source,
        "lifecycle_stage": customer.lifecycle_stage,
        "preferred_channel": customer.preferred_channel,
        "product_interests": list(customer.product_interests or []),
        "notes": customer.notes,
        "province": customer.province,
        "city": customer.city,
        "region": customer.region,
        "custom": dict(customer.custom or {}),
        "tags": [{"id": link.tag.pk, "name": link.tag.name, "color": link.tag.color}
                 for link in customer.tag_links.all()],
        **_joined_columns(access, customer),
        "status": customer.status,
        "version": customer.version,
        "created_at": customer.created_at,
        "updated_at": customer.updated_at,
        "last_activity_at": customer.last_activity_at,
        "can_edit": access.can("customer.change"),
        "field_modes": {name: access.field_mode(name) for name in (
            "customer.mobile", "customer.email", "customer.id_number", "customer.birthday",
            "customer.address", "customer.wechat")},
    }
    _drop_hidden(access, data)
    if detail:
        data["identifiers"] = _presented_identifiers(user, customer)
        addresses = (address_present(user, a) for a in customer.addresses.all())
        data["addresses"] = [a for a in addresses if a is not None]
        data["contacts"] = [contact_present(link) for link in customer.contact_links.all()]
        data["employers"] = [{
            "id": link.pk, "organisation": _person_ref(link.organisation),
            "job_title": link.job_title, "decision_role": link.decision_role,
            "is_primary": link.is_primary,
        } for link in customer.employer_links.all()]
    return data


def _drop_hidden(access, data: dict[str, Any]) -> None:
    """Empty the plain fields and custom fields hidden for the caller (the access policy's
    field rule: the form designer's "hidden" for their role); sensitive ones are presented
    above by their own setting."""
    from kehu.customers.layouts import BEHAVIOUR_FIELDS

    for key in BEHAVIOUR_FIELDS:
        if key in data and access.is_hidden(f"customer.{key}"):
            data[key] = None
    data["custom"] = {key: value for key, value in data["custom"].items()
                      if not access.is_hidden(f"customer.custom.{key}")}


def _joined_columns(access, customer) -> dict[str, Any]:
    """The columns apps above customers add (value tier, quality score…), each read from its
    one-to-one row when the query joined it; never a query of its own, so lists and exports
    stay N+1-free (an unjoined row counts as absent)."""
    data: dict[str, Any] = {}
    for related, columns in LIST_COLUMNS.items():
        row = None
        descriptor = getattr(type(customer), related, None)
        if descriptor is None or not hasattr(descriptor, "is_cached") or \
                descriptor.is_cached(customer):
            try:
                row = getattr(customer, related)
            except ObjectDoesNotExist:
                row = None
        data.update(columns.present(access, customer, row))
    return data


def identifier_get(*, user, customer: Customer, identifier_id: int) -> Identifier:
    found = customer.identifiers.filter(pk=identifier_id, is_live=True).first()
    if found is None:
        raise NotFound()
    return found


def address_get(*, user, customer: Customer, address_id: int) -> Address:
    found = customer.addresses.filter(pk=address_id).first()
    if found is None:
        raise NotFound()
    return found


def contact_link_get(*, user, organisation: Customer, link_id: int) -> ContactLink:
    found = organisation.contact_links.select_related("person", "organisation").filter(
        pk=link_id).first()
    if found is None:
        raise NotFound()
    return found


def tag_list(*, user, search: str = "") -> QuerySet[Tag]:
    tags = Tag.objects.order_by("name")
    return tags.filter(name__icontains=search) if search else tags


def tag_group_list(*, user) -> QuerySet[TagGroup]:
    """Tag groups with their tags, for the tags page."""
    user.access.require("customer.view")
    return TagGroup.objects.prefetch_related("tags")


def tag_group_get(*, user, group_id: int) -> TagGroup:
    user.access.require("customer.view")
    group = TagGroup.objects.filter(pk=group_id).first()
    if group is None:
        raise NotFound()
    return group


def tag_get(*, user, tag_id: int) -> Tag:
    tag = Tag.objects.filter(pk=tag_id).first()
    if tag is None:
        raise NotFound()
    return tag


def custom_field_list(*, user, include_inactive: bool = False,
                      kind: str = "") -> QuerySet[CustomFieldDefinition]:
    qs = CustomFieldDefinition.objects.order_by("position", "id")
    if not include_inactive:
        qs = qs.filter(is_active=True)
    if kind:
        qs = qs.filter(applies_to__in=("both", kind))
    return qs


def custom_field_get(*, user, field_id: int) -> CustomFieldDefinition:
    found = CustomFieldDefinition.objects.filter(pk=field_id).first()
    if found is None:
        raise NotFound()
    return found


def saved_view_list(*, user) -> QuerySet[SavedView]:
    """The user's own views and everyone's shared ones."""
    return SavedView.objects.filter(Q(user=user) | Q(shared=True)).select_related(
        "user").order_by("name", "id")


def saved_view_get(*, user, view_id: int) -> SavedView:
    view = saved_view_list(user=user).filter(pk=view_id).first()
    if view is None:
        raise NotFound()
    return view


# For the layers whose rows hang off a customer (interactions, events, orders, tickets) --------


def customer_check_visible(*, user, customer: Customer) -> None:
    """NotFound unless `customer` is live and inside the user's scope (existence never revealed)."""
    user.access.require("customer.view")
    if customer.status != Customer.STATUS_ACTIVE or not user.access.may_see_record(
            owner_id=customer.owner_id, team_id=customer.team_id):
        raise NotFound()


def customer_get_plain(*, user, customer_id: int) -> Customer:
    """The live customer row alone (no card prefetches) if the user may see it."""
    customer = (Customer.objects.select_related("owner")
                .filter(pk=customer_id, status=Customer.STATUS_ACTIVE).first())
    if customer is None:
        raise NotFound()
    customer_check_visible(user=user, customer=customer)
    return customer


def rows_of_visible_customers(*, user, queryset: QuerySet) -> QuerySet:
    """Restrict rows with a `customer` foreign key to live customers in the user's scope."""
    user.access.require("customer.view")
    queryset = queryset.filter(customer__status=Customer.STATUS_ACTIVE)
    return user.access.restrict(queryset, owner_field="customer__owner",
                                team_field="customer__team")


# Caller lookup hot path ---------------------------------------------------------------------
# A service agent's phone rings: kehu must name the caller in milliseconds. The ORM spends
# about 1 ms compiling each query, several times the database's own work, so this path uses
# two fixed, parameterised SQL statements (portable between SQLite and PostgreSQL). Scope and
# masking still come from the caller's AccessPolicy, as everywhere else.

_CALLER_SQL = """
SELECT c.id, c.kind, c.name, c.primary_mobile, c.primary_email, c.lifecycle_stage, c.region,
       c.province, c.city, c.owner_id, c.team_id, c.version, c.last_activity_at,
       u.username, u.display_name, u.first_name, u.last_name, t.name
FROM {identifier} i
JOIN {customer} c ON c.id = i.customer_id
LEFT JOIN {user} u ON u.id = c.owner_id
LEFT JOIN {team} t ON t.id = c.team_id
WHERE i.kind IN (%s, %s) AND i.value = %s AND i.is_live = %s AND c.status = %s
ORDER BY c.id
"""
_CALLER_TAGS_SQL = """
SELECT g.id, g.name, g.color FROM {link} l JOIN {tag} g ON g.id = l.tag_id
WHERE l.customer_id = %s ORDER BY g.name
"""


def _caller_sql() -> tuple[str, str]:
    from kehu.accounts.models import Team, User

    tables = {"identifier": Identifier._meta.db_table, "customer": Customer._meta.db_table,
              "user": User._meta.db_table, "team": Team._meta.db_table,
              "link": CustomerTag._meta.db_table, "tag": Tag._meta.db_table}
    return _CALLER_SQL.format(**tables), _CALLER_TAGS_SQL.format(**tables)


def customer_caller_match(*, user, phone: str) -> dict[str, Any] | None:
    """Who is calling: the live customer in the user's scope holding this phone number, as a
    short presentation (masked by role) with the card's URL path; None when nobody matches.

    Raises ValidationFailed when `phone` cannot be a phone number at all.
    """
    from django.db import connection

    access = user.access
    access.require("customer.view")
    try:
        e164 = normalize_phone(phone).e164
    except NormalizationError as exc:
        raise ValidationFailed(details={"phone": [str(exc)]}) from None
    customer_sql, tags_sql = _caller_sql()
    with connection.cursor() as cursor:
        cursor.execute(customer_sql, [Identifier.MOBILE, Identifier.LANDLINE, e164, True,
                                      Customer.STATUS_ACTIVE])
        rows = cursor.fetchall()
        row = next((r for r in rows if access.may_see_record(owner_id=r[9], team_id=r[10])),
                   None)
        if row is None:
            return None
        cursor.execute(tags_sql, [row[0]])
        tags = [{"id": t[0], "name": t[1], "color": t[2]} for t in cursor.fetchall()]
    (pk, kind, name, mobile, email, stage, region, province, city, owner_id, team_id, version,
     last_activity, username, display_name, first_name, last_name, team_name) = row
    owner_name = display_name or f"{last_name}{first_name}".strip() or username
    return {
        "id": pk, "kind": kind, "name": name,
        "mobile": access.present("customer.mobile", mobile or None),
        "email": access.present("customer.email", email or None),
        "lifecycle_stage": stage, "region": region, "province": province, "city": city,
        "owner": {"id": owner_id, "name": owner_name} if owner_id else None,
        "team": {"id": team_id, "name": team_name} if team_id else None,
        "tags": tags, "version": version,
        "last_activity_at": _as_datetime(last_activity),
        "card_path": _card_path(pk),
    }


def _card_path(customer_id: int) -> str:
    from django.urls import NoReverseMatch, reverse

    try:
        return reverse("cards:card", args=[customer_id])
    except NoReverseMatch:
        return f"/customers/{customer_id}/"


def _as_datetime(value):
    """SQLite hands back text for raw datetime columns; PostgreSQL a datetime."""
    if value is None or not isinstance(value, str):
        return value
    from django.utils.dateparse import parse_datetime

    parsed = parse_datetime(value)
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, UTC)
    return parsed
