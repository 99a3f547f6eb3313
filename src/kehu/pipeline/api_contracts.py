"""API of the pipeline, part two: contracts (status, plan, attachments), payments, aging,
invoice requests, targets, forecast and attainment."""


import datetime as dt
from decimal import Decimal
from typing import Literal

from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, File, Query, Router, Schema, Status
from ninja.files import UploadedFile
from ninja.pagination import paginate

from kehu.core.http import ERROR_RESPONSES, actor_of
from kehu.core.schemas import Day, Flag, Id, Input, Money, Page
from kehu.customers.selectors import customer_get_plain
from kehu.pipeline import selectors, services
from kehu.pipeline.models import Contract, InvoiceRequest, Payment

router = Router(tags=["pipeline"])

ContractStatus = Literal[tuple(c for c, _l in Contract.STATUSES)]  # type: ignore[valid-type]
PaymentMethod = Literal[tuple(c for c, _l in Payment.METHODS)]  # type: ignore[valid-type]
InvoiceStatus = Literal[tuple(c for c, _l in InvoiceRequest.STATUSES)]  # type: ignore[valid-type]
InvoiceKind = Literal[tuple(c for c, _l in InvoiceRequest.KINDS)]  # type: ignore[valid-type]
PeriodKind = Literal["month", "quarter"]


def _helpers():
    from kehu.pipeline.api import team_of, user_named

    return user_named, team_of


# Contracts -----------------------------------------------------------------------------------


class ContractIn(Input):
    title: str = Field(..., min_length=1, max_length=200)
    start_date: Day
    end_date: Day
    quote_id: Id | None = Field(None, description="An accepted quote: customer, deal and "
                                                  "amount come from it.")
    deal_id: Id | None = None
    customer_id: Id | None = None
    amount: Money | None = None
    number: str = Field("", max_length=40, description="Generated when empty.")
    party_a: str = Field("", max_length=200)
    party_b: str = Field("", max_length=200)
    renewal_reminder_days: int = Field(30, ge=0, le=365)
    owner: str | None = None
    team_id: Id | None = None


class ContractPatch(Input):
    number: str | None = Field(None, min_length=1, max_length=40)
    title: str | None = Field(None, min_length=1, max_length=200)
    party_a: str | None = Field(None, min_length=1, max_length=200)
    party_b: str | None = Field(None, min_length=1, max_length=200)
    amount: Money | None = None
    start_date: Day | None = None
    end_date: Day | None = None
    renewal_reminder_days: int | None = Field(None, ge=0, le=365)


class ContractStatusIn(Input):
    status: ContractStatus
    signed_date: Day | None = None


class InstalmentIn(Input):
    due_date: Day
    amount: Money


class PlanIn(Input):
    instalments: list[InstalmentIn] = Field(..., min_length=1, max_length=120)


class InstalmentOut(Schema):
    id: int
    sequence: int
    due_date: dt.date
    amount: Decimal
    paid_amount: Decimal
    outstanding: Decimal
    overdue: bool
    overdue_since: dt.date | None

    @staticmethod
    def resolve_overdue(item):
        return item.outstanding > 0 and item.due_date < timezone.localdate()


class AttachmentOut(Schema):
    id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    created_at: dt.datetime


class ContractOut(Schema):
    id: int
    number: str
    title: str
    customer_id: int
    customer_name: str
    deal_id: int | None
    quote_id: int | None
    party_a: str
    party_b: str
    amount: Decimal
    currency: str = "CNY"
    start_date: dt.date
    end_date: dt.date
    signed_date: dt.date | None
    status: str
    renewal_reminder_days: int
    owner: str | None
    team_id: int | None

    @staticmethod
    def resolve_customer_name(contract):
        return contract.customer.name

    @staticmethod
    def resolve_owner(contract):
        return contract.owner.username if contract.owner_id else None


class ContractDetailOut(ContractOut):
    instalments: list[InstalmentOut]
    attachments: list[AttachmentOut]
    paid_amount: Decimal

    @staticmethod
    def resolve_instalments(contract):
        return list(contract.instalments.all())

    @staticmethod
    def resolve_attachments(contract):
        return list(contract.attachments.all())

    @staticmethod
    def resolve_paid_amount(contract):
        return sum((p.amount for p in contract.payments.all()), Decimal("0.00"))


@router.get("/contracts", response=list[ContractOut], summary="Contracts in your scope")
@paginate(Page)
def list_contracts(request, status: ContractStatus | None = None, customer_id: Id | None = None,
                   deal_id: Id | None = None, search: str = Query("", max_length=100)):
    return selectors.contract_list(request.user, status=status or "", customer_id=customer_id,
                                   deal_id=deal_id, search=search)


@router.get("/contracts/{contract_id}", response={200: ContractDetailOut, **ERROR_RESPONSES},
            summary="One contract with its plan and attachments")
def get_contract(request, contract_id: Id):
    return selectors.contract_get(request.user, contract_id)


@router.post("/contracts", response={201: ContractDetailOut, **ERROR_RESPONSES},
             summary="A draft contract, from an accepted quote or directly")
def create_contract(request, payload: ContractIn):
    user_named, team_of = _helpers()
    quote = selectors.quote_get(request.user, payload.quote_id) if payload.quote_id else None
    deal = selectors.deal_get(request.user, payload.deal_id) if payload.deal_id else None
    customer = (customer_get_plain(user=request.user, customer_id=payload.customer_id)
                if payload.customer_id else None)
    contract = services.contract_create(
        actor=actor_of(request), title=payload.title, start_date=payload.start_date,
        end_date=payload.end_date, customer=customer, deal=deal, quote=quote,
        amount=payload.amount, number=payload.number, party_a=payload.party_a,
        party_b=payload.party_b, renewal_reminder_days=payload.renewal_reminder_days,
        owner=user_named(request, payload.owner, "owner"), team=team_of(request, payload.team_id))
    return Status(201, selectors.contract_get(request.user, contract.pk))


@router.patch("/contracts/{contract_id}", response={200: ContractDetailOut, **ERROR_RESPONSES},
              summary="Change a draft contract's terms")
def update_contract(request, contract_id: Id, payload: ContractPatch):
    contract = selectors.contract_get(request.user, contract_id)
    changes = {k: v for k, v in payload.dict(exclude_unset=True).items() if v is not None}
    services.contract_update(actor=actor_of(request), contract=contract, changes=changes)
    return selectors.contract_get(request.user, contract_id)


@router.post("/contracts/{contract_id}/status", response={200: ContractDetailOut,
                                                         **ERROR_RESPONSES},
             summary="Move the contract's status (transitions enforced)")
def set_contract_status(request, contract_id: Id, payload: ContractStatusIn):
    contract = selectors.contract_get(request.user, contract_id)
    services.contract_set_status(actor=actor_of(request), contract=contract,
                                 status=payload.status, signed_date=payload.signed_date)
    return selectors.contract_get(request.user, contract_id)


@router.put("/contracts/{contract_id}/plan", response={200: ContractDetailOut,
                                                      **ERROR_RESPONSES},
            summary="Set the payment plan (instalments add up to the contract amount)")
def set_plan(request, contract_id: Id, payload: PlanIn):
    contract = selectors.contract_get(request.user, contract_id)
    services.payment_plan_set(actor=actor_of(request), contract=contract,
                              instalments=[i.dict() for i in payload.instalments])
    return selectors.contract_get(request.user, contract_id)


@router.post("/contracts/{contract_id}/attachments", response={201: AttachmentOut,
                                                              **ERROR_RESPONSES},
             summary="Attach a file (stored encrypted)")
def attach(request, contract_id: Id, file: File[UploadedFile]):
    contract = selectors.contract_get(request.user, contract_id)
    return Status(201, services.contract_attach(
        actor=actor_of(request), contract=contract, file=file, filename=file.name or "",
        content_type=file.content_type or ""))


@router.get("/contracts/{contract_id}/attachments/{attachment_id}",
            response={200: None, **ERROR_RESPONSES}, summary="Download an attachment")
def download(request, contract_id: Id, attachment_id: Id):
    contract = selectors.contract_get(request.user, contract_id)
    attachment = selectors.attachment_get(request.user, contract, attachment_id)
    return attachment_response(attachment)


def attachment_response(attachment) -> HttpResponse:
    from urllib.parse import quote

    response = HttpResponse(selectors.attachment_content(attachment),
                            content_type=attachment.content_type or "application/octet-stream")
    response["Content-Disposition"] = ("attachment; filename*=UTF-8''"
                                       + quote(attachment.filename))
    response["X-Content-Type-Options"] = "nosniff"
    return response


# Payments ------------------------------------------------------------------------------------


class PaymentIn(Input):
    contract_id: Id
    received_on: Day
    amount: Money
    method: PaymentMethod
    reference: str = Field("", max_length=100)
    instalment_id: Id | None = Field(None, description="Matched first; then oldest due.")


class AllocationOut(Schema):
    instalment_id: int
    sequence: int
    amount: Decimal

    @staticmethod
    def resolve_sequence(allocation):
        return allocation.instalment.sequence


class PaymentOut(Schema):
    id: int
    contract_id: int
    contract_number: str
    received_on: dt.date
    amount: Decimal
    method: str
    reference: str
    allocations: list[AllocationOut]

    @staticmethod
    def resolve_contract_number(payment):
        return payment.contract.number

    @staticmethod
    def resolve_allocations(payment):
        return list(payment.allocations.all())


@router.get("/payments", response=list[PaymentOut], summary="Payments received")
@paginate(Page)
def list_payments(request, contract_id: Id | None = None):
    return selectors.payment_list(request.user, contract_id=contract_id).prefetch_related(
        "allocations__instalment")


@router.post("/payments", response={201: PaymentOut, **ERROR_RESPONSES},
             summary="Record money received, matched to instalments")
def create_payment(request, payload: PaymentIn):
    contract = selectors.contract_get(request.user, payload.contract_id)
    instalment = None
    if payload.instalment_id:
        instalment = next((i for i in contract.instalments.all()
                           if i.pk == payload.instalment_id), None)
        if instalment is None:
            from django.utils.translation import gettext as _

            from kehu.core.errors import ValidationFailed

            raise ValidationFailed(details={"instalment_id": [
                _("This instalment belongs to another contract.")]})
    payment = services.payment_record(
        actor=actor_of(request), contract=contract, received_on=payload.received_on,
        amount=payload.amount, method=payload.method, reference=payload.reference,
        instalment=instalment)
    return Status(201, selectors.payment_list(request.user).prefetch_related(
        "allocations__instalment").get(pk=payment.pk))


class OverdueOut(InstalmentOut):
    contract_id: int
    contract_number: str
    customer_name: str

    @staticmethod
    def resolve_contract_number(item):
        return item.contract.number

    @staticmethod
    def resolve_customer_name(item):
        return item.contract.customer.name


@router.get("/instalments", response=list[OverdueOut], summary="Instalments by due date")
@paginate(Page)
def list_instalments(request, contract_id: Id | None = None, overdue: Flag | None = None):
    return selectors.instalment_list(request.user, contract_id=contract_id, overdue=overdue)


class AgingRowOut(Schema):
    customer_id: int
    customer_name: str
    current: Decimal
    d1_30: Decimal
    d31_60: Decimal
    d61_90: Decimal
    d91_plus: Decimal
    total: Decimal


class AgingTotalsOut(Schema):
    current: Decimal
    d1_30: Decimal
    d31_60: Decimal
    d61_90: Decimal
    d91_plus: Decimal
    total: Decimal


class AgingOut(Schema):
    today: dt.date
    customers: list[AgingRowOut]
    totals: AgingTotalsOut


@router.get("/receivables/aging", response={200: AgingOut, **ERROR_RESPONSES},
            summary="Outstanding instalments by days overdue: 1–30, 31–60, 61–90, 91+")
def aging(request, today: Day | None = None):
    return selectors.aging_report(request.user, today=today)


# Invoice requests ------------------------------------------------------------------------------


class InvoiceIn(Input):
    contract_id: Id
    amount: Money
    kind: InvoiceKind = "special"
    buyer_name: str = Field("", max_length=200)
    buyer_tax_number: str = Field("", max_length=20)


class InvoiceStatusIn(Input):
    status: InvoiceStatus
    invoice_number: str = Field("", max_length=40)


class InvoiceOut(Schema):
    id: int
    contract_id: int
    amount: Decimal
    kind: str
    buyer_name: str
    buyer_tax_number: str
    status: str
    invoice_number: str
    created_at: dt.datetime


@router.get("/invoice-requests", response=list[InvoiceOut], summary="Invoice requests")
@paginate(Page)
def list_invoices(request, status: InvoiceStatus | None = None, contract_id: Id | None = None):
    return selectors.invoice_request_list(request.user, status=status or "",
                                          contract_id=contract_id)


@router.post("/invoice-requests", response={201: InvoiceOut, **ERROR_RESPONSES},
             summary="Request an invoice (开票申请)")
def create_invoice(request, payload: InvoiceIn):
    contract = selectors.contract_get(request.user, payload.contract_id)
    return Status(201, services.invoice_request_create(
        actor=actor_of(request), contract=contract, amount=payload.amount, kind=payload.kind,
        buyer_name=payload.buyer_name, buyer_tax_number=payload.buyer_tax_number))


@router.post("/invoice-requests/{request_id}/status", response={200: InvoiceOut,
                                                               **ERROR_RESPONSES},
             summary="Approve, reject or mark issued")
def set_invoice_status(request, request_id: Id, payload: InvoiceStatusIn):
    row = selectors.invoice_request_get(request.user, request_id)
    return services.invoice_request_set_status(actor=actor_of(request), request=row,
                                               status=payload.status,
                                               invoice_number=payload.invoice_number)


# Targets and forecast ----------------------------------------------------------------------------


class TargetIn(Input):
    user: str | None = Field(None, description="Username (or team_id)")
    team_id: Id | None = None
    period_kind: PeriodKind
    year: int = Field(..., ge=2000, le=2100)
    period: int = Field(..., ge=1, le=12)
    amount: Money


class TargetOut(Schema):
    id: int
    user: str | None
    team_id: int | None
    period_kind: str
    year: int
    period: int
    amount: Decimal

    @staticmethod
    def resolve_user(target):
        return target.user.username if target.user_id else None


@router.get("/targets", response=list[TargetOut], summary="Targets in your scope")
@paginate(Page)
def list_targets(request, year: int | None = Query(None, ge=2000, le=2100)):
    return selectors.target_list(request.user, year=year)


@router.put("/targets", response={200: TargetOut, **ERROR_RESPONSES},
            summary="Set a user's or a team's target for a month or quarter")
def set_target(request, payload: TargetIn):
    user_named, team_of = _helpers()
    return services.target_set(actor=actor_of(request), period_kind=payload.period_kind,
                               year=payload.year, period=payload.period, amount=payload.amount,
                               user=user_named(request, payload.user, "user"),
                               team=team_of(request, payload.team_id))


class ForecastMonthOut(Schema):
    month: str
    commit: Decimal
    best_case: Decimal
    pipeline: Decimal
    won: Decimal
    open_count: int
    open_amount: Decimal


class ForecastQuery(Schema):
    first: str | None = Field(None, description="YYYY-MM; default this month")
    months: int = Field(3, ge=1, le=24)
    owner: str | None = None
    team_id: Id | None = None


@router.get("/forecast", response={200: list[ForecastMonthOut], **ERROR_RESPONSES},
            summary="Forecast by close month: commit, best case, pipeline (Σ amount × "
                    "probability) and won")
def get_forecast(request, query: Query[ForecastQuery]):
    from kehu.pipeline.api import month_of

    user_named, _team_of = _helpers()
    owner = user_named(request, query.owner, "owner")
    rows = selectors.forecast(request.user, first=month_of(query.first, "first"),
                              months=query.months, owner_id=owner.pk if owner else None,
                              team_id=query.team_id)
    return [{**{k: getattr(r, k) for k in ("commit", "best_case", "pipeline", "won",
                                           "open_count", "open_amount")},
             "month": r.month.strftime("%Y-%m")} for r in rows]


class AttainmentOut(Schema):
    period_kind: str
    year: int
    period: int
    target: Decimal | None
    won: Decimal
    signed: Decimal
    collected: Decimal
    rate: float | None
    collected_rate: float | None


@router.get("/attainment", response={200: AttainmentOut, **ERROR_RESPONSES},
            summary="Won, signed and collected against a user's or team's target")
def get_attainment(request, period_kind: PeriodKind, year: int = Query(..., ge=2000, le=2100),
                   period: int = Query(..., ge=1, le=12), owner: str | None = None,
                   team_id: Id | None = None):
    user_named, _team_of = _helpers()
    who = user_named(request, owner, "owner")
    result = selectors.attainment(request.user, period_kind=period_kind, year=year,
                                  period=period, owner_id=who.pk if who else None,
                                  team_id=team_id)
    return {**result.__dict__, "rate": result.rate, "collected_rate": result.collected_rate}


class AccuracyOut(Schema):
    taken_on: dt.date
    commit: Decimal
    best_case: Decimal
    pipeline: Decimal
    actual: Decimal
    error: Decimal


@router.get("/forecast/accuracy", response={200: list[AccuracyOut], **ERROR_RESPONSES},
            summary="Weekly snapshots' forecast of a close month against what was won")
def get_accuracy(request, close_month: str, owner: str | None = None, team_id: Id | None = None):
    from kehu.pipeline.api import month_of

    user_named, _team_of = _helpers()
    who = user_named(request, owner, "owner")
    month = month_of(close_month)
    if month is None:
        from kehu.core.errors import ValidationFailed

        raise ValidationFailed(details={"close_month": [_("Give a month as YYYY-MM.")]})
    return selectors.forecast_accuracy(request.user, close_month=month,
                                       owner_id=who.pk if who else None, team_id=team_id)

