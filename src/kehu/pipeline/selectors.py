"""Every read of the pipeline, scoped by the acting user's AccessPolicy.

Deals and contracts carry their own owner and team and are restricted exactly as customers
are (own / team and sub-teams / all); quotes follow their deal, instalments, payments and
invoice requests their contract. Reading needs customer.view; a record outside the scope
looks exactly like one that does not exist. Contacts' phone numbers are presented through
the policy (masked or hidden as the role says)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, Max, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from kehu.accounts.models import Team
from kehu.core.crypto import decrypt_bytes
from kehu.core.errors import NotFound
from kehu.customers.models import Customer
from kehu.pipeline.forecast import (
    MonthForecast,
    add_months,
    forecast_months,
    month_start,
    period_bounds,
    won_between,
)
from kehu.pipeline.models import (
    LOST,
    OPEN,
    Contract,
    ContractAttachment,
    Deal,
    DealContact,
    DealLine,
    DealStageHistory,
    ForecastSnapshot,
    Instalment,
    InvoiceRequest,
    Payment,
    Pipeline,
    Quote,
    QuoteLine,
    Stage,
    Target,
)
from kehu.pipeline.money import money

ZERO = Decimal("0.00")
BOARD_PAGE = 30


def _scoped(user, queryset: QuerySet, prefix: str = "") -> QuerySet:
    user.access.require("customer.view")
    return user.access.restrict(queryset, owner_field=f"{prefix}owner", team_field=f"{prefix}team")


def team_subtree(team_id: int) -> list[int]:
    """A team and every team under it."""
    parents = dict(Team.objects.values_list("id", "parent_id"))
    found, stack = set(), [team_id]
    while stack:
        current = stack.pop()
        if current in found:
            continue
        found.add(current)
        stack.extend(t for t, p in parents.items() if p == current)
    return sorted(found)


# Pipelines -----------------------------------------------------------------------------------


def pipeline_list(user, *, include_inactive: bool = False) -> QuerySet[Pipeline]:
    user.access.require("customer.view")
    rows = Pipeline.objects.prefetch_related(Prefetch("stages",
                                                      queryset=Stage.objects.order_by("position")))
    return rows if include_inactive else rows.filter(is_active=True)


def pipeline_get(user, pipeline_id: int | None = None) -> Pipeline:
    """A pipeline by id, or the default one; NotFound when there is none."""
    rows = pipeline_list(user, include_inactive=pipeline_id is not None)
    found = rows.filter(pk=pipeline_id).first() if pipeline_id else (
        rows.filter(is_default=True).first() or rows.first())
    if found is None:
        raise NotFound()
    return found


def stage_get(user, pipeline: Pipeline, stage_id: int) -> Stage:
    user.access.require("customer.view")
    stage = Stage.objects.filter(pk=stage_id, pipeline_id=pipeline.pk).first()
    if stage is None:
        raise NotFound()
    return stage


# Deals -----------------------------------------------------------------------------------------


def deal_queryset(user) -> QuerySet[Deal]:
    return _scoped(user, Deal.objects.all())


def reached_position() -> Subquery:
    """The furthest stage a deal has been in (its highest stage position among its stays,
    lost stages left out): the one definition of "reached a stage" behind the funnel board and
    the deal list's `reached_stage` filter."""
    stays = (DealStageHistory.objects.filter(deal_id=OuterRef("pk")).exclude(stage__kind=LOST)
             .order_by().values("deal_id").annotate(top=Max("stage__position")).values("top"))
    return Subquery(stays)


def deals_reached(deals: QuerySet[Deal], stage: Stage) -> QuerySet[Deal]:
    """The deals (of the stage's pipeline) that reached `stage` or a later one."""
    return (deals.filter(pipeline_id=stage.pipeline_id).annotate(reached=reached_position())
            .filter(reached__gte=stage.position))


def deal_list(user, *, pipeline_id: int | None = None, stage_id: int | None = None,
              status: str = "", owner_id: int | None = None, team_id: int | None = None,
              close_month: dt.date | None = None, customer_id: int | None = None,
              search: str = "", stalled: bool = False, reached_stage_id: int | None = None,
              created_from: dt.date | None = None, created_to: dt.date | None = None
              ) -> QuerySet[Deal]:
    """Deals in the user's scope, by expected close date. `reached_stage_id`: deals that got
    at least as far as that stage (the funnel's drill-down); `created_from`/`created_to`:
    opened in those days (inclusive)."""
    deals = deal_queryset(user).select_related("customer", "stage", "pipeline", "owner", "team")
    if reached_stage_id:
        stage = Stage.objects.filter(pk=reached_stage_id).exclude(kind=LOST).first()
        deals = deals_reached(deals, stage) if stage is not None else deals.none()
    if created_from:
        deals = deals.filter(created_at__gte=_day_start(created_from))
    if created_to:
        deals = deals.filter(created_at__lt=_day_start(created_to + dt.timedelta(days=1)))
    if pipeline_id:
        deals = deals.filter(pipeline_id=pipeline_id)
    if stage_id:
        deals = deals.filter(stage_id=stage_id)
    if status:
        deals = deals.filter(status=status)
    if owner_id:
        deals = deals.filter(owner_id=owner_id)
    if team_id:
        deals = deals.filter(team_id__in=team_subtree(team_id))
    if close_month:
        first = month_start(close_month)
        deals = deals.filter(expected_close_date__gte=first,
                             expected_close_date__lt=add_months(first, 1))
    if customer_id:
        deals = deals.filter(customer_id=customer_id)
    if search:
        deals = deals.filter(Q(title__icontains=search) | Q(customer__name__icontains=search))
    if stalled:
        ids = [d["id"] for d in deals.filter(status=OPEN).values(
            "id", "stage_entered_at", "stage__stalled_days") if is_stalled(d)]
        deals = deals.filter(pk__in=ids)
    return deals.order_by("expected_close_date", "id")


def stage_stays(deals: QuerySet[Deal], *, limit: int) -> list[tuple[int, float]]:
    """(stage id, days spent) of the latest `limit` finished stays of these deals in a stage."""
    rows = (DealStageHistory.objects.filter(deal__in=deals.values("pk"), exited_at__isnull=False)
            .order_by("-exited_at", "-pk").values_list("stage_id", "entered_at", "exited_at")
            [:limit])
    return [(stage, max(0.0, (left - began).total_seconds() / 86400))
            for stage, began, left in rows]


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def filter_people(user) -> tuple[list, list[Team]]:
    """The owners and teams the board's and list's filters offer: the user, and the people in
    the user's scope who own deals (one index probe per person); the teams in scope. A whole
    directory of thousands would make every page heavy."""
    from django.db.models import Exists, OuterRef

    from kehu.accounts.models import User

    access = user.access
    people = User.objects.filter(is_active=True)
    teams = Team.objects.order_by("name")
    if access.scope != "all":
        in_scope = sorted(access.team_ids) if access.scope == "team" else []
        people = people.filter(Q(pk=user.pk) | Q(team_id__in=in_scope))
        teams = teams.filter(pk__in=in_scope or ([user.team_id] if user.team_id else []))
    people = people.filter(Q(pk=user.pk) | Exists(Deal.objects.filter(owner_id=OuterRef("pk"))))
    return list(people.order_by("username")), list(teams)


def days_in_stage(entered: dt.datetime, now: dt.datetime | None = None) -> int:
    return max(0, ((now or timezone.now()) - entered).days)


def is_stalled(row: dict[str, Any], now: dt.datetime | None = None) -> bool:
    return days_in_stage(row["stage_entered_at"], now) >= row["stage__stalled_days"]


def deal_get(user, deal_id: int) -> Deal:
    """One deal with its contacts, lines and stage history."""
    deal = (deal_list(user).filter(pk=deal_id).prefetch_related(
        Prefetch("contacts", queryset=DealContact.objects.select_related("person")),
        Prefetch("lines", queryset=DealLine.objects.select_related("product")),
        Prefetch("stage_history", queryset=DealStageHistory.objects.select_related(
            "stage", "moved_by").order_by("entered_at", "id"))).first())
    if deal is None:
        raise NotFound()
    return deal


def contact_present(user, contact: DealContact) -> dict[str, Any]:
    """A deal contact as the user may see it: name, role, and the mobile masked or hidden
    by the role's field permissions."""
    person = contact.person
    return {"person_id": person.pk, "name": person.name, "title": person.title,
            "decision_role": contact.decision_role,
            "mobile": user.access.present("customer.mobile", person.primary_mobile) or None}


def customer_contacts(user, customer: Customer) -> list[Customer]:
    """The people a deal of `customer` may name: its contacts, or the person themself."""
    from kehu.customers.models import ContactLink

    user.access.require("customer.view")
    ids = list(ContactLink.objects.filter(organisation_id=customer.pk)
               .values_list("person_id", flat=True))
    return list(Customer.objects.filter(pk__in=[*ids, customer.pk]).order_by("name"))


def product_choices(user, limit: int = 500) -> list:
    """Active catalogue products for deal and quote lines (catalogue data; customer.view)."""
    from kehu.pipeline.models import DealLine

    user.access.require("customer.view")
    product = DealLine._meta.get_field("product").related_model
    return list(product.objects.filter(is_active=True).order_by("sku")[:limit])


@dataclass
class BoardColumn:
    stage: Stage
    count: int = 0
    amount: Decimal = ZERO
    weighted: Decimal = ZERO
    deals: list[dict[str, Any]] = field(default_factory=list)
    more: bool = False


def _card_rows(queryset: QuerySet, now: dt.datetime) -> list[dict[str, Any]]:
    rows = list(queryset.values("id", "title", "amount", "probability", "expected_close_date",
                                "stage_entered_at", "stage__stalled_days", "customer__name",
                                "owner__display_name", "owner__username", "status",
                                "stage_id"))
    for row in rows:
        row["days_in_stage"] = days_in_stage(row["stage_entered_at"], now)
        row["stalled"] = row["status"] == OPEN and row["days_in_stage"] >= row[
            "stage__stalled_days"]
        row["owner"] = row["owner__display_name"] or row["owner__username"] or ""
    return rows


def board(user, pipeline: Pipeline, *, owner_id: int | None = None,
          team_id: int | None = None, close_month: dt.date | None = None,
          per_stage: int = BOARD_PAGE) -> list[BoardColumn]:
    """The kanban: every stage with its deal count, amount and weighted amount (one grouped
    query) and its first `per_stage` deals, soonest close first (one query per stage, value
    rows only). Won and lost columns show the deals closed in the chosen month, or in the
    last 30 days."""
    deals = deal_list(user, pipeline_id=pipeline.pk, owner_id=owner_id, team_id=team_id,
                      close_month=close_month)
    closed_since = timezone.now() - dt.timedelta(days=30)
    if not close_month:
        deals = deals.filter(Q(status=OPEN) | Q(closed_at__gte=closed_since))
    stages = list(pipeline.stages.order_by("position", "id"))
    columns = {s.pk: BoardColumn(stage=s) for s in stages}
    grouped = (deals.order_by().values("stage_id", "probability")
               .annotate(n=Count("id"), total=Sum("amount")))
    exact: dict[int, Decimal] = {}
    for row in grouped:
        column = columns.get(row["stage_id"])
        if column is None:
            continue
        total = Decimal(row["total"] or 0)
        column.count += row["n"]
        column.amount += total
        exact[row["stage_id"]] = exact.get(row["stage_id"], ZERO) + total * row["probability"]
    now = timezone.now()
    for stage_id, column in columns.items():
        column.amount = money(column.amount)
        column.weighted = money(exact.get(stage_id, ZERO) / 100)
    if per_stage > 0 and any(c.count for c in columns.values()):
        # Every column's first cards in one pass: row numbers per stage, soonest close first.
        # Ranked on the deal table alone, then the few winners joined to their names.
        ranked = list(deals.order_by().annotate(rank=Window(
            RowNumber(), partition_by=[F("stage_id")],
            order_by=[F("expected_close_date").asc(), F("id").asc()])).filter(
            rank__lte=per_stage).values_list("id", flat=True))
        rows = Deal.objects.filter(pk__in=ranked).order_by("stage_id", "expected_close_date",
                                                            "id")
        for row in _card_rows(rows, now):
            column = columns.get(row["stage_id"])
            if column is not None:
                column.deals.append(row)
        for column in columns.values():
            column.more = column.count > len(column.deals)
    return [columns[s.pk] for s in stages]


def board_column_page(user, pipeline: Pipeline, stage: Stage, *, offset: int,
                      owner_id: int | None = None, team_id: int | None = None,
                      close_month: dt.date | None = None,
                      per_stage: int = BOARD_PAGE) -> tuple[list[dict[str, Any]], bool]:
    """More cards of one column (the board's "show more")."""
    deals = deal_list(user, pipeline_id=pipeline.pk, stage_id=stage.pk, owner_id=owner_id,
                      team_id=team_id, close_month=close_month)
    if not close_month:
        deals = deals.filter(Q(status=OPEN) | Q(
            closed_at__gte=timezone.now() - dt.timedelta(days=30)))
    rows = _card_rows(deals.order_by("expected_close_date", "id")[offset:offset + per_stage + 1],
                      timezone.now())
    return rows[:per_stage], len(rows) > per_stage


def board_column_totals(user, pipeline: Pipeline, stage: Stage, **filters) -> BoardColumn:
    """One column's count and amounts (after a drop, to update its header)."""
    for column in board(user, pipeline, per_stage=0, **filters):
        if column.stage.pk == stage.pk:
            return column
    raise NotFound()


def customer_deals(user, customer: Customer, limit: int = 10) -> list[Deal]:
    """The customer card's deals: those of this customer the user may see, open first."""
    return list(deal_list(user, customer_id=customer.pk).order_by(
        "-status", "expected_close_date", "id")[:limit]) if user.access.can(
        "customer.view") else []


# Quotes --------------------------------------------------------------------------------------


def quote_list(user, *, deal_id: int | None = None, status: str = "") -> QuerySet[Quote]:
    quotes = _scoped(user, Quote.objects.select_related("deal", "deal__customer"), "deal__")
    if deal_id:
        quotes = quotes.filter(deal_id=deal_id)
    if status:
        quotes = quotes.filter(status=status)
    return quotes.order_by("-created_at", "-id")


def quote_get(user, quote_id: int) -> Quote:
    quote = quote_list(user).filter(pk=quote_id).prefetch_related(
        Prefetch("lines", queryset=QuoteLine.objects.select_related("product")
                 .order_by("position", "id"))).first()
    if quote is None:
        raise NotFound()
    return quote


# Contracts -----------------------------------------------------------------------------------


def contract_list(user, *, status: str = "", customer_id: int | None = None,
                  deal_id: int | None = None, search: str = "") -> QuerySet[Contract]:
    contracts = _scoped(user, Contract.objects.select_related("customer", "owner", "deal"))
    if status:
        contracts = contracts.filter(status=status)
    if customer_id:
        contracts = contracts.filter(customer_id=customer_id)
    if deal_id:
        contracts = contracts.filter(deal_id=deal_id)
    if search:
        contracts = contracts.filter(Q(number__icontains=search) | Q(title__icontains=search)
                                     | Q(customer__name__icontains=search))
    return contracts.order_by("-created_at", "-id")


def contract_get(user, contract_id: int) -> Contract:
    contract = contract_list(user).filter(pk=contract_id).prefetch_related(
        "attachments", Prefetch("instalments", queryset=Instalment.objects.order_by("sequence")),
        Prefetch("payments", queryset=Payment.objects.prefetch_related(
            "allocations__instalment")), "invoice_requests").first()
    if contract is None:
        raise NotFound()
    return contract


def attachment_get(user, contract: Contract, attachment_id: int) -> ContractAttachment:
    found = contract_get(user, contract.pk).attachments.filter(pk=attachment_id).first()
    if found is None:
        raise NotFound()
    return found


def attachment_content(attachment: ContractAttachment) -> bytes:
    """The clear bytes of an attachment (the caller got it through attachment_get)."""
    from kehu.pipeline.services.contracts import attachments_dir

    path = attachments_dir() / attachment.stored_name
    return decrypt_bytes(path.read_bytes(), context=attachment.stored_name.encode())


# Payments ------------------------------------------------------------------------------------


def instalment_list(user, *, contract_id: int | None = None,
                    overdue: bool | None = None) -> QuerySet[Instalment]:
    rows = _scoped(user, Instalment.objects.select_related("contract", "contract__customer"),
                   "contract__")
    if contract_id:
        rows = rows.filter(contract_id=contract_id)
    if overdue is True:
        rows = rows.filter(overdue_since__isnull=False).exclude(paid_amount__gte=F("amount"))
    return rows.order_by("due_date", "contract_id", "sequence")


def payment_list(user, *, contract_id: int | None = None) -> QuerySet[Payment]:
    rows = _scoped(user, Payment.objects.select_related("contract", "contract__customer"),
                   "contract__")
    if contract_id:
        rows = rows.filter(contract_id=contract_id)
    return rows.order_by("-received_on", "-id")


AGING_BUCKETS = ("current", "d1_30", "d31_60", "d61_90", "d91_plus")


def aging_bucket(days_overdue: int) -> str:
    if days_overdue <= 0:
        return "current"
    if days_overdue <= 30:
        return "d1_30"
    if days_overdue <= 60:
        return "d31_60"
    if days_overdue <= 90:
        return "d61_90"
    return "d91_plus"


def aging_report(user, *, today: dt.date | None = None) -> dict[str, Any]:
    """Receivables by age: the outstanding part of each instalment of a contract in force,
    by days past its due date (not yet due, 1–30, 31–60, 61–90, 91+), per customer and in
    total."""
    today = today or timezone.localdate()
    rows = (instalment_list(user).filter(contract__status__in=(Contract.SIGNED,
                                                               Contract.EXECUTING))
            .values("due_date", "amount", "paid_amount", "contract__customer_id",
                    "contract__customer__name"))
    customers: dict[int, dict[str, Any]] = {}
    totals = dict.fromkeys(AGING_BUCKETS, ZERO)
    for row in rows:
        outstanding = row["amount"] - row["paid_amount"]
        if outstanding <= 0:
            continue
        bucket = aging_bucket((today - row["due_date"]).days)
        entry = customers.setdefault(row["contract__customer_id"], {
            "customer_id": row["contract__customer_id"],
            "customer_name": row["contract__customer__name"],
            **dict.fromkeys(AGING_BUCKETS, ZERO), "total": ZERO})
        entry[bucket] += outstanding
        entry["total"] += outstanding
        totals[bucket] += outstanding
    ordered = sorted(customers.values(), key=lambda e: (-e["total"], e["customer_name"]))
    return {"today": today, "customers": ordered,
            "totals": {**totals, "total": sum(totals.values(), ZERO)}}


def invoice_request_list(user, *, status: str = "",
                         contract_id: int | None = None) -> QuerySet[InvoiceRequest]:
    rows = _scoped(user, InvoiceRequest.objects.select_related("contract",
                                                               "contract__customer"),
                   "contract__")
    if status:
        rows = rows.filter(status=status)
    if contract_id:
        rows = rows.filter(contract_id=contract_id)
    return rows.order_by("-created_at", "-id")


def invoice_request_get(user, request_id: int) -> InvoiceRequest:
    found = invoice_request_list(user).filter(pk=request_id).first()
    if found is None:
        raise NotFound()
    return found


# Targets and forecast ------------------------------------------------------------------------


def target_list(user, *, year: int | None = None) -> QuerySet[Target]:
    """Targets of users and teams inside the user's scope."""
    user.access.require("customer.view")
    access = user.access
    rows = Target.objects.select_related("user", "team")
    if access.scope != "all":
        mine = Q(user_id=access.user_id)
        if access.scope == "team":
            mine |= Q(user__team_id__in=sorted(access.team_ids)) | Q(
                team_id__in=sorted(access.team_ids))
        rows = rows.filter(mine)
    if year:
        rows = rows.filter(year=year)
    return rows.order_by("year", "period_kind", "period", "team__name", "user__username")


def _subject(user, owner_id: int | None, team_id: int | None) -> QuerySet[Deal]:
    deals = deal_queryset(user)
    if owner_id:
        deals = deals.filter(owner_id=owner_id)
    if team_id:
        deals = deals.filter(team_id__in=team_subtree(team_id))
    return deals


def forecast(user, *, first: dt.date | None = None, months: int = 3,
             owner_id: int | None = None, team_id: int | None = None) -> list[MonthForecast]:
    """The forecast by expected close month (kehu.pipeline.forecast) over the deals in the
    user's scope, of one owner or one team (and its sub-teams) when given."""
    first = month_start(first or timezone.localdate())
    return forecast_months(_subject(user, owner_id, team_id), first, max(1, min(months, 24)))


@dataclass(frozen=True)
class Attainment:
    period_kind: str
    year: int
    period: int
    target: Decimal | None
    won: Decimal
    signed: Decimal
    collected: Decimal

    @property
    def rate(self) -> float | None:
        """won ÷ target (None without a target)."""
        return float(self.won / self.target) if self.target else None

    @property
    def collected_rate(self) -> float | None:
        return float(self.collected / self.target) if self.target else None


def attainment(user, *, period_kind: str, year: int, period: int, owner_id: int | None = None,
               team_id: int | None = None) -> Attainment:
    """Against the target of the user (owner_id) or team for the month or quarter: the
    amount won (deals closed as won in the period), the amount signed (contracts signed in
    it) and the amount collected (payments received in it)."""
    first, after = period_bounds(period_kind, year, period)
    target_row = target_list(user).filter(period_kind=period_kind, year=year, period=period)
    target_row = (target_row.filter(user_id=owner_id, team__isnull=True) if owner_id
                  else target_row.filter(team_id=team_id, user__isnull=True) if team_id
                  else target_row.none())
    target = target_row.values_list("amount", flat=True).first()
    won = won_between(_subject(user, owner_id, team_id), first, after)
    contracts = _scoped(user, Contract.objects.all())
    if owner_id:
        contracts = contracts.filter(owner_id=owner_id)
    if team_id:
        contracts = contracts.filter(team_id__in=team_subtree(team_id))
    signed = contracts.filter(signed_date__gte=first, signed_date__lt=after).exclude(
        status=Contract.TERMINATED).aggregate(s=Sum("amount"))["s"]
    collected = Payment.objects.filter(contract__in=contracts.values("pk"),
                                       received_on__gte=first, received_on__lt=after).aggregate(
        s=Sum("amount"))["s"]
    return Attainment(period_kind=period_kind, year=year, period=period,
                      target=money(target) if target is not None else None, won=won,
                      signed=money(signed or 0), collected=money(collected or 0))


def forecast_accuracy(user, *, close_month: dt.date, owner_id: int | None = None,
                      team_id: int | None = None) -> list[dict[str, Any]]:
    """Each weekly snapshot's forecast for `close_month` (summed over the owners in scope)
    beside what was actually won in that month."""
    month = month_start(close_month)
    snapshots = ForecastSnapshot.objects.filter(close_month=month)
    access = user.access
    access.require("customer.view")
    snapshots = access.restrict(snapshots, owner_field="owner", team_field="team")
    if owner_id:
        snapshots = snapshots.filter(owner_id=owner_id)
    if team_id:
        snapshots = snapshots.filter(team_id__in=team_subtree(team_id))
    actual = won_between(_subject(user, owner_id, team_id), month, add_months(month, 1))
    rows = (snapshots.values("taken_on").annotate(commit=Sum("commit"),
                                                  best_case=Sum("best_case"),
                                                  pipeline=Sum("pipeline"))
            .order_by("taken_on"))
    return [{"taken_on": r["taken_on"], "commit": money(r["commit"]),
             "best_case": money(r["best_case"]), "pipeline": money(r["pipeline"]),
             "actual": actual,
             "error": money(r["commit"]) - actual} for r in rows]

