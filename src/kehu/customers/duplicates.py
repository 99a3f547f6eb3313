"""Customers as matching records, and the at-entry duplicate check.

One implementation serves the create page, the edit page, the card's inline edit, the API
and imports: `customer_possible_duplicates` finds existing customers through the matching
engine's blocking keys (`kehu.matching.candidate_keys`) with indexed lookups, scores each
with `score_pair`, and presents the likely ones masked for the viewer. Customers outside
the viewer's scope are only counted, never named.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Prefetch, Q, QuerySet
from django.utils.translation import gettext_lazy as _

from kehu.core.crypto import blind_index, decrypt
from kehu.core.normalize import NormalizationError, name_search_keys, parse_date
from kehu.customers.models import Address, ContactLink, Customer, Identifier
from kehu.matching import candidate_keys, score_pair

ENTRY_THRESHOLD = 0.8  # what "likely the same" means at the door
MAX_SCORED = 20
_PHONES = (Identifier.MOBILE, Identifier.LANDLINE)
# The matching engine's evidence fields, as people read them.
EVIDENCE_FIELDS = {"name": _("name"), "surname": _("surname"), "given_name": _("given name"), "phone": _("phone"),
                   "email": _("email"), "id_number": _("ID number"), "birthday": _("birthday"),
                   "gender": _("gender"), "address": _("address"), "company": _("company"),
                   "postcode": _("postcode")}


def evidence_text(evidence) -> str:
    """"name: same pinyin" for one FieldEvidence."""
    return f"{EVIDENCE_FIELDS.get(evidence.field, evidence.field)}: {evidence.label}"


def _with_rows(qs: QuerySet[Customer]) -> QuerySet[Customer]:
    return qs.prefetch_related(
        Prefetch("identifiers", queryset=Identifier.objects.filter(
            is_live=True, kind__in=_PHONES).order_by("-is_primary", "id"),
            to_attr="match_phones"),
        Prefetch("addresses", queryset=Address.objects.order_by("-is_primary", "id"),
                 to_attr="match_addresses"),
        Prefetch("employer_links", queryset=ContactLink.objects.select_related("organisation")
                 .order_by("-is_primary", "id"), to_attr="match_employers"),
    )


def match_record(customer: Customer) -> dict[str, Any]:
    """A customer as the matching engine reads it. The clear ID number lives only in memory.

    Uses the rows `_with_rows` prefetched, else queries them.
    """
    phones = getattr(customer, "match_phones", None)
    if phones is None:
        phones = list(customer.identifiers.filter(is_live=True, kind__in=_PHONES)
                      .order_by("-is_primary", "id"))
    addresses = getattr(customer, "match_addresses", None)
    if addresses is None:
        addresses = list(customer.addresses.order_by("-is_primary", "id"))
    employers = getattr(customer, "match_employers", None)
    if employers is None:
        employers = list(customer.employer_links.select_related("organisation")
                         .order_by("-is_primary", "id"))
    mobile = customer.primary_mobile or (phones[0].value if phones else "")
    other = next((p.value for p in phones if p.value != mobile), "")
    address = addresses[0] if addresses else None
    id_number = ""
    if customer.id_number_encrypted:
        try:
            id_number = decrypt(customer.id_number_encrypted)
        except Exception:  # noqa: BLE001 - a key rotated away: match without it
            id_number = ""
    if customer.kind == Customer.KIND_ORGANISATION:
        company = customer.name
    else:
        company = employers[0].organisation.name if employers else customer.company
    return {
        "id": customer.pk, "name": customer.name, "gender": customer.gender,
        "birthday": customer.birthday.isoformat() if customer.birthday else "",
        "mobile": mobile, "phone": other, "email": customer.primary_email,
        "id_number": id_number,
        "address": address.detail if address else "",
        "province": address.province if address else customer.province,
        "city": address.city if address else customer.city,
        "district": address.district if address else "",
        "company": company,
    }


def match_records(qs: QuerySet[Customer], *, chunk_size: int = 2000) -> Iterator[dict[str, Any]]:
    """Match records of a queryset, in chunks (bounded memory per chunk of rows)."""
    ids = list(qs.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), chunk_size):
        chunk = _with_rows(Customer.objects.filter(pk__in=ids[start:start + chunk_size])
                           .order_by("pk"))
        for customer in chunk:
            yield match_record(customer)


def entry_record(values: Mapping[str, Any], *, kind: str = Customer.KIND_PERSON) -> dict:
    """A record from what someone typed into a form, the API or an import row."""
    address = values.get("address") or ""
    if isinstance(address, Mapping):
        address = "".join(str(address.get(k) or "") for k in ("province", "city", "district",
                                                               "detail")) or address.get("raw", "")
    birthday = values.get("birthday") or ""
    return {
        "id": "new", "name": values.get("name") or "", "gender": values.get("gender") or "",
        "birthday": birthday.isoformat() if hasattr(birthday, "isoformat") else str(birthday),
        "mobile": values.get("mobile") or "", "phone": values.get("phone") or "",
        "email": values.get("email") or "", "id_number": values.get("id_number") or "",
        "address": str(address), "company": values.get("company") or (
            values.get("name") if kind == Customer.KIND_ORGANISATION else "") or "",
    }


def _candidate_filter(record: Mapping[str, Any]) -> Q | None:
    """Indexed lookups for every blocking rule of the model (docs/matching.md)."""
    keys = candidate_keys(record)
    conditions = Q()
    phones = [keys[k] for k in ("phone", "phone_2") if keys.get(k)]
    if phones:
        conditions |= Q(pk__in=Identifier.objects.filter(
            kind__in=_PHONES, value__in=phones, is_live=True).values("customer_id"))
    if keys.get("email"):
        conditions |= Q(pk__in=Identifier.objects.filter(
            kind=Identifier.EMAIL, value=keys["email"], is_live=True).values("customer_id"))
    if keys.get("id_number"):
        conditions |= Q(id_number_index=blind_index("id_number", keys["id_number"]))
    name = record.get("name") or ""
    if keys.get("birthday") and name:
        try:
            birthday = parse_date(keys["birthday"])
        except NormalizationError:
            birthday = None
        if birthday is not None:
            conditions |= Q(name_pinyin=name_search_keys(name)[0], birthday=birthday)
    if keys.get("name") and keys.get("city"):
        conditions |= Q(name=keys["name"], city=keys["city"]) | Q(
            name=name.strip(), city=keys["city"])
    return conditions if conditions else None


@dataclass(frozen=True)
class DuplicateHint:
    """One likely duplicate as the viewer may see it."""

    id: int
    name: str
    mobile: str | None
    email: str | None
    owner: str | None
    probability: float
    reasons: list[str]


@dataclass(frozen=True)
class DuplicateCheck:
    """What the at-entry check found: visible likely duplicates and a count of hidden ones."""

    hints: list[DuplicateHint] = field(default_factory=list)
    hidden: int = 0

    def __bool__(self) -> bool:
        return bool(self.hints) or self.hidden > 0


def _owner_name(owner) -> str | None:
    if owner is None:
        return None
    return owner.display_name or owner.get_full_name() or owner.get_username()


def possible_duplicates(record: Mapping[str, Any], *, exclude_ids: Iterable[int] = (),
                        threshold: float = ENTRY_THRESHOLD) -> list[tuple[Customer, Any]]:
    """(customer, MatchPair) for live customers likely the same as `record`, best first.
    Unscoped: callers present the result through a user's scope (see below)."""
    condition = _candidate_filter(record)
    if condition is None:
        return []
    rows = list(_with_rows(Customer.objects.filter(condition, status=Customer.STATUS_ACTIVE)
                           .exclude(pk__in=list(exclude_ids)).select_related("owner"))
                .order_by("-updated_at")[:MAX_SCORED])
    found = []
    for customer in rows:
        pair = score_pair(record, match_record(customer))
        if pair.probability >= threshold:
            found.append((customer, pair))
    found.sort(key=lambda item: -item[1].probability)
    return found


def customer_possible_duplicates(*, user, values: Mapping[str, Any],
                                 kind: str = Customer.KIND_PERSON,
                                 exclude_id: int | None = None, limit: int = 3,
                                 threshold: float = ENTRY_THRESHOLD) -> DuplicateCheck:
    """The at-entry check: customers that `values` (a form's, API's or import row's input)
    probably duplicates, masked per the user's role; those outside the scope only counted."""
    access = user.access
    access.require("customer.view")
    found = possible_duplicates(entry_record(values, kind=kind),
                                exclude_ids=[exclude_id] if exclude_id else [],
                                threshold=threshold)
    hints, hidden = [], 0
    for customer, pair in found:
        if customer.kind != kind:
            continue
        if not access.may_see_record(owner_id=customer.owner_id, team_id=customer.team_id):
            hidden += 1
            continue
        if len(hints) < limit:
            hints.append(DuplicateHint(
                id=customer.pk, name=customer.name,
                mobile=access.present("customer.mobile", customer.primary_mobile or None),
                email=access.present("customer.email", customer.primary_email or None),
                owner=_owner_name(customer.owner), probability=round(pair.probability, 4),
                reasons=[evidence_text(e) for e in pair.explanation if e.weight > 0][:4]))
    return DuplicateCheck(hints=hints, hidden=hidden)


IDENTITY_INPUTS = frozenset({"name", "mobile", "email", "id_number", "birthday", "address"})


def form_duplicate_check(*, user, changes: Mapping[str, Any], kind: str,
                         customer: Customer | None = None, changed: Iterable[str] = (),
                         confirmed: bool = False) -> DuplicateCheck | None:
    """The check the create page, the edit page and the card's inline edit run before saving.

    None when there is nothing to warn about: the user already chose "continue anyway", an
    edit did not touch a name, phone, email, ID number, birthday or address, or nothing
    similar exists.
    """
    if confirmed:
        return None
    if customer is not None:
        if not IDENTITY_INPUTS & set(changed):
            return None
        values = {k: v for k, v in match_record(customer).items() if k != "id"}
        values.update({k: v for k, v in changes.items() if k in IDENTITY_INPUTS and v})
    else:
        values = dict(changes)
    check = customer_possible_duplicates(user=user, values=values, kind=kind,
                                         exclude_id=customer.pk if customer else None)
    return check or None
