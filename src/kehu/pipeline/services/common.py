"""What the pipeline's services share: locking a record the actor may change, readable
numbers, and the checks of people, teams, products and amounts. Nothing here writes."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.actor import Actor
from kehu.core.errors import NotFound
from kehu.pipeline.models import Contract, Deal, DealLine
from kehu.pipeline.money import decimal_or_none, money

Product = DealLine._meta.get_field("product").related_model
MAX_MONEY = Decimal("999999999999.99")


def may_touch(actor: Actor, *, owner_id: int | None, team_id: int | None) -> bool:
    """Whether a record with this owner and team is inside the actor's record scope."""
    access = actor.access
    return access is None or access.may_see_record(owner_id=owner_id, team_id=team_id)


def lock_deal(actor: Actor, deal: Deal) -> Deal:
    """The deal, locked for this transaction, if it is inside the actor's scope; else
    NotFound (a deal out of scope looks like one that does not exist)."""
    row = (Deal.objects.select_for_update().select_related("stage", "pipeline", "customer")
           .filter(pk=deal.pk).first())
    if row is None or not may_touch(actor, owner_id=row.owner_id, team_id=row.team_id):
        raise NotFound()
    return row


def lock_contract(actor: Actor, contract: Contract) -> Contract:
    row = (Contract.objects.select_for_update().select_related("customer")
           .filter(pk=contract.pk).first())
    if row is None or not may_touch(actor, owner_id=row.owner_id, team_id=row.team_id):
        raise NotFound()
    return row


def amount_of(errors: dict, name: str, value: Any, *, positive: bool = False) -> Decimal | None:
    """A CNY amount from input, or an error under `name`."""
    number = decimal_or_none(value)
    if number is None or number < 0 or (positive and number == 0) or number > MAX_MONEY:
        errors.setdefault(name, []).append(
            _("Enter an amount greater than zero, such as 1280.50.") if positive
            else _("Enter an amount of zero or more, such as 1280.50."))
        return None
    return money(number)


def numbered(prefix: str, pk: int, at: dt.datetime | None = None) -> str:
    """A readable number such as HT20261207-000042: prefix, local date, row id."""
    return f"{prefix}{timezone.localtime(at or timezone.now()):%Y%m%d}-{pk:06d}"


def placeholder(prefix: str) -> str:
    """A unique number for a row about to be saved; `numbered` replaces it once it has an id."""
    return f"{prefix}-TMP{uuid.uuid4().hex[:16]}"


def active_user(errors: dict, name: str, user) -> Any:
    if user is not None and not user.is_active:
        errors.setdefault(name, []).append(_("This user is no longer active."))
    return user


def products_by_id(ids: set[int]) -> dict[int, Any]:
    return {p.pk: p for p in Product.objects.filter(pk__in=ids)} if ids else {}
