"""Pipelines with their stages, and deals: create, change, move across stages, win or lose,
and the order of a won deal. Every write checks its permission, runs in one transaction and
records its audit entry and domain event."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.actor import Actor
from kehu.core.audit import diff
from kehu.core.errors import ValidationFailed
from kehu.core.events import Related, record_change
from kehu.core.validation import full_clean
from kehu.customers.models import ContactLink, Customer
from kehu.customers.services import customer_lock_for_write
from kehu.pipeline import hooks
from kehu.pipeline.models import (
    BEST_CASE,
    COMMIT,
    FORECAST_CATEGORIES,
    LOST,
    OPEN,
    PIPELINE,
    STAGE_KINDS,
    WON,
    Deal,
    DealContact,
    DealLine,
    DealStageHistory,
    Pipeline,
    Stage,
)
from kehu.pipeline.money import decimal_or_none, money
from kehu.pipeline.services.common import (
    active_user,
    amount_of,
    lock_deal,
    products_by_id,
)

# The stages every installation starts with (初步接洽 10% → … → 赢单 100% / 输单 0%).
DEFAULT_PIPELINE = "销售管道"
DEFAULT_STAGES = [
    {"name": "初步接洽", "probability": 10, "kind": OPEN, "forecast_category": PIPELINE},
    {"name": "需求确认", "probability": 30, "kind": OPEN, "forecast_category": PIPELINE},
    {"name": "方案报价", "probability": 50, "kind": OPEN, "forecast_category": BEST_CASE},
    {"name": "谈判审批", "probability": 70, "kind": OPEN, "forecast_category": COMMIT},
    {"name": "赢单", "probability": 100, "kind": WON, "forecast_category": COMMIT},
    {"name": "输单", "probability": 0, "kind": LOST, "forecast_category": PIPELINE},
]
CATEGORY_CODES = {code for code, _label in FORECAST_CATEGORIES}
KIND_CODES = {code for code, _label in STAGE_KINDS}
DEAL_FIELDS = ("title", "amount", "probability", "forecast_category", "expected_close_date",
               "owner", "team", "source", "competitor", "next_step")


# Pipelines -------------------------------------------------------------------------------------


def _pipeline_snapshot(pipeline: Pipeline) -> dict[str, Any]:
    return {"name": pipeline.name, "is_default": pipeline.is_default,
            "is_active": pipeline.is_active,
            "stages": [{"name": s.name, "probability": s.probability, "kind": s.kind,
                        "forecast_category": s.forecast_category,
                        "stalled_days": s.stalled_days}
                       for s in pipeline.stages.order_by("position", "id")]}


def _clean_stages(errors: dict, stages: Any) -> list[dict[str, Any]]:
    """Validate a pipeline's stage list: names unique, probabilities 0-100, at least one
    open stage, exactly one won and one lost stage."""
    if not isinstance(stages, list | tuple) or not stages:
        errors["stages"] = [_("A pipeline needs its stages.")]
        return []
    cleaned, names = [], set()
    for index, spec in enumerate(stages):
        key = f"stages[{index}]"
        spec = dict(spec) if isinstance(spec, dict) else {}
        name = str(spec.get("name") or "").strip()
        probability = spec.get("probability")
        kind = spec.get("kind") or OPEN
        category = spec.get("forecast_category") or PIPELINE
        stalled = spec.get("stalled_days", 14)
        problems = []
        if not name or len(name) > 40:
            problems.append(_("Give each stage a name of at most 40 characters."))
        elif name in names:
            problems.append(_("Two stages are called “%s”.") % name)
        names.add(name)
        if isinstance(probability, bool) or not isinstance(probability, int) \
                or not 0 <= probability <= 100:
            problems.append(_("The probability is a whole number from 0 to 100."))
        if kind not in KIND_CODES:
            problems.append(_("“%s” is not a valid choice.") % kind)
        if category not in CATEGORY_CODES:
            problems.append(_("“%s” is not a valid choice.") % category)
        if isinstance(stalled, bool) or not isinstance(stalled, int) or not 1 <= stalled <= 3650:
            problems.append(_("Stalled after is a number of days from 1 to 3650."))
        if problems:
            errors[key] = problems
        cleaned.append({"id": spec.get("id"), "name": name, "probability": probability,
                        "kind": kind, "forecast_category": category, "stalled_days": stalled,
                        "position": index})
    kinds = [s["kind"] for s in cleaned]
    if OPEN not in kinds or kinds.count(WON) != 1 or kinds.count(LOST) != 1:
        errors.setdefault("stages", []).append(
            _("A pipeline has open stages, one won stage and one lost stage."))
    return cleaned


def _pipeline_write(actor: Actor, pipeline: Pipeline | None, *, name: str, stages: Any,
                    is_default: bool, is_active: bool = True, check: bool = True) -> Pipeline:
    if check:
        actor.require("pipeline.configure")
    errors: dict[str, list[str]] = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = [_("Give the pipeline a name.")]
    elif Pipeline.objects.filter(name=name).exclude(pk=getattr(pipeline, "pk", None)).exists():
        errors["name"] = [_("Another pipeline already has this name.")]
    cleaned = _clean_stages(errors, stages)
    if pipeline is not None and not is_active and pipeline.is_default:
        errors["is_active"] = [_("The default pipeline cannot be switched off.")]
    if errors:
        raise ValidationFailed(details=errors)
    with transaction.atomic():
        creating = pipeline is None
        if creating:
            pipeline = Pipeline(name=name, is_default=False, is_active=is_active)
            before: dict[str, Any] = {}
        else:
            pipeline = Pipeline.objects.select_for_update().get(pk=pipeline.pk)
            before = _pipeline_snapshot(pipeline)
            pipeline.name, pipeline.is_active = name, is_active
        has_default = Pipeline.objects.filter(is_default=True).exclude(
            pk=getattr(pipeline, "pk", None)).exists()
        pipeline.is_default = is_default or not has_default
        full_clean(pipeline)
        pipeline.save()
        if pipeline.is_default:
            Pipeline.objects.filter(is_default=True).exclude(pk=pipeline.pk).update(
                is_default=False)
        existing = {s.pk: s for s in pipeline.stages.all()}
        by_name = {s.name: s for s in existing.values()}
        kept = set()
        # Park the old names first so a reorder or rename never trips the unique name.
        for stage in existing.values():
            Stage.objects.filter(pk=stage.pk).update(name=f"~{stage.pk}")
        for spec in cleaned:
            stage = existing.get(spec["id"]) or by_name.get(spec["name"])
            if stage is not None and stage.pk in kept:
                stage = None
            if stage is None:
                stage = Stage(pipeline=pipeline)
            elif stage.kind != spec["kind"] and stage.deals.exists():
                raise ValidationFailed(details={f"stages[{spec['position']}]": [
                    _("Stage “%s” holds deals: its kind cannot change.") % spec["name"]]})
            for field in ("name", "probability", "kind", "forecast_category", "stalled_days",
                          "position"):
                setattr(stage, field, spec[field])
            stage.save()
            kept.add(stage.pk)
        for pk, stage in existing.items():
            if pk in kept:
                continue
            if stage.deals.exists() or DealStageHistory.objects.filter(stage_id=pk).exists():
                raise ValidationFailed(details={"stages": [
                    _("Stage “%s” holds deals or their history: move them before removing "
                      "it.") % stage.name]})
            stage.delete()
        after = _pipeline_snapshot(pipeline)
        record_change(actor=actor, action="pipeline.create" if creating else "pipeline.update",
                      event="pipeline.created" if creating else "pipeline.updated",
                      object_type="pipeline", object_id=pipeline.pk, object_repr=pipeline.name,
                      changes=diff(before, after))
    return pipeline


def pipeline_create(*, actor: Actor, name: str, stages: list[dict[str, Any]],
                    is_default: bool = False) -> Pipeline:
    """A new pipeline with its stages (name, probability 0-100, kind open/won/lost,
    forecast_category, stalled_days); the first pipeline is the default."""
    return _pipeline_write(actor, None, name=name, stages=stages, is_default=is_default)


def pipeline_update(*, actor: Actor, pipeline: Pipeline, name: str,
                    stages: list[dict[str, Any]], is_default: bool = False,
                    is_active: bool = True) -> Pipeline:
    """Rename, reorder, add or remove stages (a stage holding deals stays, and keeps its
    kind), and choose the default pipeline."""
    return _pipeline_write(actor, pipeline, name=name, stages=stages, is_default=is_default,
                           is_active=is_active)


def pipeline_ensure_default(*, actor: Actor) -> Pipeline:
    """The default pipeline, created with the default stages when there is none."""
    found = Pipeline.objects.filter(is_default=True).first() or Pipeline.objects.first()
    if found is not None:
        return found
    # Bookkeeping rather than a decision: whoever first needs a pipeline gets the default.
    return _pipeline_write(actor, None, name=DEFAULT_PIPELINE, stages=DEFAULT_STAGES,
                           is_default=True, check=False)


# Deals -----------------------------------------------------------------------------------------


def deal_snapshot(deal: Deal, contacts=None, lines=None) -> dict[str, Any]:
    data = {"title": deal.title, "customer": deal.customer_id, "pipeline": deal.pipeline_id,
            "stage": deal.stage_id, "status": deal.status, "amount": deal.amount,
            "probability": deal.probability, "forecast_category": deal.forecast_category,
            "expected_close_date": deal.expected_close_date, "owner": deal.owner_id,
            "team": deal.team_id, "source": deal.source, "competitor": deal.competitor,
            "next_step": deal.next_step, "lost_reason": deal.lost_reason,
            "order": deal.order_id}
    if contacts is not None:
        data["contacts"] = [{"person": c.person_id, "decision_role": c.decision_role}
                            for c in contacts]
    if lines is not None:
        data["lines"] = [{"product": line.product_id, "quantity": line.quantity,
                          "unit_price": line.unit_price, "amount": line.amount}
                         for line in lines]
    return data


def _clean_contacts(errors: dict, customer: Customer, contacts: Any) -> list[DealContact]:
    """The deal's contacts: people linked to the (organisation) customer, or the person
    customer themself, each with an optional decision role."""
    if not contacts:
        return []
    if not isinstance(contacts, list | tuple):
        errors["contacts"] = [_("Give the contacts as a list.")]
        return []
    roles = {code for code, _label in DealContact._meta.get_field("decision_role").choices}
    allowed = set(ContactLink.objects.filter(organisation_id=customer.pk)
                  .values_list("person_id", flat=True)) | {customer.pk}
    result, seen = [], set()
    for index, item in enumerate(contacts):
        key = f"contacts[{index}]"
        item = item if isinstance(item, dict) else {}
        person = item.get("person")
        person_id = getattr(person, "pk", person)
        role = item.get("decision_role") or ""
        if isinstance(person_id, bool) or not isinstance(person_id, int) \
                or person_id not in allowed:
            errors[key] = [_("Choose one of the customer's contacts.")]
            continue
        if role not in roles and role != "":
            errors[key] = [_("“%s” is not a valid choice.") % role]
            continue
        if person_id in seen:
            errors[key] = [_("This contact is listed twice.")]
            continue
        seen.add(person_id)
        result.append(DealContact(person_id=person_id, decision_role=role))
    return result


def _clean_lines(errors: dict, lines: Any) -> list[DealLine]:
    """Product lines {product, quantity, unit_price (default the list price)}."""
    if not lines:
        return []
    if not isinstance(lines, list | tuple):
        errors["lines"] = [_("Give the lines as a list.")]
        return []
    ids = {getattr(i.get("product"), "pk", i.get("product")) for i in lines
           if isinstance(i, dict)}
    products = products_by_id({p for p in ids if isinstance(p, int) and not isinstance(p, bool)})
    result = []
    for index, item in enumerate(lines):
        key = f"lines[{index}]"
        item = item if isinstance(item, dict) else {}
        product = products.get(getattr(item.get("product"), "pk", item.get("product")))
        quantity = decimal_or_none(item.get("quantity", 1))
        price = decimal_or_none(item.get("unit_price")) if item.get("unit_price") not in (
            None, "") else (product.unit_price if product else None)
        problems = []
        if product is None:
            problems.append(_("Choose a product from the catalogue."))
        if quantity is None or quantity <= 0 or quantity > Decimal("9999999999"):
            problems.append(_("The quantity is a number greater than zero."))
        if price is None or price < 0 or price > Decimal("9999999999"):
            problems.append(_("The price is an amount of zero or more."))
        if problems:
            errors[key] = problems
            continue
        quantity, price = quantity.quantize(Decimal("0.01")), money(price)
        result.append(DealLine(product=product, quantity=quantity, unit_price=price,
                               amount=money(quantity * price)))
    return result


def _clean_deal(errors: dict, values: dict[str, Any]) -> None:
    if "title" in values:
        values["title"] = (values["title"] or "").strip()
        if not values["title"]:
            errors["title"] = [_("Give the deal a title.")]
    if "amount" in values:
        values["amount"] = amount_of(errors, "amount", values["amount"])
    if values.get("probability") is not None:
        p = values["probability"]
        if isinstance(p, bool) or not isinstance(p, int) or not 0 <= p <= 100:
            errors["probability"] = [_("The probability is a whole number from 0 to 100.")]
    if values.get("forecast_category") not in (None, *CATEGORY_CODES):
        errors["forecast_category"] = [_("“%s” is not a valid choice.")
                                       % values["forecast_category"]]
    if "expected_close_date" in values and not isinstance(values["expected_close_date"],
                                                          dt.date):
        errors["expected_close_date"] = [_("Choose the expected close date.")]
    if "source" in values:
        values["source"] = values["source"] or ""
        if values["source"] not in {c for c, _l in Deal.SOURCES} | {""}:
            errors["source"] = [_("“%s” is not a valid choice.") % values["source"]]
    for name in ("competitor", "next_step"):
        if name in values:
            values[name] = (values[name] or "").strip()
    if "owner" in values:
        active_user(errors, "owner", values["owner"])


def _history_open(deal: Deal, stage: Stage, at: dt.datetime, user) -> None:
    DealStageHistory.objects.create(deal=deal, stage=stage, entered_at=at,
                                    moved_by=user if getattr(user, "pk", None) else None)


def deal_create(
    *,
    actor: Actor,
    customer: Customer | int,
    title: str,
    amount: Decimal | str | None = None,
    expected_close_date: dt.date,
    pipeline: Pipeline | None = None,
    stage: Stage | None = None,
    probability: int | None = None,
    forecast_category: str | None = None,
    owner=None,
    team=None,
    source: str = "",
    competitor: str = "",
    next_step: str = "",
    contacts: list[dict[str, Any]] | None = None,
    lines: list[dict[str, Any]] | None = None,
) -> Deal:
    """Open a deal for a customer in a pipeline's first open stage (or the given open stage).
    Probability and forecast category default to the stage's; the amount to the lines' sum;
    owner to the actor and team to the owner's team. `customer` may be given by id (imports)."""
    actor.require("deal.manage")
    if isinstance(customer, int):
        customer = Customer(pk=customer)
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {"title": title, "probability": probability,
                              "forecast_category": forecast_category,
                              "expected_close_date": expected_close_date, "source": source,
                              "competitor": competitor, "next_step": next_step}
    if owner is not None:
        values["owner"] = owner
    _clean_deal(errors, values)
    deal_lines = _clean_lines(errors, lines)
    if amount in (None, ""):
        amount = sum((line.amount for line in deal_lines), Decimal("0.00")) if deal_lines \
            else None
        if amount is None:
            errors["amount"] = [_("Give the amount or product lines.")]
    if amount is not None:
        amount = amount_of(errors, "amount", amount)
    with transaction.atomic():
        pipeline = pipeline or pipeline_ensure_default(actor=actor)
        if stage is None:
            stage = pipeline.stages.filter(kind=OPEN).order_by("position", "id").first()
        elif stage.pipeline_id != pipeline.pk:
            errors["stage"] = [_("This stage belongs to another pipeline.")]
        elif stage.kind != OPEN:
            errors["stage"] = [_("A new deal starts in an open stage.")]
        customer = customer_lock_for_write(actor=actor, customer=customer)
        deal_contacts = _clean_contacts(errors, customer, contacts)
        if errors:
            raise ValidationFailed(details=errors)
        owner = values.get("owner") or actor.user
        now = timezone.now()
        deal = Deal(title=values["title"], customer=customer, pipeline=pipeline, stage=stage,
                    status=OPEN, amount=amount,
                    probability=stage.probability if probability is None else probability,
                    forecast_category=forecast_category or stage.forecast_category,
                    expected_close_date=expected_close_date, owner=owner,
                    team=team if team is not None else getattr(owner, "team", None),
                    source=values["source"], competitor=values["competitor"],
                    next_step=values["next_step"], stage_entered_at=now)
        full_clean(deal, exclude=["customer", "pipeline", "stage", "owner", "team", "order"])
        deal.save()
        for item in deal_contacts:
            item.deal = deal
        DealContact.objects.bulk_create(deal_contacts)
        for line in deal_lines:
            line.deal = deal
        DealLine.objects.bulk_create(deal_lines)
        _history_open(deal, stage, now, actor.user)
        record_change(actor=actor, action="deal.create", event="deal.created",
                      object_type="deal", object_id=deal.pk, object_repr=deal.title,
                      customer_id=customer.pk,
                      changes=diff({}, deal_snapshot(deal, deal_contacts, deal_lines)))
    return deal


def deal_update(*, actor: Actor, deal: Deal, changes: dict[str, Any]) -> Deal:
    """Change a deal's fields (title, amount, probability, forecast_category,
    expected_close_date, owner, team, source, competitor, next_step, contacts, lines).
    The stage moves only through deal_move; a closed deal's amount and close date stay."""
    actor.require("deal.manage")
    unknown = sorted(set(changes) - set(DEAL_FIELDS) - {"contacts", "lines"})
    if unknown:
        raise ValidationFailed(details={name: [_("This field cannot be changed here.")]
                                        for name in unknown})
    errors: dict[str, list[str]] = {}
    values = {k: v for k, v in changes.items() if k in DEAL_FIELDS}
    _clean_deal(errors, values)
    new_lines = _clean_lines(errors, changes["lines"]) if "lines" in changes else None
    with transaction.atomic():
        deal = lock_deal(actor, deal)
        if deal.status != OPEN and ({"amount", "expected_close_date", "probability"}
                                    & set(values)):
            errors["__all__"] = [_("This deal is closed: its amount, probability and close "
                                   "date no longer change.")]
        new_contacts = (_clean_contacts(errors, deal.customer, changes["contacts"])
                        if "contacts" in changes else None)
        if errors:
            raise ValidationFailed(details=errors)
        old_contacts, old_lines = list(deal.contacts.all()), list(deal.lines.all())
        before = deal_snapshot(deal, old_contacts, old_lines)
        for name, value in values.items():
            setattr(deal, name, value)
        if "owner" in values and "team" not in values and values["owner"] is not None:
            deal.team = values["owner"].team
        full_clean(deal, exclude=["customer", "pipeline", "stage", "owner", "team", "order"])
        deal.save()
        if new_contacts is not None:
            deal.contacts.all().delete()
            for item in new_contacts:
                item.deal = deal
            DealContact.objects.bulk_create(new_contacts)
        if new_lines is not None:
            deal.lines.all().delete()
            for line in new_lines:
                line.deal = deal
            DealLine.objects.bulk_create(new_lines)
        after = deal_snapshot(deal, new_contacts if new_contacts is not None else old_contacts,
                              new_lines if new_lines is not None else old_lines)
        changed = diff(before, after)
        if changed:
            record_change(actor=actor, action="deal.update", event="deal.updated",
                          object_type="deal", object_id=deal.pk, object_repr=deal.title,
                          customer_id=deal.customer_id, changes=changed)
    return deal


def deal_move(*, actor: Actor, deal: Deal, stage: Stage, lost_reason: str = "") -> Deal:
    """Move a deal to another stage of its pipeline, closing its stay in the old stage.

    Into a won stage: the deal is won (probability 100, closed now). Into a lost stage: a
    lost reason is required. A won deal is final; a lost deal may be reopened into an open
    stage. Emits deal.stage_changed, plus deal.won or deal.lost."""
    actor.require("deal.manage")
    lost_reason = (lost_reason or "").strip()
    with transaction.atomic():
        deal = lock_deal(actor, deal)
        errors: dict[str, list[str]] = {}
        if stage.pipeline_id != deal.pipeline_id:
            errors["stage"] = [_("This stage belongs to another pipeline.")]
        elif stage.pk == deal.stage_id:
            errors["stage"] = [_("The deal is already in this stage.")]
        elif deal.status == WON:
            errors["stage"] = [_("A won deal is final: it cannot move to another stage.")]
        elif stage.kind == LOST and not lost_reason:
            errors["lost_reason"] = [_("Say why the deal was lost.")]
        elif len(lost_reason) > 300:
            errors["lost_reason"] = [_("At most %(n)d characters.") % {"n": 300}]
        if errors:
            raise ValidationFailed(details=errors)
        before = deal_snapshot(deal)
        old_stage = deal.stage
        now = timezone.now()
        DealStageHistory.objects.filter(deal=deal, exited_at__isnull=True).update(exited_at=now)
        deal.stage, deal.status, deal.stage_entered_at = stage, stage.kind, now
        deal.probability = stage.probability
        deal.forecast_category = stage.forecast_category
        deal.lost_reason = lost_reason if stage.kind == LOST else ""
        deal.closed_at = now if stage.kind != OPEN else None
        deal.save(update_fields=["stage", "status", "stage_entered_at", "probability",
                                 "forecast_category", "lost_reason", "closed_at", "updated_at"])
        _history_open(deal, stage, now, actor.user)
        changes = diff(before, deal_snapshot(deal))
        changes["stage_name"] = {"before": old_stage.name, "after": stage.name}
        related = []
        if stage.kind in (WON, LOST):
            related.append(Related(type=f"deal.{stage.kind}", object_type="deal",
                                   object_id=deal.pk, object_repr=deal.title,
                                   customer_id=deal.customer_id,
                                   changes={"amount": str(deal.amount),
                                            "lost_reason": deal.lost_reason,
                                            "stage": stage.name}))
        record_change(actor=actor, action="deal.move", event="deal.stage_changed",
                      object_type="deal", object_id=deal.pk, object_repr=deal.title,
                      customer_id=deal.customer_id, changes=changes, related=related)
    return deal


def deal_create_order(*, actor: Actor, deal: Deal):
    """The order of a won deal, made from its product lines by the registered order maker
    (kehu.pipeline.hooks); the deal keeps a link to it. One order per deal."""
    actor.require("deal.manage")
    with transaction.atomic():
        deal = lock_deal(actor, deal)
        if deal.status != WON:
            raise ValidationFailed(_("Only a won deal makes an order."),
                                   details={"status": [_("Only a won deal makes an order.")]},
                                   code="invalid_transition")
        if deal.order_id:
            raise ValidationFailed(_("This deal already has its order."),
                                   details={"order": [_("This deal already has its order.")]},
                                   code="invalid_transition")
        lines = list(deal.lines.select_related("product"))
        if not lines:
            raise ValidationFailed(details={"lines": [
                _("Add the deal's products before making its order.")]})
        order = hooks.make_order(actor=actor, deal=deal, lines=lines)
        before = deal_snapshot(deal)
        deal.order_id = order.pk
        deal.save(update_fields=["order", "updated_at"])
        record_change(actor=actor, action="deal.update", event="deal.updated",
                      object_type="deal", object_id=deal.pk, object_repr=deal.title,
                      customer_id=deal.customer_id, changes=diff(before, deal_snapshot(deal)))
    return order

