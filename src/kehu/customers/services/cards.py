"""The rows hanging off a customer: identifiers, addresses, organisation contacts and tags,
plus the bulk actions of the customer list. Each change is audited on the customer and
advances its version."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from kehu.accounts.models import Team, User
from kehu.core.actor import Actor
from kehu.core.audit import diff
from kehu.core.errors import NotFound, PermissionDenied, ValidationFailed
from kehu.core.events import record_change
from kehu.core.normalize import NormalizationError, normalize_name
from kehu.customers import fields as catalogue
from kehu.customers.models import (
    Address,
    ContactLink,
    Customer,
    CustomerTag,
    Identifier,
    SavedView,
    Tag,
)
from kehu.customers.services import identity
from kehu.customers.services._common import (
    bump,
    check_owner_team,
    full_clean,
    lock,
    require_any,
    require_visible,
    snapshot,
)
from kehu.customers.services.customers import record_card_change

MAX_BULK = 5000


def _require_field(actor: Actor, kind: str) -> None:
    sensitive = identity.SENSITIVE_FIELD_OF_KIND.get(kind)
    if sensitive and actor.access is not None and not actor.access.can_edit_field(sensitive):
        raise PermissionDenied(details={"field": sensitive})


def _audited(identifier: Identifier, *, before: bool) -> dict[str, Any]:
    """An identifier's change as the audit log keeps it: one key per identifier kind
    ("identifier.wechat", "identifier.external:tmall"), so each value is masked by its own
    field wherever it is shown; ID numbers never in clear."""
    value = "***" if identifier.kind == Identifier.ID_NUMBER else (
        f"{identifier.kind}:{identifier.system}:{identifier.value}" if identifier.system
        else identifier.value)
    key = catalogue.identifier_audit_key(identifier.kind, identifier.system)
    return {key: {"before": value, "after": None} if before
            else {"before": None, "after": value}}


# Identifiers ---------------------------------------------------------------------------


def identifier_add(
    *,
    actor: Actor,
    customer: Customer,
    kind: str,
    value: str,
    system: str = "",
    source: str = "",
    verified: bool = False,
    is_primary: bool = False,
) -> Identifier:
    """Add a phone ("phone" picks mobile or landline), email, WeChat or external id.

    A value already live on another customer is refused, naming that customer when the
    actor may see it. ID numbers go through customer_update(id_number=…) instead.
    """
    actor.require("customer.change")
    if kind == Identifier.ID_NUMBER:
        raise ValidationFailed(details={"kind": [_("Set the ID number on the customer.")]})
    try:
        normalized = identity.normalize_identifier(kind, value, system=system)
    except NormalizationError as exc:
        raise ValidationFailed(details={"value": [str(exc)]}) from None
    _require_field(actor, normalized["kind"])
    with transaction.atomic():
        customer = lock(customer)
        require_visible(actor, customer)
        same = customer.identifiers.filter(kind=normalized["kind"], system=system.strip(),
                                           value=normalized["value"], is_live=True).first()
        if same is not None:
            return same
        before = snapshot(customer)
        siblings = customer.identifiers.filter(kind=normalized["kind"], is_live=True)
        make_primary = is_primary or not siblings.exists()
        if make_primary:
            siblings.update(is_primary=False)
        identifier = Identifier(customer=customer, system=system.strip(), source=source[:60],
                                verified=verified, is_primary=make_primary, **normalized)
        identity.save_identifier(actor, identifier, field="value")
        record_card_change(actor=actor, customer=customer, action="customer.identifier_add",
                           before=before,
                           extra=_audited(identifier, before=False))
    return identifier


def identifier_remove(*, actor: Actor, identifier: Identifier) -> None:
    """Remove an identifier; if it was the primary of its kind, the oldest other one takes over."""
    actor.require("customer.change")
    _require_field(actor, identifier.kind)
    with transaction.atomic():
        customer = lock(identifier.customer)
        require_visible(actor, customer)
        before = snapshot(customer)
        described = _audited(identifier, before=True)
        Identifier.objects.filter(pk=identifier.pk).delete()
        if identifier.kind == Identifier.ID_NUMBER:
            for name, value in identity.id_number_columns("").items():
                setattr(customer, name, value)
            customer.save(update_fields=list(identity.id_number_columns("")))
        elif identifier.is_primary:
            successor = customer.identifiers.filter(kind=identifier.kind, is_live=True).first()
            if successor is not None:
                successor.is_primary = True
                successor.save(update_fields=["is_primary"])
        record_card_change(actor=actor, customer=customer, action="customer.identifier_remove",
                           before=before, extra=described)


def identifier_set_primary(*, actor: Actor, identifier: Identifier) -> Identifier:
    """Make this the customer's primary identifier of its kind (copied onto the list columns)."""
    actor.require("customer.change")
    _require_field(actor, identifier.kind)
    with transaction.atomic():
        customer = lock(identifier.customer)
        require_visible(actor, customer)
        if identifier.is_primary:
            return identifier
        before = snapshot(customer)
        customer.identifiers.filter(kind=identifier.kind).update(is_primary=False)
        Identifier.objects.filter(pk=identifier.pk).update(is_primary=True)
        identifier.is_primary = True
        record_card_change(actor=actor, customer=customer, action="customer.identifier_primary",
                           before=before, extra=_audited(identifier, before=False))
    return identifier


# Addresses -----------------------------------------------------------------------------


def _address_text(address: Address | None) -> str | None:
    return str(address) if address is not None else None


def address_set(
    *,
    actor: Actor,
    customer: Customer,
    address: Address | None = None,
    raw: str = "",
    province: str = "",
    city: str = "",
    district: str = "",
    detail: str = "",
    postal_code: str = "",
    label: str = "home",
    is_primary: bool = True,
) -> Address:
    """Add an address (address=None) or replace one. Explicit parts win over the parsed `raw`
    text; the primary address's province, city and region are copied onto the customer."""
    actor.require("customer.change")
    _require_address_field(actor)
    parts = identity.address_parts(raw=raw, province=province, city=city, district=district,
                                   detail=detail)
    if not any(parts[k] for k in ("province", "city", "district", "detail")):
        raise ValidationFailed(details={"raw": [_("Enter an address.")]})
    with transaction.atomic():
        customer = lock(customer)
        require_visible(actor, customer)
        before = snapshot(customer)
        if address is not None:
            address = customer.addresses.filter(pk=address.pk).first()
            if address is None:
                raise NotFound()
        old_text = _address_text(address)
        address = address or Address(customer=customer)
        for key, value in parts.items():
            setattr(address, key, value)
        address.postal_code, address.label = postal_code.strip(), label
        has_primary = customer.addresses.filter(is_primary=True).exclude(pk=address.pk).exists()
        address.is_primary = is_primary or not has_primary
        full_clean(address, exclude=["customer"])
        if address.is_primary:
            customer.addresses.exclude(pk=address.pk).update(is_primary=False)
        address.save()
        record_card_change(actor=actor, customer=customer, action="customer.address_set",
                           before=before,
                           extra={"address": {"before": old_text, "after": str(address)}})
    return address


def _require_address_field(actor: Actor) -> None:
    if actor.access is not None and not actor.access.can_edit_field("customer.address"):
        raise PermissionDenied(details={"field": "customer.address"})


def address_remove(*, actor: Actor, address: Address) -> None:
    """Delete an address; another one becomes primary if this one was."""
    actor.require("customer.change")
    _require_address_field(actor)
    with transaction.atomic():
        customer = lock(address.customer)
        require_visible(actor, customer)
        before = snapshot(customer)
        text = str(address)
        Address.objects.filter(pk=address.pk).delete()
        if address.is_primary:
            successor = customer.addresses.order_by("id").first()
            if successor is not None:
                successor.is_primary = True
                successor.save(update_fields=["is_primary"])
        record_card_change(actor=actor, customer=customer, action="customer.address_remove",
                           before=before, extra={"address": {"before": text, "after": None}})


# Organisation contacts --------------------------------------------------------------------


def contact_link_save(
    *,
    actor: Actor,
    organisation: Customer,
    person: Customer,
    job_title: str = "",
    decision_role: str = "",
    is_primary: bool = False,
) -> ContactLink:
    """Link a person to an organisation as its contact (creating or updating the link); an
    organisation has at most one primary contact."""
    actor.require("customer.change")
    errors: dict[str, list[str]] = {}
    if organisation.kind != Customer.KIND_ORGANISATION:
        errors["organisation"] = [_("Contacts belong to organisations.")]
    if person.kind != Customer.KIND_PERSON:
        errors["person"] = [_("A contact must be a person.")]
    if errors:
        raise ValidationFailed(details=errors)
    with transaction.atomic():
        organisation = lock(organisation)
        require_visible(actor, organisation)
        require_visible(actor, person)
        link = ContactLink.objects.filter(organisation=organisation, person=person).first()
        old = _link_text(link)
        link = link or ContactLink(organisation=organisation, person=person)
        link.job_title, link.decision_role = job_title.strip(), decision_role
        link.is_primary = is_primary
        full_clean(link, exclude=["organisation", "person"])
        if is_primary:
            organisation.contact_links.exclude(pk=link.pk).update(is_primary=False)
        link.save()
        before = snapshot(organisation)
        record_card_change(actor=actor, customer=organisation, action="customer.contact_save",
                           before=before, extra={"contact": {"before": old,
                                                             "after": _link_text(link)}})
    return link


def _link_text(link: ContactLink | None) -> str | None:
    if link is None:
        return None
    flags = [link.job_title, link.decision_role, "primary" if link.is_primary else ""]
    return f"#{link.person_id} {link.person.name} " + " ".join(f for f in flags if f)


def contact_link_remove(*, actor: Actor, link: ContactLink) -> None:
    """Unlink a contact from an organisation (both customers stay)."""
    actor.require("customer.change")
    with transaction.atomic():
        organisation = lock(link.organisation)
        require_visible(actor, organisation)
        before = snapshot(organisation)
        text = _link_text(link)
        ContactLink.objects.filter(pk=link.pk).delete()
        record_card_change(actor=actor, customer=organisation, action="customer.contact_remove",
                           before=before, extra={"contact": {"before": text, "after": None}})


# Tags ---------------------------------------------------------------------------------


def _tag_named(name: str) -> Tag:
    clean = normalize_name(name)
    if not clean or len(clean) > 60:
        raise ValidationFailed(details={"name": [_("A tag needs a name of 1 to 60 characters.")]})
    tag = Tag.objects.filter(name__iexact=clean).first()
    return tag or Tag.objects.create(name=clean)


def _tag_one(actor: Actor, customer: Customer, tag: Tag) -> bool:
    if CustomerTag.objects.filter(customer=customer, tag=tag).exists():
        return False
    before = snapshot(customer)
    CustomerTag.objects.create(customer=customer, tag=tag, added_by=actor.user)
    record_card_change(actor=actor, customer=customer, action="customer.tag_add", before=before,
                       extra={"tag": {"before": None, "after": tag.name}})
    return True


def tag_add(*, actor: Actor, customer: Customer, name: str) -> Tag:
    """Tag a customer (the tag is created on first use). Needs segment.manage."""
    actor.require("segment.manage")
    with transaction.atomic():
        customer = lock(customer)
        require_visible(actor, customer)
        tag = _tag_named(name)
        _tag_one(actor, customer, tag)
    return tag


def tag_remove(*, actor: Actor, customer: Customer, tag: Tag) -> None:
    actor.require("segment.manage")
    with transaction.atomic():
        customer = lock(customer)
        require_visible(actor, customer)
        before = snapshot(customer)
        deleted, _rows = CustomerTag.objects.filter(customer=customer, tag=tag).delete()
        if deleted:
            record_card_change(actor=actor, customer=customer, action="customer.tag_remove",
                               before=before, extra={"tag": {"before": tag.name, "after": None}})


# Bulk actions ---------------------------------------------------------------------------


def _visible_customers(actor: Actor, customer_ids: Iterable[int]) -> list[Customer]:
    """All of them, locked, or NotFound: a bulk action never half-applies or probes scope."""
    ids = sorted({int(i) for i in customer_ids})
    if not ids:
        raise ValidationFailed(details={"customer_ids": [_("Select at least one customer.")]})
    if len(ids) > MAX_BULK:
        raise ValidationFailed(details={"customer_ids": [
            _("At most %(n)d customers at a time.") % {"n": MAX_BULK}]})
    found = list(Customer.objects.select_for_update(of=("self",)).select_related("owner", "team")
                 .filter(pk__in=ids, status=Customer.STATUS_ACTIVE).order_by("pk"))
    if len(found) != len(ids):
        raise NotFound()
    for customer in found:
        require_visible(actor, customer)
    return found


def customers_assign_owner(*, actor: Actor, customer_ids: Iterable[int], owner: User,
                           team: Team | None = None) -> int:
    """Hand many customers to one owner (and their team unless one is given); each customer
    gets its own audit entry. Returns how many changed."""
    actor.require("customer.assign")
    team = team if team is not None else owner.team
    check_owner_team(actor, owner, team)
    changed = 0
    with transaction.atomic():
        for customer in _visible_customers(actor, customer_ids):
            if customer.owner_id == owner.pk and customer.team_id == (team.pk if team else None):
                continue
            before = snapshot(customer)
            version_before = customer.version
            customer.owner, customer.team = owner, team
            customer.save(update_fields=["owner", "team", *bump(customer)])

            record_change(actor=actor, action="customer.assign", event="customer.field_changed",
                          object_type="customer",
                          object_id=customer.pk, object_repr=customer.name,
                          changes={**diff(before, snapshot(customer)),
                                  "version": {"before": version_before,
                                              "after": customer.version}})
            changed += 1
    return changed


def customers_add_tag(*, actor: Actor, customer_ids: Iterable[int], name: str) -> int:
    """Tag many customers at once; returns how many did not have the tag yet."""
    actor.require("segment.manage")
    with transaction.atomic():
        customers = _visible_customers(actor, customer_ids)
        tag = _tag_named(name)
        return sum(_tag_one(actor, customer, tag) for customer in customers)


# Saved views ----------------------------------------------------------------------------


def saved_view_save(*, actor: Actor, name: str, params: dict, shared: bool = False,
                    view: SavedView | None = None) -> SavedView:
    """Save the list's filters, columns and sort under a name; sharing needs segment.manage."""
    require_any(actor, "customer.view")
    if actor.user is None:
        raise PermissionDenied()
    if shared:
        actor.require("segment.manage")
    with transaction.atomic():
        if view is not None:
            view = SavedView.objects.select_for_update().filter(pk=view.pk,
                                                                user=actor.user).first()
            if view is None:
                raise NotFound()
        view = view or SavedView(user=actor.user)
        before = {"name": view.name, "params": view.params, "shared": view.shared}
        view.name, view.params, view.shared = name.strip(), dict(params), shared
        full_clean(view, exclude=["user"])
        clash = SavedView.objects.filter(user=actor.user, name=view.name).exclude(pk=view.pk)
        if clash.exists():
            raise ValidationFailed(details={"name": [_("You already have a view with this name.")]})
        view.save()

        record_change(actor=actor, action="savedview.save", event="savedview.saved",
                      object_type="savedview",
                      object_id=view.pk, object_repr=view.name,
                      changes=diff(before if before["name"] else {},
                                  {"name": view.name, "params": view.params,
                                   "shared": view.shared}))
    return view


def saved_view_delete(*, actor: Actor, view: SavedView) -> None:
    """Only the person who saved a view deletes it."""
    if actor.user is None or view.user_id != actor.user.pk:
        raise NotFound()
    with transaction.atomic():
        SavedView.objects.filter(pk=view.pk).delete()
        record_change(actor=actor, action="savedview.delete", event="savedview.deleted",
                      object_type="savedview",
                      object_id=view.pk, object_repr=view.name)
