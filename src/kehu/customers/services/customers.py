"""Creating, editing, deleting customers and revealing their ID number.

Each service checks the permission and the record scope, normalises every value
through kehu.core.normalize, keeps the denormalised columns right, bumps the
optimistic-locking version and writes one audit entry in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.accounts.models import Team, User
from kehu.core.actor import Actor
from kehu.core.audit import audit_record, diff
from kehu.core.crypto import decrypt
from kehu.core.errors import Conflict, PermissionDenied, ValidationFailed
from kehu.core.events import record_change
from kehu.core.models import AuditEntry
from kehu.core.normalize import (
    IdNumber,
    NormalizationError,
    name_search_keys,
    normalize_gender,
    normalize_id_number,
    normalize_name,
    normalize_uscc,
    parse_date,
)
from kehu.core.schemas import EARLIEST
from kehu.customers import fields as catalogue
from kehu.customers import planning
from kehu.customers.models import Customer, Identifier
from kehu.customers.services import identity
from kehu.customers.services._common import (
    SIMPLE_FIELDS,
    bump,
    check_owner_team,
    full_clean,
    lock,
    require_visible,
    snapshot,
)
from kehu.customers.services.custom_fields import custom_values_clean

CONTACT_KINDS = {"mobile": "phone", "email": Identifier.EMAIL, "wechat": Identifier.WECHAT}
SENSITIVE_INPUTS = catalogue.sensitive_inputs()
ACCEPTED = set(SIMPLE_FIELDS) | {"kind", "owner", "team", "custom", "id_number",
                                 *CONTACT_KINDS, "address"}


@dataclass
class _Plan:
    """What a create or update will write, worked out (and validated) before any write."""

    columns: dict[str, Any] = field(default_factory=dict)
    contacts: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    id_number: IdNumber | None = None
    clear_id_number: bool = False
    address: dict[str, str] | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)

    def error(self, name: str, message) -> None:
        self.errors.setdefault(name, []).append(str(message))


def _clean_simple(plan: _Plan, kind: str, name: str, value: Any) -> None:
    message = planning.kind_field_error(kind, name, value)
    if message:
        plan.error(name, message)
        return
    try:
        if name == "name":
            value = normalize_name(value)
            if not value:
                plan.error("name", _("Enter a name."))
                return
            plan.columns["name_pinyin"], plan.columns["name_initials"] = name_search_keys(value)
        elif name == "gender":
            value = "" if value in (None, "") else normalize_gender(value)
        elif name == "birthday":
            value = None if value in (None, "") else parse_date(value)
            if value is not None and value > timezone.localdate():
                plan.error("birthday", _("The birthday cannot be in the future."))
                return
            if value is not None and value < EARLIEST:
                plan.error("birthday", _("Give a birthday from 1900-01-01 on."))
                return
        elif name == "company":  # written as names are (the import cleans it alike)
            value = normalize_name(value) if value else ""
        elif name == "uscc":
            value = normalize_uscc(value) if value else ""
        elif name == "product_interests":
            value = [str(v).strip() for v in (value or []) if str(v).strip()]
        else:
            value = "" if value is None else str(value).strip()
    except NormalizationError as exc:
        plan.error(name, exc)
        return
    plan.columns[name] = value


def _plan(actor: Actor, customer: Customer, changes: Mapping[str, Any]) -> _Plan:
    """Normalise and validate every change; collect all field errors before raising."""
    unknown = sorted(set(changes) - ACCEPTED)
    if unknown:
        raise ValidationFailed(details={k: [_("Unknown field.")] for k in unknown})
    plan = _Plan()
    kind = changes.get("kind", customer.kind)
    if customer.pk is None:
        if kind not in dict(Customer.KINDS):
            plan.error("kind", _("Choose person or organisation."))
        plan.columns["kind"] = kind
    elif "kind" in changes and kind != customer.kind:
        plan.error("kind", _("A customer cannot change between person and organisation."))
    access = actor.access
    for name, value in changes.items():
        sensitive = SENSITIVE_INPUTS.get(name)
        # Clearing a value is a change too, except on a customer that does not exist yet.
        if (sensitive and access is not None and (value not in (None, "") or customer.pk)
                and not access.can_edit_field(sensitive)):
            plan.error(name, _("Your role may not change this field."))
            continue
        if name in SIMPLE_FIELDS:
            _clean_simple(plan, kind, name, value)
        elif name in CONTACT_KINDS:
            if not value:
                plan.contacts[name] = None
                continue
            try:
                plan.contacts[name] = identity.normalize_identifier(CONTACT_KINDS[name], value)
            except NormalizationError as exc:
                plan.error(name, exc)
        elif name == "id_number":
            if kind != Customer.KIND_PERSON and value:
                plan.error(name, _("Only persons have this field."))
            elif not value:
                plan.clear_id_number = bool(customer.id_number_index)
            else:
                try:
                    plan.id_number = normalize_id_number(value)
                except NormalizationError as exc:
                    plan.error(name, exc)
        elif name == "address":
            if isinstance(value, Mapping):
                plan.address = identity.address_parts(**{
                    k: str(value.get(k) or "") for k in ("raw", "province", "city",
                                                         "district", "detail")})
                plan.address["postal_code"] = str(value.get("postal_code") or "")
            elif value:
                plan.address = identity.address_parts(raw=str(value))
    if "custom" in changes:
        try:
            plan.columns["custom"] = custom_values_clean(
                values=changes["custom"] or {}, kind=kind, current=customer.custom)
        except ValidationFailed as exc:
            for key, messages in exc.details.items():
                plan.errors.setdefault(key, []).extend(messages)
    elif customer.pk is None:
        try:
            plan.columns["custom"] = custom_values_clean(values={}, kind=kind)
        except ValidationFailed as exc:
            plan.errors.update(exc.details)
    _check_id_number_agrees(plan, customer)
    _check_field_rules(plan, customer, kind, changes, _role_of(actor))
    return plan


def _role_of(actor: Actor) -> str | None:
    """The actor's role code, which field behaviour rules may name (None for the system)."""
    user = actor.user
    return user.role.code if user is not None and user.role_id else None


def _check_field_rules(plan: _Plan, customer: Customer, kind: str,
                       changes: Mapping[str, Any], role: str | None = None) -> None:
    """Apply the data steward's field rules (kehu.core.field_rules) and the form designer's
    field behaviour rules to the values this write would leave (kehu.customers.planning, as
    the import does)."""
    rules = planning.Rules.load(custom=False)
    if not rules.field_rules.get(kind) and not rules.behaviour:
        return
    stored = {name: getattr(customer, name) for name in planning.COLUMN_FIELDS
              if name not in ("province", "city")}
    columns = {name: plan.columns.get(name, stored[name]) for name in stored}
    province, city = customer.province, customer.city
    if plan.address is not None:
        province, city = plan.address.get("province", ""), plan.address.get("city", "")
    wechat = ""
    if customer.pk and ("wechat" not in plan.contacts or rules.behaviour):
        wechat = (Identifier.objects.filter(
            customer=customer, kind=Identifier.WECHAT, is_primary=True, is_live=True)
            .values_list("value", flat=True).first() or "")
    current = {"mobile": customer.primary_mobile or "", "email": customer.primary_email or "",
               "wechat": wechat}
    contacts = {name: (plan.contacts[name] or {}).get("value", "") if name in plan.contacts
                else current[name] for name in current}
    values = planning.rule_values(
        columns=columns, province=province, city=city, custom=plan.columns.get(
            "custom", customer.custom) or {},
        id_number=(plan.id_number.value if plan.id_number is not None
                   else "" if plan.clear_id_number else customer.id_number_masked),
        **contacts)
    only = None if customer.pk is None else planning.written_fields(changes,
                                                                     changes.get("custom"))
    if rules.field_rules.get(kind):
        plan.errors.update(planning.field_rule_errors(rules, kind, values, only, plan.errors))
    if not rules.behaviour:
        return
    if customer.pk is None:
        before = planning.behaviour_values(kind, {"lifecycle_stage": Customer._meta.get_field(
            "lifecycle_stage").default})
    else:
        before = planning.behaviour_values(kind, planning.rule_values(
            columns=stored, province=customer.province, city=customer.city,
            custom=customer.custom or {}, id_number=customer.id_number_masked, **current))
    after = planning.behaviour_values(kind, values, address=(
        plan.address.get("raw") or None) if plan.address is not None else None)
    written = planning.written_fields(changes, changes.get("custom")) | (
        {"address"} & set(changes))
    plan.errors.update(planning.behaviour_errors(
        rules, kind, role, before=before, after=after, written=written,
        creating=customer.pk is None, errors=plan.errors))


def _check_id_number_agrees(plan: _Plan, customer: Customer) -> None:
    """The birth date and gender in an ID number fill empty fields and must match filled ones."""
    parsed = plan.id_number
    if parsed is None:
        return
    planning.id_number_agreement(plan.errors, plan.columns, birthday=customer.birthday,
                                 gender=customer.gender, birthday_of_id=parsed.birthday,
                                 gender_of_id=parsed.gender)


def _apply(actor: Actor, customer: Customer, plan: _Plan) -> list[str]:
    """Write a validated plan; returns the customer columns that changed."""
    changed = [name for name, value in plan.columns.items() if getattr(customer, name) != value]
    for name in changed:
        setattr(customer, name, plan.columns[name])
    if plan.id_number is not None or plan.clear_id_number:
        clear = plan.id_number.value if plan.id_number else ""
        if identity.id_number_index(clear) != customer.id_number_index or not clear:
            for name, value in identity.id_number_columns(clear).items():
                setattr(customer, name, value)
                changed.append(name)
    if "uscc" in changed and customer.uscc:
        other = (Customer.objects.filter(uscc=customer.uscc, status=Customer.STATUS_ACTIVE)
                 .exclude(pk=customer.pk).first())
        if other is not None:
            raise ValidationFailed(details={"uscc": [identity.duplicate_message(actor, other)]},
                                   code="duplicate")
    full_clean(customer, exclude=["owner", "team", "merged_into", "created_by"])
    if customer.pk is None:
        customer.save()
    elif changed:
        customer.save(update_fields=sorted(set(changed)))
    if "id_number_index" in changed:
        Identifier.objects.filter(customer=customer, kind=Identifier.ID_NUMBER).delete()
        if customer.id_number_index:
            identity.save_identifier(actor, Identifier(
                customer=customer, kind=Identifier.ID_NUMBER, value=customer.id_number_index,
                is_primary=True, source=actor.via), field="id_number")
    for name, normalized in plan.contacts.items():
        _set_primary_contact(actor, customer, name, normalized)
    if plan.address is not None:
        current = customer.addresses.filter(is_primary=True).first()
        if current is None:
            identity.make_address(customer, **plan.address).save()
        else:
            for key, value in plan.address.items():
                setattr(current, key, value)
            current.save()
    return changed


def _set_primary_contact(actor: Actor, customer: Customer, name: str,
                         normalized: dict[str, Any] | None) -> None:
    """Make this value the primary one of its kind; the previous primary stays as secondary.
    An empty value removes the current primary of that kind."""
    kinds = identity.PHONE_KINDS if name == "mobile" else (CONTACT_KINDS[name],)
    mine = Identifier.objects.filter(customer=customer, kind__in=kinds, is_live=True)
    if normalized is None:
        mine.filter(is_primary=True).delete()
        return
    existing = mine.filter(kind=normalized["kind"], value=normalized["value"]).first()
    mine.exclude(pk=existing.pk if existing else None).filter(is_primary=True).update(
        is_primary=False)
    if existing is not None:
        if not existing.is_primary:
            existing.is_primary = True
            existing.save(update_fields=["is_primary"])
        return
    identity.save_identifier(actor, Identifier(customer=customer, is_primary=True,
                                               source=actor.via, **normalized), field=name)


def _finish(customer: Customer) -> None:
    columns = identity.refresh_primary_columns(customer) + identity.refresh_address_columns(
        customer)
    if columns:
        customer.save(update_fields=columns)


def customer_create(
    *,
    actor: Actor,
    name: str,
    kind: str = Customer.KIND_PERSON,
    owner: User | None = None,
    team: Team | None = None,
    mobile: str = "",
    email: str = "",
    wechat: str = "",
    id_number: str = "",
    address: str | Mapping[str, str] | None = None,
    custom: Mapping[str, Any] | None = None,
    **fields: Any,
) -> Customer:
    """Create a person or organisation. `fields` are the plain columns (SIMPLE_FIELDS).

    The owner defaults to the actor and the team to the owner's team; giving anyone else
    needs customer.assign.
    """
    actor.require("customer.add")
    if owner is None and actor.user is not None:
        owner = actor.user
    if team is None and owner is not None:
        team = owner.team
    if actor.user is not None and owner is not None and owner.pk != actor.user.pk:
        actor.require("customer.assign")
    check_owner_team(actor, owner, team)
    customer = Customer(kind=kind, owner=owner, team=team, created_by=actor.user)
    changes: dict[str, Any] = {"kind": kind, "name": name, **fields, "custom": custom or {}}
    for key, value in (("mobile", mobile), ("email", email), ("wechat", wechat),
                       ("id_number", id_number), ("address", address)):
        if value:
            changes[key] = value
    plan = _plan(actor, customer, changes)
    if plan.errors:
        raise ValidationFailed(details=plan.errors)
    with transaction.atomic():
        _apply(actor, customer, plan)
        _finish(customer)
        record_change(actor=actor, action="customer.create", event="customer.created",
                      object_type="customer",
                      object_id=customer.pk, object_repr=customer.name,
                      changes={**{name: change for name, change in diff(
                                  {}, snapshot(customer)).items()
                                  if change["after"] not in planning.EMPTY},
                              "version": {"before": None, "after": customer.version}})
    return customer


def customer_update(
    *,
    actor: Actor,
    customer: Customer,
    expected_version: int | None,
    changes: Mapping[str, Any],
) -> Customer:
    """Apply a partial change. A stale `expected_version` raises Conflict carrying the current
    (presented) values and the fields that changed since that version; None skips the check
    (system jobs that hold the lock themselves)."""
    actor.require("customer.change")
    with transaction.atomic():
        customer = lock(customer)
        require_visible(actor, customer)
        if expected_version is not None and customer.version != expected_version:
            raise _conflict(actor, customer, expected_version)
        if ("owner" in changes and changes["owner"] != customer.owner) or (
                "team" in changes and changes["team"] != customer.team):
            actor.require("customer.assign")
        before = snapshot(customer)
        owner = changes.get("owner", customer.owner)
        team = changes.get("team", customer.team)
        if owner != customer.owner or team != customer.team:
            check_owner_team(actor, owner, team)
        plan = _plan(actor, customer, {k: v for k, v in changes.items()
                                       if k not in ("owner", "team")})
        if plan.errors:
            raise ValidationFailed(details=plan.errors)
        customer.owner, customer.team = owner, team
        _apply(actor, customer, plan)
        _finish(customer)
        after = snapshot(customer)
        if before == after:
            return customer
        version_before = customer.version
        columns = bump(customer) + ["owner", "team"]
        customer.save(update_fields=columns)
        record_change(actor=actor, action="customer.update", event="customer.field_changed",
                      object_type="customer",
                      object_id=customer.pk, object_repr=customer.name,
                      changes={**diff(before, after),
                              "version": {"before": version_before, "after": customer.version}})
    return customer


def _conflict(actor: Actor, customer: Customer, expected_version: int) -> Conflict:
    """Which fields changed since the caller's version, from the audit entries that did it."""
    from kehu.customers.selectors import customer_present

    first_before: dict[str, Any] = {}
    entries = (AuditEntry.objects.filter(object_type="customer", object_id=str(customer.pk))
               .order_by("-seq")[:200])
    for entry in reversed(list(entries)):
        version = (entry.changes or {}).get("version") or {}
        if not isinstance(version, dict) or (version.get("after") or 0) <= expected_version:
            continue
        for name, change in entry.changes.items():
            if name != "version" and isinstance(change, dict) and name not in first_before:
                first_before[name] = change.get("before")
    now = snapshot(customer)
    fields = sorted(name for name, value in first_before.items()
                    if diff({name: value}, {name: now.get(name)}))
    current = customer_present(actor.user, customer) if actor.user else now
    return Conflict(details={"current": current, "fields": fields,
                             "version": customer.version})


# The card changes with an event type of their own; the others are customer.field_changed.
CARD_EVENTS = {"customer.tag_add": "tag.added", "customer.tag_remove": "tag.removed"}


def record_card_change(*, actor: Actor, customer: Customer, action: str,
                       before: dict[str, Any], extra: dict[str, Any] | None = None) -> None:
    """After a change to the card's identity rows (identifiers, addresses, tags): refresh the
    denormalised columns, advance the version (so an edit based on the old card conflicts)
    and audit. Runs inside the caller's transaction."""
    _finish(customer)
    version_before = customer.version
    customer.save(update_fields=bump(customer))
    record_change(actor=actor, action=action, event=CARD_EVENTS.get(action, "customer.field_changed"),
                  object_type="customer", object_id=customer.pk,
                  object_repr=customer.name,
                  changes={**diff(before, snapshot(customer)), **(extra or {}),
                          "version": {"before": version_before, "after": customer.version}})


def customer_delete(*, actor: Actor, customer: Customer,
                    expected_version: int | None = None) -> Customer:
    """Soft delete: the row stays (status deleted) and its identifiers stop being live, which
    frees phones and emails for other customers. Nothing is lost."""
    actor.require("customer.delete")
    with transaction.atomic():
        customer = lock(customer)
        require_visible(actor, customer)
        if expected_version is not None and customer.version != expected_version:
            raise _conflict(actor, customer, expected_version)
        version_before = customer.version
        customer.status = Customer.STATUS_DELETED
        customer.save(update_fields=["status", *bump(customer)])
        customer.identifiers.update(is_live=False)
        record_change(actor=actor, action="customer.delete", event="customer.deleted",
                      object_type="customer",
                      object_id=customer.pk, object_repr=customer.name,
                      changes={"status": {"before": Customer.STATUS_ACTIVE,
                                         "after": Customer.STATUS_DELETED},
                              "version": {"before": version_before, "after": customer.version}})
    return customer


def customer_reveal_id_number(*, actor: Actor, customer: Customer) -> str:
    """The clear ID number, for roles whose field mode for it is edit or view; every reveal
    is audited (who, when, which customer), never the number itself."""
    require_visible(actor, customer)
    if actor.access is not None and not actor.access.can_read_field("customer.id_number"):
        raise PermissionDenied(details={"field": "customer.id_number"})
    if not customer.id_number_encrypted:
        return ""
    with transaction.atomic():
        audit_record(actor=actor, action="customer.reveal", object_type="customer",
                     object_id=customer.pk, object_repr=customer.name,
                     changes={"field": "id_number"})
    return decrypt(customer.id_number_encrypted)
