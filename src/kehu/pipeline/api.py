"""API of the pipeline: pipelines, deals (board, moves, order) and quotes. Contracts,
payments, invoices, targets and the forecast are in api_contracts (added to this router).
Thin: bounded schemas in, services and selectors, schemas out; domain errors become
{"code", "message", "details"} upstream."""


import datetime as dt
import re
from decimal import Decimal
from typing import Any, Literal

from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from kehu.accounts import selectors as accounts
from kehu.core.errors import ValidationFailed
from kehu.core.http import ERROR_RESPONSES, actor_of
from kehu.core.schemas import Day, Flag, Id, Input, Money, Page, Quantity
from kehu.customers.selectors import customer_get_plain
from kehu.pipeline import selectors, services
from kehu.pipeline.models import FORECAST_CATEGORIES, STAGE_KINDS, Deal, DealContact, Quote
from kehu.transactions.api import ProductLineIn, ProductLineOut

router = Router(tags=["pipeline"])

Percent = Field(..., ge=0, le=100)
Category = Literal[tuple(c for c, _l in FORECAST_CATEGORIES)]  # type: ignore[valid-type]
StageKind = Literal[tuple(c for c, _l in STAGE_KINDS)]  # type: ignore[valid-type]
Source = Literal[tuple(c for c, _l in Deal.SOURCES) + ("",)]  # type: ignore[valid-type]
DecisionRole = Literal[tuple(c for c, _l in DealContact._meta.get_field(  # type: ignore[valid-type]
    "decision_role").choices) + ("",)]
QuoteStatus = Literal[tuple(c for c, _l in Quote.STATUSES)]  # type: ignore[valid-type]
_MONTH = re.compile(r"^\d{4}-\d{2}$")


def user_named(request, username: str | None, field: str):
    """The active user with this username, or a validation error naming `field`."""
    if not username:
        return None
    user = accounts.user_list(user=request.user).filter(username=username).first()
    if user is None:
        raise ValidationFailed(details={field: [_("No such active user.")]})
    return user


def team_of(request, team_id: int | None, field: str = "team_id"):
    if not team_id:
        return None
    team = accounts.team_list(user=request.user).filter(pk=team_id).first()
    if team is None:
        raise ValidationFailed(details={field: [_("No such team.")]})
    return team


def month_of(text: str | None, field: str = "close_month") -> dt.date | None:
    if not text:
        return None
    if not _MONTH.match(text):
        raise ValidationFailed(details={field: [_("Give a month as YYYY-MM.")]})
    try:
        return dt.date(int(text[:4]), int(text[5:]), 1)
    except ValueError:
        raise ValidationFailed(details={field: [_("Give a month as YYYY-MM.")]}) from None


# Pipelines -----------------------------------------------------------------------------------


class StageIn(Input):
    id: Id | None = None
    name: str = Field(..., min_length=1, max_length=40)
    probability: int = Percent
    kind: StageKind = "open"
    forecast_category: Category = "pipeline"
    stalled_days: int = Field(14, ge=1, le=3650)


class PipelineIn(Input):
    name: str = Field(..., min_length=1, max_length=60)
    stages: list[StageIn] = Field(..., min_length=3, max_length=30)
    is_default: Flag = False


class PipelinePatch(PipelineIn):
    is_active: Flag = True


class StageOut(Schema):
    id: int
    name: str
    position: int
    probability: int
    kind: str
    forecast_category: str
    stalled_days: int


class PipelineOut(Schema):
    id: int
    name: str
    is_default: bool
    is_active: bool
    stages: list[StageOut]

    @staticmethod
    def resolve_stages(pipeline):
        return list(pipeline.stages.all())


@router.get("/pipelines", response=list[PipelineOut], summary="Pipelines and their stages")
def list_pipelines(request, include_inactive: Flag = False):
    return list(selectors.pipeline_list(request.user, include_inactive=include_inactive))


@router.get("/pipelines/{pipeline_id}", response={200: PipelineOut, **ERROR_RESPONSES},
            summary="One pipeline")
def get_pipeline(request, pipeline_id: Id):
    return selectors.pipeline_get(request.user, pipeline_id)


@router.post("/pipelines", response={201: PipelineOut, **ERROR_RESPONSES},
             summary="Add a pipeline with its stages")
def create_pipeline(request, payload: PipelineIn):
    pipeline = services.pipeline_create(actor=actor_of(request), name=payload.name,
                                        stages=[s.dict() for s in payload.stages],
                                        is_default=payload.is_default)
    return Status(201, selectors.pipeline_get(request.user, pipeline.pk))


@router.put("/pipelines/{pipeline_id}", response={200: PipelineOut, **ERROR_RESPONSES},
            summary="Rename a pipeline and set its stages (give a stage's id to keep it)")
def update_pipeline(request, pipeline_id: Id, payload: PipelinePatch):
    pipeline = selectors.pipeline_get(request.user, pipeline_id)
    services.pipeline_update(actor=actor_of(request), pipeline=pipeline, name=payload.name,
                             stages=[s.dict() for s in payload.stages],
                             is_default=payload.is_default, is_active=payload.is_active)
    return selectors.pipeline_get(request.user, pipeline_id)


# Deals ---------------------------------------------------------------------------------------


class DealContactIn(Input):
    person_id: Id
    decision_role: DecisionRole = ""


class DealIn(Input):
    customer_id: Id
    title: str = Field(..., min_length=1, max_length=200)
    amount: Money | None = Field(None, description="Default: the sum of the lines.")
    expected_close_date: Day
    pipeline_id: Id | None = Field(None, description="Default: the default pipeline.")
    stage_id: Id | None = Field(None, description="Default: the pipeline's first stage.")
    probability: int | None = Field(None, ge=0, le=100)
    forecast_category: Category | None = None
    owner: str | None = Field(None, description="Username; default the caller.")
    team_id: Id | None = None
    source: Source = ""
    competitor: str = Field("", max_length=100)
    next_step: str = Field("", max_length=200)
    contacts: list[DealContactIn] = Field([], max_length=50)
    lines: list[ProductLineIn] = Field([], max_length=200)


class DealPatch(Input):
    title: str | None = Field(None, min_length=1, max_length=200)
    amount: Money | None = None
    expected_close_date: Day | None = None
    probability: int | None = Field(None, ge=0, le=100)
    forecast_category: Category | None = None
    owner: str | None = None
    team_id: Id | None = None
    source: Source | None = None
    competitor: str | None = Field(None, max_length=100)
    next_step: str | None = Field(None, max_length=200)
    contacts: list[DealContactIn] | None = Field(None, max_length=50)
    lines: list[ProductLineIn] | None = Field(None, max_length=200)


class MoveIn(Input):
    stage_id: Id
    lost_reason: str = Field("", max_length=300)


class StayOut(Schema):
    stage_id: int
    stage: str
    entered_at: dt.datetime
    exited_at: dt.datetime | None

    @staticmethod
    def resolve_stage(stay):
        return stay.stage.name


class DealOut(Schema):
    id: int
    title: str
    customer_id: int
    customer_name: str
    pipeline_id: int
    stage_id: int
    stage: str
    status: str
    amount: Decimal
    currency: str = "CNY"
    probability: int
    weighted_amount: Decimal
    forecast_category: str
    expected_close_date: dt.date
    owner: str | None
    team_id: int | None
    source: str
    competitor: str
    next_step: str
    lost_reason: str
    stage_entered_at: dt.datetime
    days_in_stage: int
    stalled: bool
    closed_at: dt.datetime | None
    order_id: int | None

    @staticmethod
    def resolve_customer_name(deal):
        return deal.customer.name

    @staticmethod
    def resolve_stage(deal):
        return deal.stage.name

    @staticmethod
    def resolve_owner(deal):
        return deal.owner.username if deal.owner_id else None

    @staticmethod
    def resolve_weighted_amount(deal):
        from kehu.pipeline.money import weighted

        return weighted(deal.amount, deal.probability)

    @staticmethod
    def resolve_days_in_stage(deal):
        return selectors.days_in_stage(deal.stage_entered_at)

    @staticmethod
    def resolve_stalled(deal):
        return deal.status == "open" and selectors.days_in_stage(
            deal.stage_entered_at) >= deal.stage.stalled_days


class DealContactOut(Schema):
    person_id: int
    name: str
    title: str
    decision_role: str
    mobile: str | None = Field(None, description="Masked or hidden as your role says.")


class DealDetailOut(DealOut):
    contacts: list[DealContactOut]
    lines: list[ProductLineOut]
    stage_history: list[StayOut]

    @staticmethod
    def resolve_contacts(deal):
        return deal.presented_contacts

    @staticmethod
    def resolve_lines(deal):
        return list(deal.lines.all())

    @staticmethod
    def resolve_stage_history(deal):
        return list(deal.stage_history.all())


def _detail(request, deal_id: int):
    """The deal with its contacts presented for the caller (masked as their role says)."""
    deal = selectors.deal_get(request.user, deal_id)
    deal.presented_contacts = [selectors.contact_present(request.user, c)
                               for c in deal.contacts.all()]
    return deal


class DealFilters(Schema):
    pipeline_id: Id | None = None
    stage_id: Id | None = None
    status: StageKind | None = None
    owner: str | None = Field(None, description="Username")
    team_id: Id | None = None
    close_month: str | None = Field(None, description="YYYY-MM")
    customer_id: Id | None = None
    search: str = Field("", max_length=100)
    stalled: Flag = False
    reached_stage_id: Id | None = Field(None, description="Deals that reached this stage or "
                                                          "a later one (lost stages excluded)")
    created_from: dt.date | None = Field(None, description="Opened on or after (YYYY-MM-DD)")
    created_to: dt.date | None = Field(None, description="Opened on or before (YYYY-MM-DD)")


def _deal_filters(request, filters: DealFilters) -> dict[str, Any]:
    owner = user_named(request, filters.owner, "owner")
    return {"pipeline_id": filters.pipeline_id, "stage_id": filters.stage_id,
            "status": filters.status or "", "owner_id": owner.pk if owner else None,
            "team_id": filters.team_id, "close_month": month_of(filters.close_month),
            "customer_id": filters.customer_id, "search": filters.search,
            "stalled": filters.stalled, "reached_stage_id": filters.reached_stage_id,
            "created_from": filters.created_from, "created_to": filters.created_to}


@router.get("/deals", response=list[DealOut], summary="Deals in your scope, by close date")
@paginate(Page)
def list_deals(request, filters: Query[DealFilters]):
    return selectors.deal_list(request.user, **_deal_filters(request, filters))


@router.get("/deals/{deal_id}", response={200: DealDetailOut, **ERROR_RESPONSES},
            summary="One deal with contacts, lines and stage history")
def get_deal(request, deal_id: Id):
    return _detail(request, deal_id)


def _people(payload_contacts):
    return [{"person": c.person_id, "decision_role": c.decision_role} for c in payload_contacts]


def _lines(payload_lines):
    return [{"product": line.product_id, "quantity": line.quantity,
             "unit_price": line.unit_price} for line in payload_lines]


@router.post("/deals", response={201: DealDetailOut, **ERROR_RESPONSES}, summary="Open a deal")
def create_deal(request, payload: DealIn):
    customer = customer_get_plain(user=request.user, customer_id=payload.customer_id)
    pipeline = (selectors.pipeline_get(request.user, payload.pipeline_id)
                if payload.pipeline_id else None)
    stage = None
    if payload.stage_id:
        if pipeline is None:
            pipeline = selectors.pipeline_get(request.user)
        stage = selectors.stage_get(request.user, pipeline, payload.stage_id)
    deal = services.deal_create(
        actor=actor_of(request), customer=customer, title=payload.title, amount=payload.amount,
        expected_close_date=payload.expected_close_date, pipeline=pipeline, stage=stage,
        probability=payload.probability, forecast_category=payload.forecast_category,
        owner=user_named(request, payload.owner, "owner"), team=team_of(request, payload.team_id),
        source=payload.source, competitor=payload.competitor, next_step=payload.next_step,
        contacts=_people(payload.contacts), lines=_lines(payload.lines))
    return Status(201, _detail(request, deal.pk))


@router.patch("/deals/{deal_id}", response={200: DealDetailOut, **ERROR_RESPONSES},
              summary="Change a deal (the stage moves through /move)")
def update_deal(request, deal_id: Id, payload: DealPatch):
    deal = selectors.deal_get(request.user, deal_id)
    given = payload.dict(exclude_unset=True)
    changes: dict[str, Any] = {}
    for name, value in given.items():
        if name == "owner":
            changes["owner"] = user_named(request, value, "owner")
        elif name == "team_id":
            changes["team"] = team_of(request, value)
        elif name == "contacts":
            changes["contacts"] = _people(payload.contacts or [])
        elif name == "lines":
            changes["lines"] = _lines(payload.lines or [])
        elif value is not None:
            changes[name] = value
    services.deal_update(actor=actor_of(request), deal=deal, changes=changes)
    return _detail(request, deal_id)


@router.post("/deals/{deal_id}/move", response={200: DealDetailOut, **ERROR_RESPONSES},
             summary="Move a deal to another stage (lost needs lost_reason)")
def move_deal(request, deal_id: Id, payload: MoveIn):
    deal = selectors.deal_get(request.user, deal_id)
    stage = selectors.stage_get(request.user, deal.pipeline, payload.stage_id)
    services.deal_move(actor=actor_of(request), deal=deal, stage=stage,
                       lost_reason=payload.lost_reason)
    return _detail(request, deal_id)


class OrderRefOut(Schema):
    order_id: int
    number: str


@router.post("/deals/{deal_id}/order", response={201: OrderRefOut, **ERROR_RESPONSES},
             summary="Make the order of a won deal from its lines")
def order_from_deal(request, deal_id: Id):
    deal = selectors.deal_get(request.user, deal_id)
    order = services.deal_create_order(actor=actor_of(request), deal=deal)
    return Status(201, {"order_id": order.pk, "number": order.number})


class BoardCardOut(Schema):
    id: int
    title: str
    customer_name: str
    amount: Decimal
    probability: int
    expected_close_date: dt.date
    owner: str
    days_in_stage: int
    stalled: bool


class BoardColumnOut(Schema):
    stage: StageOut
    count: int
    amount: Decimal
    weighted: Decimal
    deals: list[BoardCardOut]
    more: bool


class BoardFilters(Schema):
    owner: str | None = None
    team_id: Id | None = None
    close_month: str | None = Field(None, description="YYYY-MM")
    per_stage: int = Field(30, ge=0, le=200)


@router.get("/pipelines/{pipeline_id}/board", response={200: list[BoardColumnOut],
                                                        **ERROR_RESPONSES},
            summary="The kanban: per stage count, amount, weighted amount and first deals")
def get_board(request, pipeline_id: Id, filters: Query[BoardFilters]):
    pipeline = selectors.pipeline_get(request.user, pipeline_id)
    owner = user_named(request, filters.owner, "owner")
    columns = selectors.board(request.user, pipeline, owner_id=owner.pk if owner else None,
                              team_id=filters.team_id,
                              close_month=month_of(filters.close_month),
                              per_stage=filters.per_stage)
    return [{"stage": c.stage, "count": c.count, "amount": c.amount, "weighted": c.weighted,
             "deals": [{**d, "customer_name": d["customer__name"]} for d in c.deals],
             "more": c.more} for c in columns]


# Quotes --------------------------------------------------------------------------------------


class QuoteLineIn(Input):
    product_id: Id
    quantity: Quantity = Decimal("1")
    unit_price: Money | None = Field(None, description="Before tax; default the list price.")
    discount: Decimal = Field(Decimal("0"), ge=0, le=100, max_digits=5, decimal_places=2,
                              description="Percent")
    tax_rate: Literal["13%", "9%", "6%", "0%"] = "13%"
    description: str = Field("", max_length=200)


class QuoteIn(Input):
    deal_id: Id
    valid_until: Day
    lines: list[QuoteLineIn] = Field(..., min_length=1, max_length=200)
    notes: str = Field("", max_length=2000)


class QuotePatch(Input):
    valid_until: Day
    lines: list[QuoteLineIn] = Field(..., min_length=1, max_length=200)
    notes: str = Field("", max_length=2000)


class ReviseIn(Input):
    valid_until: Day | None = None


class QuoteLineOut(Schema):
    product_id: int
    sku: str
    description: str
    quantity: Decimal
    unit_price: Decimal
    discount: Decimal
    tax_rate: str
    net_amount: Decimal
    tax_amount: Decimal
    gross_amount: Decimal

    @staticmethod
    def resolve_sku(line):
        return line.product.sku

    @staticmethod
    def resolve_tax_rate(line):
        return f"{int(line.tax_rate * 100)}%"


class QuoteOut(Schema):
    id: int
    number: str
    version: int
    deal_id: int
    customer_name: str
    status: str
    valid_until: dt.date
    notes: str
    subtotal: Decimal
    tax_total: Decimal
    total: Decimal
    currency: str = "CNY"
    sent_at: dt.datetime | None
    decided_at: dt.datetime | None
    created_at: dt.datetime

    @staticmethod
    def resolve_customer_name(quote):
        return quote.deal.customer.name


class QuoteDetailOut(QuoteOut):
    lines: list[QuoteLineOut]

    @staticmethod
    def resolve_lines(quote):
        return list(quote.lines.all())


def _quote_lines(lines: list[QuoteLineIn]) -> list[dict[str, Any]]:
    return [{"product": line.product_id, "quantity": line.quantity,
             "unit_price": line.unit_price, "discount": line.discount,
             "tax_rate": line.tax_rate, "description": line.description} for line in lines]


@router.get("/quotes", response=list[QuoteOut], summary="Quotes in your scope, newest first")
@paginate(Page)
def list_quotes(request, deal_id: Id | None = None, status: QuoteStatus | None = None):
    return selectors.quote_list(request.user, deal_id=deal_id, status=status or "")


@router.get("/quotes/{quote_id}", response={200: QuoteDetailOut, **ERROR_RESPONSES},
            summary="One quote with its lines and totals")
def get_quote(request, quote_id: Id):
    return selectors.quote_get(request.user, quote_id)


@router.post("/quotes", response={201: QuoteDetailOut, **ERROR_RESPONSES},
             summary="A draft quote for a deal")
def create_quote(request, payload: QuoteIn):
    deal = selectors.deal_get(request.user, payload.deal_id)
    quote = services.quote_create(actor=actor_of(request), deal=deal,
                                  lines=_quote_lines(payload.lines),
                                  valid_until=payload.valid_until, notes=payload.notes)
    return Status(201, selectors.quote_get(request.user, quote.pk))


@router.put("/quotes/{quote_id}", response={200: QuoteDetailOut, **ERROR_RESPONSES},
            summary="Replace a draft's lines, validity and notes")
def update_quote(request, quote_id: Id, payload: QuotePatch):
    quote = selectors.quote_get(request.user, quote_id)
    services.quote_update(actor=actor_of(request), quote=quote,
                          lines=_quote_lines(payload.lines), valid_until=payload.valid_until,
                          notes=payload.notes)
    return selectors.quote_get(request.user, quote_id)


@router.post("/quotes/{quote_id}/revise", response={201: QuoteDetailOut, **ERROR_RESPONSES},
             summary="A new draft version of the quote")
def revise_quote(request, quote_id: Id, payload: ReviseIn):
    quote = selectors.quote_get(request.user, quote_id)
    new = services.quote_revise(actor=actor_of(request), quote=quote,
                                valid_until=payload.valid_until)
    return Status(201, selectors.quote_get(request.user, new.pk))


def _quote_action(name: str, service, summary: str):
    @router.post(f"/quotes/{{quote_id}}/{name}", response={200: QuoteDetailOut,
                                                          **ERROR_RESPONSES},
                 summary=summary, operation_id=f"quote_{name}")
    def handler(request, quote_id: Id):
        quote = selectors.quote_get(request.user, quote_id)
        service(actor=actor_of(request), quote=quote)
        return selectors.quote_get(request.user, quote_id)

    return handler


send_quote = _quote_action("send", services.quote_send, "Mark a draft as sent")
accept_quote = _quote_action("accept", services.quote_accept, "The customer accepted it")
reject_quote = _quote_action("reject", services.quote_reject, "The customer rejected it")
expire_quote = _quote_action("expire", services.quote_expire, "Mark it expired")


from kehu.pipeline.api_contracts import router as contracts_router  # noqa: E402

router.add_router("", contracts_router)
