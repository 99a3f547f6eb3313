"""Helpers shared by the customer services: permission and scope checks, snapshots, versions."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils.translation import gettext as _

from kehu.accounts.models import Team, User
from kehu.core.actor import Actor
from kehu.core.errors import NotFound, PermissionDenied, ValidationFailed
from kehu.core.validation import full_clean as _model_full_clean
from kehu.customers import fields as catalogue
from kehu.customers.models import Customer

# Plain columns a caller may set directly, person-only and organisation-only ones: the
# catalogue's (kehu.customers.fields).
SIMPLE_FIELDS, PERSON_ONLY, ORGANISATION_ONLY = (
    catalogue.SIMPLE_FIELDS, catalogue.PERSON_ONLY, catalogue.ORGANISATION_ONLY)



def require_visible(actor: Actor, customer: Customer) -> None:
    """NotFound (never PermissionDenied) for a customer outside the actor's scope."""
    if actor.user is None:
        return
    if customer.status != Customer.STATUS_ACTIVE or not actor.access.may_see_record(
            owner_id=customer.owner_id, team_id=customer.team_id):
        raise NotFound()


def may_see(actor: Actor, customer: Customer) -> bool:
    try:
        require_visible(actor, customer)
    except NotFound:
        return False
    return True


def check_owner_team(actor: Actor, owner: User | None, team: Team | None) -> None:
    """The owner must be an active user and both must lie inside the actor's own scope,
    so nobody can hand a record to someone (or a team) they cannot see themselves."""
    errors: dict[str, list[str]] = {}
    if owner is not None and not owner.is_active:
        errors["owner"] = [_("The owner must be an active user.")]
    access = actor.access
    if access is not None and access.scope != "all":
        if owner is not None and owner.pk != access.user_id and not (
                access.scope == "team" and owner.team_id in access.team_ids):
            errors.setdefault("owner", []).append(
                _("You can only assign customers to people in your teams."))
        if team is not None and team.pk not in access.team_ids and not (
                actor.user is not None and team.pk == actor.user.team_id):
            errors["team"] = [_("You can only use your own teams.")]
    if errors:
        raise ValidationFailed(details=errors)


def require_any(actor: Actor, *permissions: str) -> None:
    if actor.user is None:
        actor.require(permissions[0])
        return
    if not any(actor.access.can(p) for p in permissions):
        raise PermissionDenied(details={"permission": permissions[0]})


def snapshot(customer: Customer) -> dict[str, Any]:
    """The audited state of a customer. ID numbers appear only masked."""
    data = {field: getattr(customer, field) for field in SIMPLE_FIELDS}
    data.update(
        kind=customer.kind,
        id_number=customer.id_number_masked,
        owner=customer.owner.get_username() if customer.owner_id else None,
        team=customer.team.name if customer.team_id else None,
        province=customer.province, city=customer.city, region=customer.region,
        mobile=customer.primary_mobile, email=customer.primary_email,
        status=customer.status,
    )
    for key, value in (customer.custom or {}).items():
        data[f"custom.{key}"] = value
    return data


def bump(customer: Customer) -> list[str]:
    """Advance the optimistic-locking version; returns the columns to add to update_fields."""
    customer.version += 1
    return ["version", "updated_at"]


def lock(customer: Customer) -> Customer:
    """Re-read the row under a lock (PostgreSQL queues writers; SQLite serialises anyway)."""
    return (Customer.objects.select_for_update(of=("self",)).select_related("owner", "team")
            .get(pk=customer.pk))


def full_clean(instance, exclude: Iterable[str] = ()) -> None:
    """Field validation only: uniqueness of identifiers is checked against live rows instead."""
    _model_full_clean(instance, exclude, validate_unique=False, validate_constraints=False)
