"""Writing many customers at once, set-based: `customers_upsert_many(*, actor, rows)`.

The import's writer (kehu.interchange hands it each chunk of cleaned rows, inside the
chunk's transaction). All the rows' identifiers are looked up at once, the rows are then
applied IN ORDER to an in-memory picture of the customers they touch (so rows that share an
identifier reach the same customer and every row keeps its own outcome and audit entry), and
finally everything is written set-based: new customers, identifiers and addresses inserted,
changed customers updated with their version advanced, one audit entry per changed row
appended to the chain under one lock of its head.

Every rule comes from where customer_create / customer_update take it: the catalogue
(kehu.customers.fields: who may change what, person/organisation fields), the planning
functions (kehu.customers.planning: field rules, ID-number agreement, required custom
fields, name conflicts), the same messages; tests/customers/test_write_parity.py holds the
two paths to the same outcomes, errors and audit entries.

A row matched by an identifier whose name clearly differs from the customer's (not a
pinyin, traditional/simplified or typo variant) is a name conflict, handled as
`UpsertOptions.on_name_conflict` says: "review" (the default) leaves that customer alone,
creates the row as its own customer without the identifiers the other one holds and returns
the pair (UpsertResult.conflict) for the caller to queue for duplicate review; "reject"
refuses the row; "update" writes it over the matched customer as before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.accounts.models import Team, User
from kehu.core.actor import Actor
from kehu.core.audit import PLAIN_TYPES, canonical, diff
from kehu.core.bulkdb import allocate_ids, insert_rows, update_rows
from kehu.core.crypto import encrypt
from kehu.core.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from kehu.core.events import Change, record_changes_many
from kehu.core.masking import mask_id_number
from kehu.core.normalize import (
    name_search_keys,
    normalize_id_number,
    normalize_phone,
)
from kehu.customers import fields as catalogue
from kehu.customers import planning
from kehu.customers.models import Address, Customer, CustomerTag, Identifier, Tag
from kehu.customers.services._common import check_owner_team, require_visible, snapshot
from kehu.customers.services.identity import (
    PHONE_KINDS,
    SENSITIVE_FIELD_OF_KIND,
    address_parts,
    duplicate_message,
    id_number_index,
)

PRECEDENCE = ("mobile", "email", "id_number", "external_id")
EXTERNAL_SYSTEM = "import"

# Plain columns an upsert may set (customers.services SIMPLE_FIELDS it maps).
_SIMPLE = ("gender", "birthday", "title", "company", "uscc", "industry", "source",
           "lifecycle_stage", "notes")
_CONTACTS = {"mobile": PHONE_KINDS, "email": (Identifier.EMAIL,),
             "wechat": (Identifier.WECHAT,)}
_IDENTIFIER_FIELDS = ("mobile", "email", "wechat", "id_number", "external_id")
_LOOKUP_BATCH = 900
_EMPTY = (None, "", [], {})
_CUSTOMER_ATTNAMES = [f.attname for f in Customer._meta.concrete_fields]
_ADDRESS_ATTNAMES = [f.attname for f in Address._meta.concrete_fields]
# A new customer's column defaults (JSON ones are replaced by fresh values per customer).
_DEFAULTS = {f.attname: f.get_default() for f in Customer._meta.concrete_fields}
_NEW_ORDER = 1 << 62  # identifiers written in this chunk sort after every stored one
UPSERT_FIELDS = ("name", "kind", "owner", "external_id", "mobile", "email", "wechat",
                 "id_number", "address", "province", "city", "tags", "custom", *_SIMPLE)


@dataclass
class UpsertRow:
    """One row of clean values (keys as in UPSERT_FIELDS; "custom": {key: value}) and what
    the writer derives from them. Picklable (no ORM objects): `upsert_row` may run in
    another process."""

    number: int
    values: dict[str, Any]
    phone: tuple[str, str] | None = None  # (kind, last4) of values["mobile"]
    # (blind index, ciphertext, masked, birthday, gender) of values["id_number"]
    id_number: tuple[str, str, str, date, str] | None = None
    address: dict[str, str] | None = None
    name_keys: tuple[str, str] = ("", "")

    def __repr__(self) -> str:  # values may hold a clear ID number
        return f"UpsertRow(number={self.number})"


def upsert_row(number: int, values: dict[str, Any]) -> UpsertRow:
    """Derive what the writer needs from a row of clean values; no database access."""
    item = UpsertRow(number=number, values=values)
    item.name_keys = name_search_keys(values["name"])
    if values.get("mobile"):
        phone = normalize_phone(values["mobile"])
        item.phone = (phone.kind, phone.last4)
    if values.get("id_number"):
        parsed = normalize_id_number(values["id_number"])
        item.id_number = (id_number_index(parsed.value), encrypt(parsed.value),
                          mask_id_number(parsed.value), parsed.birthday, parsed.gender)
    province, city = values.get("province") or "", values.get("city") or ""
    if values.get("address") or province or city:
        item.address = address_parts(raw=str(values.get("address") or ""), province=province,
                                     city=city)
    return item


@dataclass(frozen=True)
class UpsertOptions:
    precedence: tuple[str, ...] = PRECEDENCE
    skip_invalid: bool = False  # write a row without its invalid fields (not the name)
    on_name_conflict: str = "review"  # review | reject | update (planning.ON_NAME_CONFLICT)
    external_system: str = EXTERNAL_SYSTEM


@dataclass
class UpsertResult:
    """One row's outcome: created, updated, unchanged or rejected; its (field, message)
    problems ("" for the whole row); and for a name conflict under "review", the pair
    (the row's new customer, the customer holding the identifier) to review."""

    outcome: str
    errors: list[tuple[str, str]] = field(default_factory=list)
    customer_id: int | None = None
    conflict: tuple[int, int] | None = None


class UpsertSession:
    """Caches that outlive one call (owners by name, users and teams by id): hand the same
    session to every chunk of one import."""

    def __init__(self) -> None:
        self.users: dict[str, User | None] = {}
        self._people: dict[tuple[str, Any], Any] = {}

    def people(self, user_ids: set[int], team_ids: set[int]) -> dict[tuple[str, Any], Any]:
        """Owners and teams by id (("user", id) / ("team", id))."""
        missing = [pk for pk in user_ids if ("user", pk) not in self._people]
        for user in User.objects.filter(pk__in=missing).select_related("team"):
            self._people[("user", user.pk)] = user
        missing = [pk for pk in team_ids if ("team", pk) not in self._people]
        for team in Team.objects.filter(pk__in=missing):
            self._people[("team", team.pk)] = team
        return self._people

    def owner(self, name: str) -> User:
        if name not in self.users:
            users = User.objects.select_related("team").filter(is_active=True)
            self.users[name] = (users.filter(username=name).first()
                                or users.filter(display_name=name).order_by("pk").first())
        user = self.users[name]
        if user is None:
            raise ValidationFailed(details={"owner": [_("No active user “%s”.") % name]})
        return user


def customers_upsert_many(*, actor: Actor, rows: list[UpsertRow],
                          options: UpsertOptions | None = None,
                          session: UpsertSession | None = None) -> list[UpsertResult]:
    """Create or update a customer per row, matched by identifier in `options.precedence`;
    one result per row, in order. Runs inside the caller's transaction (everything or
    nothing); rows are independent: a refused row leaves no trace."""
    options = options or UpsertOptions()
    if options.on_name_conflict not in planning.ON_NAME_CONFLICT:
        raise ValidationFailed(details={"on_name_conflict": [
            _("Choose one of: %s.") % ", ".join(planning.ON_NAME_CONFLICT)]})
    writer = _ChunkWriter(actor, rows, options, session or UpsertSession())
    results = [writer.row(item) for item in rows]
    writer.flush()
    return results


class _Skip(Exception):
    """A row-level failure: (field, message) pairs, or a message for the whole row."""


class _Bag:
    """A plain attribute bag standing in for a model row: building model instances costs
    more than everything else a row needs. Carries the concrete fields by attname."""

    def __init__(self, **values: Any):
        self.__dict__.update(values)

    @property
    def pk(self) -> Any:
        return self.id


@dataclass
class _Ident:
    kind: str
    system: str
    value: str
    is_primary: bool
    order: int
    last4: str = ""
    pk: int | None = None
    source: str = ""


@dataclass
class _Card:
    """A customer as this chunk sees it: its row, live identifiers and primary address."""

    customer: _Bag  # Customer's columns by attname, plus owner and team objects
    new: bool
    idents: list[_Ident] = field(default_factory=list)
    address: _Bag | None = None
    new_idents: list[_Ident] = field(default_factory=list)
    dropped_idents: list[int] = field(default_factory=list)
    dirty: set[str] = field(default_factory=set)
    address_dirty: bool = False
    tags: set[str] = field(default_factory=set)  # folded names of its tags
    new_tags: list[str] = field(default_factory=list)

    def live(self) -> set[tuple[str, str, str]]:
        return {(i.kind, i.system, i.value) for i in self.idents}


def _keys_of(name: str, value: str, system: str) -> list[tuple[str, str, str]]:
    """The identifier keys a row value may be stored under, for matching."""
    if name == "mobile":
        return [(kind, "", value) for kind in PHONE_KINDS]
    if name == "email":
        return [(Identifier.EMAIL, "", value)]
    if name == "id_number":
        return [(Identifier.ID_NUMBER, "", value)]
    if name == "wechat":
        return [(Identifier.WECHAT, "", value)]
    return [(Identifier.EXTERNAL, system, value)]


class _ChunkWriter:
    """The in-memory picture of the customers one call touches, then its set-based write."""

    def __init__(self, actor: Actor, rows: list[UpsertRow], options: UpsertOptions,
                 session: UpsertSession):
        self.actor, self.options, self.session = actor, options, session
        self.access = actor.access
        self.system = options.external_system
        self.rules = planning.Rules.load()
        self.cards: dict[int, _Card] = {}
        self.owner_of: dict[tuple[str, str, str], int] = {}  # live identifier -> customer id
        self.ids: list[int] = []  # allocated ids for new customers, taken in order
        self.remaining = len(rows)
        self.audit: list[tuple[_Card, str, dict[str, Any]]] = []
        self.tags: dict[str, tuple[int | None, str]] = {}  # folded name -> (id, name)
        self.now = timezone.now()
        self._order = _NEW_ORDER
        self._load(rows)

    # Loading ------------------------------------------------------------------------------

    def _load(self, rows: list[UpsertRow]) -> None:
        # Looked up by (kind, value): the index leads with the kind.
        wanted: dict[tuple[str, ...], set[str]] = {}
        for item in rows:
            v = item.values
            for name in ("mobile", "email", "wechat", "external_id"):
                if v.get(name):
                    kinds = tuple(sorted({k for k, _s, _v in _keys_of(name, "", "")}))
                    wanted.setdefault(kinds, set()).add(str(v[name]))
            if item.id_number and v.get("id_number"):
                wanted.setdefault((Identifier.ID_NUMBER,), set()).add(item.id_number[0])
        if any(item.values.get("tags") for item in rows):
            self.tags = {name.casefold(): (pk, name)
                         for pk, name in Tag.objects.values_list("pk", "name")}
        found: list[tuple[int, str, str, str, str]] = []
        for kinds, values in wanted.items():
            values_list = sorted(values)
            for start in range(0, len(values_list), _LOOKUP_BATCH):
                found.extend(Identifier.objects.filter(
                    is_live=True, kind__in=kinds,
                    value__in=values_list[start:start + _LOOKUP_BATCH]).values_list(
                    "customer_id", "kind", "system", "value", "customer__status"))
        active: set[int] = set()
        for customer_id, kind, system, value, status in found:
            self.owner_of[(kind, system, value)] = customer_id
            if status == Customer.STATUS_ACTIVE:
                active.add(customer_id)
        if not active:
            return
        ids = sorted(active)
        for start in range(0, len(ids), _LOOKUP_BATCH):
            part = ids[start:start + _LOOKUP_BATCH]
            rows_found = list(Customer.objects.filter(pk__in=part).values(*_CUSTOMER_ATTNAMES))
            people = self.session.people({r["owner_id"] for r in rows_found} - {None},
                                         {r["team_id"] for r in rows_found} - {None})
            for row in rows_found:
                customer = _Bag(**row, owner=people.get(("user", row["owner_id"])),
                                team=people.get(("team", row["team_id"])))
                self.cards[customer.pk] = _Card(customer=customer, new=False)
            for ident in Identifier.objects.filter(customer_id__in=part, is_live=True).order_by(
                    "-is_primary", "id").values_list("customer_id", "pk", "kind", "system",
                                                     "value", "is_primary", "last4"):
                customer_id, pk, kind, system, value, primary, last4 = ident
                card = self.cards.get(customer_id)
                if card is not None:
                    card.idents.append(_Ident(kind, system, value, primary, pk, last4, pk))
                    self.owner_of[(kind, system, value)] = customer_id
            for address in Address.objects.filter(customer_id__in=part, is_primary=True).order_by(
                    "-id").values(*_ADDRESS_ATTNAMES):
                self.cards[address["customer_id"]].address = _Bag(**address)  # lowest id wins
            if self.tags:
                for customer_id, name in CustomerTag.objects.filter(
                        customer_id__in=part).values_list("customer_id", "tag__name"):
                    self.cards[customer_id].tags.add(name.casefold())

    # One row ------------------------------------------------------------------------------

    def row(self, item: UpsertRow) -> UpsertResult:
        values = dict(item.values)
        errors: list[tuple[str, str]] = []
        for _attempt in range(4):
            try:
                result = self._upsert(item, values)
                result.errors[:0] = errors
                return result
            except ValidationFailed as exc:
                failed = self._errors_of(exc)
                fields = {name for name, _message in failed}
                if (self.options.skip_invalid and "name" not in fields and "" not in fields
                        and fields & set(values)):
                    errors.extend(failed)
                    for name in fields:
                        values.pop(name, None)
                    continue
                return UpsertResult("rejected", [*errors, *failed])
            except NotFound:
                name = next((f for f in self.options.precedence if values.get(f)), "")
                return UpsertResult("rejected", [
                    *errors, (name, _("Already recorded for another customer."))])
            except DomainError as exc:
                return UpsertResult("rejected", [*errors, ("", str(exc.message))])
        return UpsertResult("rejected", errors)

    @staticmethod
    def _errors_of(exc: ValidationFailed) -> list[tuple[str, str]]:
        details = exc.details if isinstance(exc.details, dict) else {}
        found = [("" if name == "__all__" else name, str(message))
                 for name, messages in details.items()
                 for message in (messages if isinstance(messages, list | tuple) else [messages])]
        return found or [("", str(exc.message))]

    def _match(self, values: dict[str, Any], item: UpsertRow) -> tuple[_Card | None, str]:
        for name in self.options.precedence:
            value = values.get(name)
            if not value:
                continue
            if name == "id_number":
                if item.id_number is None:
                    continue
                value = item.id_number[0]
            for key in _keys_of(name, str(value), self.system):
                card = self.cards.get(self.owner_of.get(key, 0))
                if card is not None:
                    return card, name
        return None, ""

    def _duplicate(self, key: tuple[str, str, str], card: _Card | None, name: str) -> None:
        """ValidationFailed when the value is live on another customer (named if visible)."""
        other_id = self.owner_of.get(key)
        if other_id is None or (card is not None and other_id == card.customer.pk):
            return
        other = self.cards[other_id].customer if other_id in self.cards else (
            Customer.objects.select_related("owner", "team").get(pk=other_id))
        raise ValidationFailed(details={name: [duplicate_message(self.actor, other)]},
                               code="duplicate")

    def _uscc_taken(self, uscc: str, card: _Card | None) -> None:
        mine = card.customer.pk if card is not None else None
        other = next((c.customer for c in self.cards.values()
                      if c.customer.uscc == uscc and c.customer.pk != mine
                      and c.customer.status == Customer.STATUS_ACTIVE), None)
        if other is None:
            other = (Customer.objects.filter(uscc=uscc, status=Customer.STATUS_ACTIVE)
                     .exclude(pk=mine).exclude(pk__in=[c for c in self.cards if c > 0])
                     .select_related("owner", "team").first())
        if other is not None:
            raise ValidationFailed(details={"uscc": [duplicate_message(self.actor, other)]},
                                   code="duplicate")

    @staticmethod
    def _check_kind_fields(errors: dict[str, list[str]], kind: str,
                           columns: dict[str, Any]) -> None:
        for name, value in columns.items():
            message = planning.kind_field_error(kind, name, value)
            if message:
                errors.setdefault(name, []).append(message)

    def _rule_errors(self, errors: dict[str, list[str]], kind: str, card: _Card | None,
                     item: UpsertRow, columns: dict[str, Any], values: dict[str, Any],
                     only: set[str] | None) -> None:
        """The data steward's field rules and the form designer's field behaviour rules on
        the values this row leaves (planning, as the card and the API)."""
        if not self.rules.field_rules.get(kind) and not self.rules.behaviour:
            return
        customer = card.customer if card is not None else None
        after = {name: columns.get(name, getattr(customer, name) if customer
                                   else _DEFAULTS.get(name))
                 for name in planning.COLUMN_FIELDS}
        if values.get("name") and (customer is None or "name" in columns):
            after["name"] = values["name"]

        def current(name: str) -> str:
            if customer is None:
                return ""
            if name == "mobile":
                return customer.primary_mobile
            if name == "email":
                return customer.primary_email
            return next((i.value for i in card.idents
                         if i.kind == Identifier.WECHAT and i.is_primary), "")

        # The import never replaces a stored primary contact: a new value is added beside it.
        contacts = {name: current(name) or values.get(name) or ""
                    for name in ("mobile", "email", "wechat")}
        id_number = values.get("id_number") or (customer.id_number_masked if customer else "")
        parts = item.address if values.get("address") else None
        province = parts.get("province", "") if parts else (customer.province if customer
                                                            else "")
        city = parts.get("city", "") if parts else (customer.city if customer else "")
        custom = columns.get("custom", customer.custom if customer else {}) or {}
        left = planning.rule_values(
            columns=after, mobile=contacts["mobile"], email=contacts["email"],
            wechat=contacts["wechat"], id_number=id_number or "", province=province,
            city=city, custom=custom)
        if self.rules.field_rules.get(kind):
            errors.update(planning.field_rule_errors(self.rules, kind, left, only, errors))
        if not self.rules.behaviour:
            return
        user = self.actor.user
        role = user.role.code if user is not None and user.role_id else None
        if customer is None:
            before = planning.behaviour_values(kind, {"lifecycle_stage": _DEFAULTS.get(
                "lifecycle_stage")})
            written = {name for name, value in values.items() if value not in planning.EMPTY}
            written |= {f"custom.{k}" for k in (values.get("custom") or {})}
        else:
            stored = {name: getattr(customer, name) for name in planning.COLUMN_FIELDS}
            before = planning.behaviour_values(kind, planning.rule_values(
                columns=stored, mobile=current("mobile") or "", email=current("email") or "",
                wechat=current("wechat") or "", id_number=customer.id_number_masked,
                province=customer.province, city=customer.city, custom=customer.custom or {}))
            written = set(only or ())
            if "province" in written or "city" in written:
                written.add("address")
        raw = str(values.get("address") or "") or None
        errors.update(planning.behaviour_errors(
            self.rules, kind, role, before=before,
            after=planning.behaviour_values(kind, left, address=raw),
            written=written, creating=customer is None, errors=errors))

    @staticmethod
    def _address_of(item: UpsertRow, values: dict[str, Any]) -> dict[str, str] | None:
        """The row's address parts (the raw address, or only a province and city)."""
        if values.get("address"):
            return item.address
        province, city = values.get("province") or "", values.get("city") or ""
        if not (province or city):
            return None
        return address_parts(province=province, city=city)

    def _new_tags(self, card: _Card | None, values: dict[str, Any]) -> list[str]:
        """The row's tags the customer does not have yet (refused without segment.manage,
        the right tag_add demands)."""
        names = [name for name in values.get("tags") or ()
                 if card is None or name.casefold() not in card.tags]
        if names and self.access is not None and not self.access.can("segment.manage"):
            raise ValidationFailed(details={"tags": [_("Your role may not tag customers.")]})
        return names

    def _tag(self, card: _Card, names: list[str]) -> list[str]:
        """Put the tags on the in-memory card; their stored names, in order."""
        added = []
        for name in names:
            folded = name.casefold()
            if folded in card.tags:
                continue
            stored = self.tags.setdefault(folded, (None, name))[1]
            card.tags.add(folded)
            card.new_tags.append(folded)
            added.append(stored)
        return added

    def _upsert(self, item: UpsertRow, values: dict[str, Any]) -> UpsertResult:
        values = dict(values)
        owner_name = values.pop("owner", None)
        owner = self.session.owner(owner_name) if owner_name else None
        external = values.pop("external_id", None)
        card, matched = self._match({**values, "external_id": external}, item)
        if card is None:
            return self._create(item, values, owner, external)
        require_visible(self.actor, card.customer)
        mode = self.options.on_name_conflict
        if mode != "update" and planning.name_conflict(card.customer.name, values.get("name")):
            message = planning.name_conflict_message(matched, card.customer.name,
                                                     card.customer.pk)
            if mode == "reject":
                raise ValidationFailed(details={matched: [message]}, code="name_conflict")
            # review: the row is its own customer, without what the other one holds.
            held = card.live()
            kept = dict(values)
            for name in ("mobile", "email", "wechat"):
                if kept.get(name) and any(key in held for key in _keys_of(
                        name, str(kept[name]), self.system)):
                    kept.pop(name)
            if item.id_number and kept.get("id_number") and (
                    Identifier.ID_NUMBER, "", item.id_number[0]) in held:
                kept.pop("id_number")
            if external and (Identifier.EXTERNAL, self.system, external) in held:
                external = None
            result = self._create(item, kept, owner, external)
            result.errors.insert(0, (matched, message))
            result.conflict = (result.customer_id, card.customer.pk)
            return result
        return self._update(item, card, values, owner, external)

    # Creating -----------------------------------------------------------------------------

    def _create(self, item: UpsertRow, values: dict[str, Any], owner: User | None,
                external: str | None) -> UpsertResult:
        actor = self.actor
        actor.require("customer.add")
        if owner is None and actor.user is not None:
            owner = actor.user
        team = owner.team if owner is not None else None
        if actor.user is not None and owner is not None and owner.pk != actor.user.pk:
            actor.require("customer.assign")
        check_owner_team(actor, owner, team)
        kind = values.get("kind", Customer.KIND_PERSON)
        columns: dict[str, Any] = {k: values[k] for k in _SIMPLE if k in values}
        parts = self._address_of(item, values)
        errors = planning.sensitive_errors(self.access, [
            n for n in ("birthday", "mobile", "email", "wechat", "id_number")
            if values.get(n)] + (["address"] if parts is not None else []))
        self._check_kind_fields(errors, kind, columns)
        custom = dict(values.get("custom") or {})
        errors.update(planning.required_custom_errors(self.rules, kind, custom, errors))
        parsed = item.id_number if values.get("id_number") else None
        if parsed is not None:
            if kind != Customer.KIND_PERSON:
                errors.setdefault("id_number", []).append(_("Only persons have this field."))
            else:
                planning.id_number_agreement(errors, columns, birthday=None, gender="",
                                             birthday_of_id=parsed[3], gender_of_id=parsed[4])
        columns["custom"] = custom
        self._rule_errors(errors, kind, None, item, columns, values, None)
        del columns["custom"]
        if errors:
            raise ValidationFailed(details=errors)
        tags = self._new_tags(None, values)
        if columns.get("uscc"):
            self._uscc_taken(columns["uscc"], None)
        idents: list[tuple[str, _Ident]] = []
        if parsed is not None:
            idents.append(("id_number", _Ident(Identifier.ID_NUMBER, "", parsed[0], True, 0)))
        for name in ("mobile", "email", "wechat"):
            if values.get(name):
                kind_of = item.phone[0] if name == "mobile" else _CONTACTS[name][0]
                last4 = item.phone[1] if name == "mobile" else ""
                idents.append((name, _Ident(kind_of, "", values[name], True, 0, last4)))
        if external:
            idents.append(("external_id", _Ident(Identifier.EXTERNAL, self.system, external,
                                                 True, 0)))
        for name, ident in idents:
            self._duplicate((ident.kind, ident.system, ident.value), None, name)
        # Valid: from here on nothing can fail.
        customer = _Bag.__new__(_Bag)
        customer.__dict__ = dict(_DEFAULTS)
        customer.__dict__.update(
            id=self._new_id(), kind=kind, owner=owner, owner_id=owner.pk if owner else None,
            team=team, team_id=team.pk if team else None, name=values["name"], custom=custom,
            created_by_id=actor.user.pk if actor.user is not None else None,
            product_interests=[], created_at=self.now, updated_at=self.now,
            name_pinyin=item.name_keys[0], name_initials=item.name_keys[1], **columns)
        if parsed is not None:
            (customer.id_number_index, customer.id_number_encrypted,
             customer.id_number_masked) = parsed[0], parsed[1], parsed[2]
        card = _Card(customer=customer, new=True)
        self.cards[customer.pk] = card
        for name, ident in idents:
            ident.order = self._next_order()
            self._add_ident(card, ident, source=self.system if name == "external_id"
                            else actor.via)
        if parts is not None:
            card.address = _Bag(id=None, customer_id=customer.pk, label="home", postal_code="",
                                is_primary=True, **parts)
            card.address_dirty = True
        added_tags = self._tag(card, tags)
        self._refresh(card)
        # Only the values it was created with: an empty field is as absent as before.
        # (what diff({}, snapshot(customer)) gives, built directly in its JSON form)
        changes = {name: {"before": None, "after": value if type(value) in PLAIN_TYPES
                          else canonical(value)}
                   for name, value in snapshot(customer).items() if value not in _EMPTY}
        if added_tags:
            changes["tag"] = {"before": None, "after": ", ".join(added_tags)}
        changes["version"] = {"before": None, "after": customer.version}
        self.audit.append((card, "customer.create", changes))
        return UpsertResult("created", customer_id=customer.pk)

    def _new_id(self) -> int:
        if not self.ids:
            self.ids = allocate_ids(Customer, max(self.remaining, 1))
        self.remaining -= 1
        return self.ids.pop(0)

    def _next_order(self) -> int:
        self._order += 1
        return self._order

    def _add_ident(self, card: _Card, ident: _Ident, *, source: str) -> None:
        ident.pk, ident.source = None, source[:60]
        card.idents.append(ident)
        card.new_idents.append(ident)
        self.owner_of[(ident.kind, ident.system, ident.value)] = card.customer.pk

    # Updating -----------------------------------------------------------------------------

    def _update(self, item: UpsertRow, card: _Card, values: dict[str, Any], owner: User | None,
                external: str | None) -> UpsertResult:
        actor = self.actor
        customer = card.customer
        live = card.live()
        kinds_live = {k for k, _s, _v in live}
        changes: dict[str, Any] = {}
        if values.get("name") and values["name"] != customer.name:
            changes["name"] = values["name"]
        if "kind" in values and values["kind"] != customer.kind:
            changes["kind"] = values["kind"]
        for name in _SIMPLE:
            if name in values and values[name] not in (None, "") and \
                    getattr(customer, name) != values[name]:
                changes[name] = values[name]
        if owner is not None and owner.pk != customer.owner_id:
            changes["owner"] = owner
        for name, kinds in _CONTACTS.items():
            if values.get(name) and not any(kind in kinds for kind in kinds_live):
                changes[name] = values[name]
        parsed = item.id_number if values.get("id_number") else None
        if parsed is not None and parsed[0] != customer.id_number_index:
            changes["id_number"] = parsed
        new_address = None
        parts = self._address_of(item, values)
        current = card.address
        if parts is not None and values.get("address"):
            if current is None or current.raw != str(values["address"])[:300]:
                changes["address"] = new_address = parts
        elif parts is not None:  # a province and city only: the rest of the address stays
            if current is None:
                changes["address"] = new_address = parts
            elif (parts["province"], parts["city"]) != (current.province, current.city):
                changes["address"] = new_address = {
                    "province": parts["province"] or current.province,
                    "city": parts["city"] or current.city,
                    "district": current.district if parts["city"] in ("", current.city)
                    else "", "detail": current.detail, "raw": current.raw,
                    "region": parts["region"] or current.region}
        custom = {k: v for k, v in (values.get("custom") or {}).items()
                  if (customer.custom or {}).get(k) != v}
        if custom:
            changes["custom"] = custom
        adds: list[tuple[str, _Ident]] = []
        for name, kinds in _CONTACTS.items():
            value = values.get(name)
            if value and name not in changes and not any((k, "", value) in live for k in kinds):
                kind_of = item.phone[0] if name == "mobile" else kinds[0]
                last4 = item.phone[1] if name == "mobile" else ""
                adds.append((name, _Ident(kind_of, "", value, False, 0, last4)))
        if external and (Identifier.EXTERNAL, self.system, external) not in live:
            adds.append(("external_id", _Ident(Identifier.EXTERNAL, self.system, external,
                                               False, 0)))
        tags = self._new_tags(card, values) if values.get("tags") else []
        if not changes and not adds and not tags:
            return UpsertResult("unchanged", customer_id=customer.pk)
        columns: dict[str, Any] = {}
        if changes:
            actor.require("customer.change")
            if "owner" in changes:
                actor.require("customer.assign")
                check_owner_team(actor, owner, customer.team)
            errors = planning.sensitive_errors(self.access, changes)
            kind = customer.kind
            if "kind" in changes:
                errors.setdefault("kind", []).append(
                    _("A customer cannot change between person and organisation."))
            columns = {k: v for k, v in changes.items() if k in _SIMPLE or k == "name"}
            self._check_kind_fields(errors, kind, columns)
            if parsed is not None and "id_number" in changes:
                if kind != Customer.KIND_PERSON:
                    errors.setdefault("id_number", []).append(_("Only persons have this field."))
                else:
                    planning.id_number_agreement(
                        errors, columns, birthday=customer.birthday, gender=customer.gender,
                        birthday_of_id=parsed[3], gender_of_id=parsed[4])
            if custom:
                merged = {**(customer.custom or {}), **custom}
                errors.update(planning.required_custom_errors(self.rules, kind, merged, errors))
                columns["custom"] = merged
            self._rule_errors(errors, kind, card, item, columns, values,
                              planning.written_fields(changes, custom))
            if errors:
                raise ValidationFailed(details=errors)
            if columns.get("uscc"):
                self._uscc_taken(columns["uscc"], card)
            if "id_number" in changes:
                self._duplicate((Identifier.ID_NUMBER, "", parsed[0]), card, "id_number")
            for name in _CONTACTS:
                if name in changes:
                    kind_of = item.phone[0] if name == "mobile" else _CONTACTS[name][0]
                    self._duplicate((kind_of, "", changes[name]), card, name)
        for name, ident in adds:
            actor.require("customer.change")
            sensitive = SENSITIVE_FIELD_OF_KIND.get(ident.kind)
            if sensitive and self.access is not None and not self.access.can_edit_field(
                    sensitive):
                raise PermissionDenied(details={"field": sensitive})
            self._duplicate((ident.kind, ident.system, ident.value), card, name)
        # Valid: apply to the in-memory card.
        before = snapshot(customer)
        address_before = card.address.raw if card.address is not None else None
        for name, value in columns.items():
            if getattr(customer, name) != value:
                setattr(customer, name, value)
                card.dirty.add(name)
        if "name" in columns:
            customer.name_pinyin, customer.name_initials = item.name_keys
            card.dirty.update(("name_pinyin", "name_initials"))
        if "owner" in changes:
            customer.owner, customer.owner_id = owner, owner.pk
            card.dirty.add("owner_id")
        if "id_number" in changes:
            (customer.id_number_index, customer.id_number_encrypted,
             customer.id_number_masked) = parsed[0], parsed[1], parsed[2]
            card.dirty.update(("id_number_index", "id_number_encrypted", "id_number_masked"))
            for old in [i for i in card.idents if i.kind == Identifier.ID_NUMBER]:
                card.idents.remove(old)
                self.owner_of.pop((old.kind, old.system, old.value), None)
                if old.pk is not None:
                    card.dropped_idents.append(old.pk)
                elif old in card.new_idents:
                    card.new_idents.remove(old)
            self._add_ident(card, _Ident(Identifier.ID_NUMBER, "", parsed[0], True,
                                         self._next_order()), source=actor.via)
        for name in _CONTACTS:
            if name in changes:
                kind_of = item.phone[0] if name == "mobile" else _CONTACTS[name][0]
                last4 = item.phone[1] if name == "mobile" else ""
                self._add_ident(card, _Ident(kind_of, "", changes[name], True,
                                             self._next_order(), last4), source=actor.via)
        added: dict[str, Any] = {}
        added_tags = self._tag(card, tags)
        for _name, ident in adds:
            ident.is_primary = not any(i.kind == ident.kind for i in card.idents)
            ident.order = self._next_order()
            self._add_ident(card, ident, source=self.system)
            # One audit key per identifier kind: each value is masked by its own field.
            added[catalogue.identifier_audit_key(ident.kind, ident.system)] = {
                "before": None, "after": f"{ident.kind}:{ident.system}:{ident.value}"
                if ident.system else ident.value}
        if new_address is not None:
            if card.address is None:
                card.address = _Bag(id=None, customer_id=customer.pk, label="home",
                                    postal_code="", is_primary=True, **new_address)
            else:
                for key, value in new_address.items():
                    setattr(card.address, key, value)
            card.address_dirty = True
        self._refresh(card)
        version_before = customer.version
        customer.version += 1
        customer.updated_at = self.now
        card.dirty.update(("version", "updated_at"))
        entry = diff(before, snapshot(customer))
        if new_address is not None and card.address.raw != address_before:
            entry["address"] = {"before": address_before, "after": card.address.raw}
        entry.update(added)
        if added_tags:
            entry["tag"] = {"before": None, "after": ", ".join(added_tags)}
        entry["version"] = {"before": version_before, "after": customer.version}
        self.audit.append((card, "customer.update", entry))
        return UpsertResult("updated", customer_id=customer.pk)

    def _refresh(self, card: _Card) -> None:
        """The denormalised columns (primary phone and email, province/city/region)."""
        customer = card.customer
        ordered = sorted(card.idents, key=lambda i: (not i.is_primary, i.order))
        mobile = next((i.value for i in ordered if i.kind == Identifier.MOBILE), "") or next(
            (i.value for i in ordered if i.kind == Identifier.LANDLINE), "")
        email = next((i.value for i in ordered if i.kind == Identifier.EMAIL), "")
        values = {"primary_mobile": mobile, "primary_email": email}
        if card.address is not None and card.address_dirty:
            values.update(province=card.address.province, city=card.address.city,
                          region=card.address.region)
        for name, value in values.items():
            if getattr(customer, name) != value:
                setattr(customer, name, value)
                card.dirty.add(name)

    # Writing ------------------------------------------------------------------------------

    def flush(self) -> None:
        new = [c for c in self.cards.values() if c.new]
        changed = [c for c in self.cards.values() if not c.new and c.dirty]
        if new:
            insert_rows(Customer, _CUSTOMER_ATTNAMES,
                        ([getattr(c.customer, name) for name in _CUSTOMER_ATTNAMES]
                         for c in new))
        groups: dict[tuple[str, ...], list[_Card]] = {}
        for card in changed:
            groups.setdefault(tuple(sorted(card.dirty)), []).append(card)
        for names, cards in groups.items():
            update_rows(Customer, names, ([c.customer.pk, *(getattr(c.customer, n)
                                                           for n in names)] for c in cards))
        dropped = [pk for c in self.cards.values() for pk in c.dropped_idents]
        if dropped:
            Identifier.objects.filter(pk__in=dropped).delete()
        insert_rows(Identifier, ["customer_id", "kind", "system", "value", "last4", "source",
                                 "verified", "is_primary", "is_live", "first_seen",
                                 "last_seen"],
                    ([c.customer.pk, i.kind, i.system, i.value, i.last4,
                      i.source, False, i.is_primary, True, self.now, self.now]
                     for c in self.cards.values() for i in c.new_idents))
        address_fields = ["customer_id", "label", "province", "city", "district", "detail",
                          "postal_code", "region", "raw", "is_primary"]
        insert_rows(Address, address_fields,
                    ([getattr(c.address, f) for f in address_fields]
                     for c in self.cards.values()
                     if c.address is not None and c.address_dirty and c.address.pk is None))
        update_rows(Address, address_fields[2:],
                    ([c.address.pk, *(getattr(c.address, f) for f in address_fields[2:])]
                     for c in self.cards.values()
                     if c.address is not None and c.address_dirty and c.address.pk is not None))
        self._flush_tags()
        record_changes_many(actor=self.actor, entries=[
            Change(action=action, object_type="customer", object_id=card.customer.pk,
                   object_repr=card.customer.name, changes=changes,
                   canonical=action == "customer.create",
                   event=("customer.created" if action == "customer.create"
                          else "customer.field_changed"))
            for card, action, changes in self.audit])

    def _flush_tags(self) -> None:
        wanted = [card for card in self.cards.values() if card.new_tags]
        if not wanted:
            return
        missing = [name for pk, name in self.tags.values() if pk is None]
        if missing:
            Tag.objects.bulk_create([Tag(name=name) for name in missing])
            for pk, name in Tag.objects.filter(name__in=missing).values_list("pk", "name"):
                self.tags[name.casefold()] = (pk, name)
        added_by = self.actor.user.pk if self.actor.user is not None else None
        insert_rows(CustomerTag, ["customer_id", "tag_id", "added_by_id", "added_at"],
                    ([card.customer.pk, self.tags[folded][0], added_by, self.now]
                     for card in wanted for folded in card.new_tags))
