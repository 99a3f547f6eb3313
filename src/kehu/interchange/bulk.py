"""The customers import, set-based: one chunk of rows = a few queries and one transaction.

Per chunk the rows are cleaned (kehu.core.normalize through rows.RowCleaner, plus what the
writer needs: phone kind, ID-number ciphertext and blind index, address parts, pinyin), all
their identifiers are looked up at once, the rows are then applied IN ORDER to an in-memory
picture of the customers they touch (so rows of one file that share an identifier reach the
same customer and every row keeps its own outcome and audit entry), and finally everything
is written set-based: new customers, identifiers and addresses inserted, changed customers
updated with their version advanced, one audit entry per changed row appended to the chain
under one lock of its head, in the same transaction as the job's counters and row errors.

The rules are the card's: the same normalisers, field permissions, owner/team scope, record
scope, ID-number agreement, required custom fields and one-live-customer-per-identifier
check that customer_create/customer_update/identifier_add apply, with the same messages.
Cleaning the next chunk can run in a forked worker process while this one writes.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, connections
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
from kehu.core.normalize import name_search_keys, normalize_id_number, normalize_phone
from kehu.customers.models import Address, Customer, Identifier
from kehu.customers.services._common import (
    ORGANISATION_ONLY,
    PERSON_ONLY,
    check_owner_team,
    require_visible,
    snapshot,
)
from kehu.customers.services.identity import (
    PHONE_KINDS,
    SENSITIVE_FIELD_OF_KIND,
    address_parts,
    duplicate_message,
    id_number_index,
)
from kehu.interchange.jobs import Chunk, Written
from kehu.interchange.mapping import CUSTOMER_FIELDS
from kehu.interchange.readers import open_table
from kehu.interchange.rows import RowCleaner, RowError, masked
from kehu.interchange.selectors import active_custom_fields, mapping_from_json

PRECEDENCE = ("mobile", "email", "id_number", "external_id")
EXTERNAL_SYSTEM = "import"
CHUNK_ROWS = int(os.environ.get("KEHU_IMPORT_CHUNK_ROWS") or 5000)
# Clean the next chunk in a forked process while this one writes (0: all in this process).
WORKERS = int(os.environ.get("KEHU_IMPORT_WORKERS") or 1)
SQLITE_CACHE_KIB = 256 * 1024  # SQLite page cache of the importing connection, in KiB

# Plain columns an import may set (customers.services SIMPLE_FIELDS it maps).
_SIMPLE = ("gender", "birthday", "title", "uscc", "industry", "source", "lifecycle_stage",
           "notes")
_CONTACTS = {"mobile": PHONE_KINDS, "email": (Identifier.EMAIL,),
             "wechat": (Identifier.WECHAT,)}
_SENSITIVE = {"mobile": "customer.mobile", "email": "customer.email",
              "wechat": "customer.wechat", "id_number": "customer.id_number",
              "birthday": "customer.birthday", "address": "customer.address"}
_LOOKUP_BATCH = 900
_EMPTY = (None, "", [], {})
_CUSTOMER_ATTNAMES = [f.attname for f in Customer._meta.concrete_fields]
_ADDRESS_ATTNAMES = [f.attname for f in Address._meta.concrete_fields]
# A new customer's column defaults (JSON ones are replaced by fresh values per customer).
_DEFAULTS = {f.attname: f.get_default() for f in Customer._meta.concrete_fields}
_NEW_ORDER = 1 << 62  # identifiers written in this chunk sort after every stored one


@dataclass
class Prepared:
    """One cleaned row and what the writer derives from it (picklable: no ORM objects)."""

    number: int
    cells: list[str]
    values: dict[str, Any]
    errors: list[RowError]
    rejected: bool
    phone: tuple[str, str] | None = None  # (kind, last4) of values["mobile"]
    # (blind index, ciphertext, masked, birthday, gender) of values["id_number"]
    id_number: tuple[str, str, str, date, str] | None = None
    address: dict[str, str] | None = None
    name_keys: tuple[str, str] = ("", "")

    def __repr__(self) -> str:  # values may hold a clear ID number
        return f"Prepared(number={self.number}, rejected={self.rejected})"


def prepare(cleaner: RowCleaner, chunk: list[tuple[int, list[str]]]) -> list[Prepared]:
    """Clean a chunk and derive the writer's values; no database access."""
    out: list[Prepared] = []
    for number, cells in chunk:
        clean = cleaner.clean(number, cells)
        item = Prepared(number=number, cells=cells, values=clean.values, errors=clean.errors,
                        rejected=clean.rejected)
        if not clean.rejected:
            values = clean.values
            item.name_keys = name_search_keys(values["name"])
            if values.get("mobile"):
                phone = normalize_phone(values["mobile"])
                item.phone = (phone.kind, phone.last4)
            if values.get("id_number"):
                parsed = normalize_id_number(values["id_number"])
                item.id_number = (id_number_index(parsed.value), encrypt(parsed.value),
                                  mask_id_number(parsed.value), parsed.birthday, parsed.gender)
            if values.get("address"):
                item.address = address_parts(raw=str(values["address"]))
        out.append(item)
    return out


# A forked worker cleans chunks with its parent's cleaner (handed over at fork).
_WORKER_CLEANER: RowCleaner | None = None
_INHERITED: list[Any] = []


def _worker_init(cleaner: RowCleaner) -> None:
    global _WORKER_CLEANER
    _WORKER_CLEANER = cleaner  # inherited at fork, not pickled
    # Never use (nor close: that would end the parent's session) the inherited connections.
    for conn in connections.all(initialized_only=True):
        _INHERITED.append(conn.connection)
        conn.connection = None
    # Die with the parent (kill -9 included) and do not hold its stdout/stderr open.
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)


def _worker_prepare(chunk: list[tuple[int, list[str]]]) -> list[Prepared]:
    assert _WORKER_CLEANER is not None
    return prepare(_WORKER_CLEANER, chunk)


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

    def live(self) -> set[tuple[str, str, str]]:
        return {(i.kind, i.system, i.value) for i in self.idents}


class CustomersImport:
    """The per-job state of a customers import: table, cleaner, actor's rights, caches."""

    def __init__(self, job, actor: Actor):
        self.job, self.actor = job, actor
        self.table = open_table(Path(settings.MEDIA_ROOT) / job.file,
                                filename=job.original_filename, sheet=job.sheet or None)
        mapping = mapping_from_json(job.mapping)
        self.cleaner = RowCleaner(self.table.headers, mapping,
                                  custom_fields=active_custom_fields(),
                                  skip_invalid_fields=bool(job.options.get("skip_invalid_fields")))
        self.skip_invalid = self.cleaner.skip_invalid_fields
        self.precedence = list(job.options.get("precedence") or PRECEDENCE)
        self.columns: dict[str, tuple[int, str]] = {
            f: (index, self.table.headers[index]) for index, f in mapping.items()
            if f and index < len(self.table.headers)}
        self.users: dict[str, User | None] = {}
        self.required_custom = {
            kind: [(d.key, d.label) for d in self.cleaner.definitions
                   if d.required and d.applies_to in ("both", kind)]
            for kind, _label in Customer.KINDS}
        self._pool: ProcessPoolExecutor | None = None
        self._people: dict[tuple[str, Any], Any] = {}
        self._cache_pages: int | None = None
        if connection.vendor == "sqlite":
            # A chunk touches a dozen indexes at random places: give this connection a
            # page cache that holds them (put back in close()).
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA cache_size")
                self._cache_pages = cursor.fetchone()[0]
                cursor.execute(f"PRAGMA cache_size = {-SQLITE_CACHE_KIB:d}")

    def close(self) -> None:
        self.table.close()
        if self._cache_pages is not None:
            with connection.cursor() as cursor:
                cursor.execute(f"PRAGMA cache_size = {int(self._cache_pages):d}")
            self._cache_pages = None
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def chunks(self, start: int) -> Iterator[list[tuple[int, list[str]]]]:
        chunk: list[tuple[int, list[str]]] = []
        for number, cells in self.table.rows():
            if number < start:
                continue
            chunk.append((number, cells))
            if len(chunk) >= CHUNK_ROWS:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def prepared_chunks(self, start: int) -> Iterator[list[Prepared]]:
        """The cleaned chunks in order; with a worker, the next one is cleaned meanwhile."""
        chunks = self.chunks(start)
        if WORKERS <= 0 or (self.job.total_rows or 0) <= CHUNK_ROWS:
            for chunk in chunks:
                yield prepare(self.cleaner, chunk)
            return
        self._pool = ProcessPoolExecutor(max_workers=WORKERS, mp_context=get_context("fork"),
                                         initializer=_worker_init, initargs=(self.cleaner,))
        pending: list[Future] = []
        for chunk in chunks:
            pending.append(self._pool.submit(_worker_prepare, chunk))
            if len(pending) > WORKERS:
                yield pending.pop(0).result()
        for future in pending:
            yield future.result()

    # Writing one chunk ----------------------------------------------------------------------

    def job_chunks(self, start: int) -> Iterator[Chunk]:
        """The cleaned chunks from row `start`, as jobs.run_chunks takes them."""
        for prepared in self.prepared_chunks(start):
            yield Chunk(first=prepared[0].number, last=prepared[-1].number,
                        size=len(prepared), rows=prepared)

    def write(self, prepared: list[Prepared]) -> Written:
        """Apply the chunk's rows in order and write them; must run inside the chunk's
        transaction. Returns each row's outcome counted and the report lines."""
        writer = _ChunkWriter(self, prepared)
        written = Written()
        for item in prepared:
            result, row_errors = writer.row(item)
            written.counts[result] += 1
            written.errors.extend(row_errors)
        writer.flush()
        return written

    # Helpers shared with the chunk writer ---------------------------------------------------

    def error(self, name: str, number: int, cells: list[str], reason: str) -> RowError:
        index, header = self.columns.get(name, (-1, ""))
        if index < 0 and name not in ("", "__all__"):
            header = str(CUSTOMER_FIELDS[name][0]) if name in CUSTOMER_FIELDS else name
        value = masked(cells[index]) if 0 <= index < len(cells) else ""
        return RowError(row=number, column=header, value=value, reason=reason)

    def people(self, user_ids: set[int], team_ids: set[int]) -> dict[tuple[str, Any], Any]:
        """Owners and teams by id (("user", id) / ("team", id)), cached for the job."""
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


def _keys_of(name: str, value: str) -> list[tuple[str, str, str]]:
    """The identifier keys a row value may be stored under, for matching."""
    if name == "mobile":
        return [(kind, "", value) for kind in PHONE_KINDS]
    if name == "email":
        return [(Identifier.EMAIL, "", value)]
    if name == "id_number":
        return [(Identifier.ID_NUMBER, "", value)]
    if name == "wechat":
        return [(Identifier.WECHAT, "", value)]
    return [(Identifier.EXTERNAL, EXTERNAL_SYSTEM, value)]


class _ChunkWriter:
    """The in-memory picture of the customers one chunk touches, then its set-based write."""

    def __init__(self, importer: CustomersImport, prepared: list[Prepared]):
        self.imp, self.actor = importer, importer.actor
        self.access = self.actor.access
        self.cards: dict[int, _Card] = {}
        self.owner_of: dict[tuple[str, str, str], int] = {}  # live identifier -> customer id
        self.ids: list[int] = []  # allocated ids for new customers, taken in order
        self.remaining = sum(1 for p in prepared if not p.rejected)
        self.audit: list[tuple[_Card, str, dict[str, Any]]] = []
        self.now = timezone.now()
        self._order = _NEW_ORDER
        self._load(prepared)

    # Loading ------------------------------------------------------------------------------

    def _load(self, prepared: list[Prepared]) -> None:
        # Looked up by (kind, value): the index leads with the kind.
        wanted: dict[tuple[str, ...], set[str]] = {}
        for item in prepared:
            if item.rejected:
                continue
            v = item.values
            for name in ("mobile", "email", "wechat", "external_id"):
                if v.get(name):
                    kinds = tuple(sorted({k for k, _s, _v in _keys_of(name, "")}))
                    wanted.setdefault(kinds, set()).add(str(v[name]))
            if item.id_number and v.get("id_number"):
                wanted.setdefault((Identifier.ID_NUMBER,), set()).add(item.id_number[0])
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
            rows = list(Customer.objects.filter(pk__in=part).values(*_CUSTOMER_ATTNAMES))
            people = self.imp.people({r["owner_id"] for r in rows} - {None},
                                     {r["team_id"] for r in rows} - {None})
            for row in rows:
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

    # One row ------------------------------------------------------------------------------

    def row(self, item: Prepared) -> tuple[str, list[RowError]]:
        if item.rejected:
            return "rejected", item.errors
        values, errors = dict(item.values), list(item.errors)
        for _attempt in range(4):
            try:
                return self._upsert(item, values), errors
            except ValidationFailed as exc:
                failed = self._errors_of(exc, item)
                fields = {name for name, _error in failed}
                if (self.imp.skip_invalid and "name" not in fields and "__all__" not in fields
                        and fields & set(values)):
                    errors.extend(e for _f, e in failed)
                    for name in fields:
                        values.pop(name, None)
                    continue
                return "rejected", [*errors, *(e for _f, e in failed)]
            except NotFound:
                name = next((f for f in self.imp.precedence if values.get(f)), "")
                return "rejected", [*errors, self.imp.error(
                    name, item.number, item.cells, _("Already recorded for another customer."))]
            except DomainError as exc:
                return "rejected", [*errors, self.imp.error("", item.number, item.cells,
                                                            str(exc.message))]
        return "rejected", errors

    def _errors_of(self, exc: ValidationFailed, item: Prepared) -> list[tuple[str, RowError]]:
        details = exc.details if isinstance(exc.details, dict) else {}
        found = [(name, self.imp.error(name, item.number, item.cells, str(message)))
                 for name, messages in details.items()
                 for message in (messages if isinstance(messages, list | tuple) else [messages])]
        return found or [("__all__", self.imp.error("", item.number, item.cells,
                                                    str(exc.message)))]

    def _match(self, values: dict[str, Any], item: Prepared) -> _Card | None:
        for name in self.imp.precedence:
            value = values.get(name)
            if not value:
                continue
            if name == "id_number":
                if item.id_number is None:
                    continue
                value = item.id_number[0]
            for key in _keys_of(name, str(value)):
                card = self.cards.get(self.owner_of.get(key, 0))
                if card is not None:
                    return card
        return None

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

    def _field_allowed(self, errors: dict[str, list[str]], names: Iterable[str]) -> None:
        if self.access is None:
            return
        for name in names:
            sensitive = _SENSITIVE.get(name)
            if sensitive and not self.access.can_edit_field(sensitive):
                errors.setdefault(name, []).append(_("Your role may not change this field."))

    def _check_kind_fields(self, errors: dict[str, list[str]], kind: str,
                           columns: dict[str, Any]) -> None:
        for name, value in columns.items():
            if value in (None, ""):
                continue
            if name in PERSON_ONLY and kind != Customer.KIND_PERSON:
                errors.setdefault(name, []).append(_("Only persons have this field."))
            elif name in ORGANISATION_ONLY and kind != Customer.KIND_ORGANISATION:
                errors.setdefault(name, []).append(_("Only organisations have this field."))

    def _custom_required(self, errors: dict[str, list[str]], kind: str,
                         custom: dict[str, Any]) -> None:
        for key, label in self.imp.required_custom[kind]:
            if custom.get(key) in (None, "", []) and f"custom.{key}" not in errors:
                errors[f"custom.{key}"] = [_("%s is required.") % label]

    @staticmethod
    def _id_agrees(errors: dict[str, list[str]], columns: dict[str, Any], customer: _Bag | None,
                   parsed: tuple[str, str, str, date, str]) -> None:
        """The birth date and gender in an ID number fill empty fields, must match filled."""
        _index, _enc, _masked, birthday_of_id, gender_of_id = parsed
        birthday = columns.get("birthday", customer.birthday if customer else None)
        if birthday and birthday != birthday_of_id:
            errors.setdefault("id_number", []).append(
                _("The birth date in the ID number does not match the birthday."))
        elif not birthday:
            columns["birthday"] = birthday_of_id
        gender = columns.get("gender", customer.gender if customer else "")
        if gender in ("", "unknown"):
            columns["gender"] = gender_of_id
        elif gender != gender_of_id:
            errors.setdefault("id_number", []).append(
                _("The gender in the ID number does not match the gender."))

    def _upsert(self, item: Prepared, values: dict[str, Any]) -> str:
        values = dict(values)
        values.pop("company", None)  # not stored on the customer (contact links: later)
        owner_name = values.pop("owner", None)
        owner = self.imp.owner(owner_name) if owner_name else None
        external = values.pop("external_id", None)
        card = self._match({**values, "external_id": external}, item)
        if card is None:
            return self._create(item, values, owner, external)
        return self._update(item, card, values, owner, external)

    # Creating -----------------------------------------------------------------------------

    def _create(self, item: Prepared, values: dict[str, Any], owner: User | None,
                external: str | None) -> str:
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
        errors: dict[str, list[str]] = {}
        self._field_allowed(errors, [n for n in ("birthday", "mobile", "email", "wechat",
                                                 "id_number", "address") if values.get(n)])
        self._check_kind_fields(errors, kind, columns)
        custom = dict(values.get("custom") or {})
        self._custom_required(errors, kind, custom)
        parsed = item.id_number if values.get("id_number") else None
        if parsed is not None:
            if kind != Customer.KIND_PERSON:
                errors.setdefault("id_number", []).append(_("Only persons have this field."))
            else:
                self._id_agrees(errors, columns, None, parsed)
        if errors:
            raise ValidationFailed(details=errors)
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
            idents.append(("external_id", _Ident(Identifier.EXTERNAL, EXTERNAL_SYSTEM, external,
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
            self._add_ident(card, ident, source=EXTERNAL_SYSTEM if name == "external_id"
                            else actor.via)
        if item.address is not None and values.get("address"):
            card.address = _Bag(id=None, customer_id=customer.pk, label="home", postal_code="",
                                is_primary=True, **item.address)
            card.address_dirty = True
        self._refresh(card)
        # Only the values it was created with: an empty field is as absent as before.
        # (what diff({}, snapshot(customer)) gives, built directly in its JSON form)
        changes = {name: {"before": None, "after": value if type(value) in PLAIN_TYPES
                          else canonical(value)}
                   for name, value in snapshot(customer).items() if value not in _EMPTY}
        changes["version"] = {"before": None, "after": customer.version}
        self.audit.append((card, "customer.create", changes))
        return "created"

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

    def _update(self, item: Prepared, card: _Card, values: dict[str, Any], owner: User | None,
                external: str | None) -> str:
        actor = self.actor
        customer = card.customer
        require_visible(actor, customer)
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
        if values.get("address") and item.address is not None:
            current = card.address
            if current is None or current.raw != str(values["address"])[:300]:
                changes["address"] = new_address = item.address
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
        if external and (Identifier.EXTERNAL, EXTERNAL_SYSTEM, external) not in live:
            adds.append(("external_id", _Ident(Identifier.EXTERNAL, EXTERNAL_SYSTEM, external,
                                               False, 0)))
        if not changes and not adds:
            return "unchanged"
        columns: dict[str, Any] = {}
        if changes:
            actor.require("customer.change")
            if "owner" in changes:
                actor.require("customer.assign")
                check_owner_team(actor, owner, customer.team)
            errors: dict[str, list[str]] = {}
            self._field_allowed(errors, [n for n in changes if n in _SENSITIVE])
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
                    self._id_agrees(errors, columns, customer, parsed)
            if custom:
                merged = {**(customer.custom or {}), **custom}
                self._custom_required(errors, kind, merged)
                columns["custom"] = merged
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
        described = []
        for _name, ident in adds:
            ident.is_primary = not any(i.kind == ident.kind for i in card.idents)
            ident.order = self._next_order()
            self._add_ident(card, ident, source=EXTERNAL_SYSTEM)
            described.append(f"{ident.kind}:{ident.system}:{ident.value}" if ident.system
                             else f"{ident.kind}:{ident.value}")
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
        if new_address is not None:
            entry["address"] = {"before": address_before, "after": card.address.raw}
        if described:
            entry["identifier"] = {"before": None, "after": ", ".join(described)}
        entry["version"] = {"before": version_before, "after": customer.version}
        self.audit.append((card, "customer.update", entry))
        return "updated"

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
        record_changes_many(actor=self.actor, entries=[
            Change(action=action, object_type="customer", object_id=card.customer.pk,
                   object_repr=card.customer.name, changes=changes,
                   canonical=action == "customer.create",
                   event=("customer.created" if action == "customer.create"
                          else "customer.field_changed"))
            for card, action, changes in self.audit])

