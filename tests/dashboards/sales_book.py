"""A small book for the sales boards' tests (funnel, portrait, churn): two reps on one team, an
admin, customers with lifecycle histories, value rows, churn scores, orders and deals. Each
test recomputes its board's figures from SPEC in plain Python, independently of the boards."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils import timezone

from kehu.core.actor import Actor
from tests.factories import CustomerFactory, InteractionFactory, ProductFactory, TeamFactory, UserFactory


@dataclass
class Spec:
    name: str
    owner: str  # "a" or "b"
    stage: str
    history: list[tuple[str, str, int]] = field(default_factory=list)  # (from, to, day offset)
    created_days_ago: int = 10
    industry: str = ""
    province: str = ""
    source: str = ""
    gender: str = ""
    birthday: dt.date | None = None
    tier: str = ""
    segment: str = ""
    monetary: str = "0"
    churn: tuple[float, str] | None = None
    clv: str | None = None
    orders: list[tuple[str, str]] = field(default_factory=list)  # (sales channel, product key)
    contact_days_ago: int | None = None


TODAY = None  # set by build_book


def _years_ago(years: int, days: int = 0) -> dt.date:
    today = timezone.localdate()
    return today.replace(year=today.year - years) - dt.timedelta(days=days)


def specs() -> list[Spec]:
    return [
        Spec("甲一", "a", "lead", industry="制造", province="浙江省", source="referral",
             gender="male", birthday=_years_ago(30), tier="high_value", monetary="90000",
             orders=[("online", "p1"), ("store", "p2")], segment="champions"),
        Spec("甲二", "a", "prospect", [("lead", "prospect", 2)], industry="制造",
             province="浙江省", source="referral", gender="female", birthday=_years_ago(40),
             tier="high_value", monetary="60000", orders=[("online", "p1")],
             segment="at_risk", churn=(0.8, "high"), contact_days_ago=3),
        Spec("甲三", "a", "customer", [("lead", "prospect", 1), ("prospect", "customer", 4)],
             industry="零售", province="江苏省", source="website", gender="male",
             birthday=_years_ago(50), tier="general", monetary="3000",
             orders=[("store", "p2")], segment="hibernating", clv="7000"),
        Spec("甲四", "a", "churned", industry="制造", province="江苏省", source="website",
             gender="female", tier="dormant", monetary="500", segment="need_attention",
             churn=(0.5, "medium")),
        Spec("乙一", "b", "loyal", industry="制造", province="浙江省", source="referral",
             gender="male", birthday=_years_ago(31), tier="high_value", monetary="80000",
             orders=[("online", "p1")], segment="cant_lose", contact_days_ago=20),
        Spec("乙二", "b", "churned", [("customer", "loyal", 3), ("loyal", "churned", 6)],
             industry="零售", province="广东省", source="ads", gender="female",
             birthday=_years_ago(22), tier="general", monetary="1000", segment="about_to_sleep",
             churn=(0.2, "low")),
        Spec("乙三", "b", "lead", industry="零售", province="广东省", source="ads",
             created_days_ago=400, segment="champions"),
    ]


@dataclass
class Book:
    admin: object
    rep_a: object
    rep_b: object
    customers: dict[str, object]
    specs: list[Spec]
    products: dict[str, object]
    start: object  # now, the book's reference time

    def mine(self, who: str | None) -> list[Spec]:
        return [s for s in self.specs if who is None or s.owner == who]


def build_book(with_deals: bool = True) -> Book:
    from kehu.insights.models import CustomerChurn
    from kehu.prediction.models import CustomerPrediction
    from kehu.scoring.models import CustomerValue, LifecycleStageChange
    from kehu.transactions.models import Order, OrderLine

    now = timezone.now()
    team = TeamFactory()
    admin = UserFactory(role_code="admin", is_superuser=True, username="boss")
    rep_a = UserFactory(role_code="sales_rep", team=team, username="rep_a")
    rep_b = UserFactory(role_code="sales_rep", team=team, username="rep_b")
    owners = {"a": rep_a, "b": rep_b}
    products = {"p1": ProductFactory(name="打印机A"), "p2": ProductFactory(name="墨盒B")}
    customers = {}
    order_no = 0
    for spec in specs():
        customer = CustomerFactory(name=spec.name, owner=owners[spec.owner], team=team,
                                   lifecycle_stage=spec.stage, industry=spec.industry,
                                   province=spec.province, source=spec.source,
                                   gender=spec.gender, birthday=spec.birthday)
        created = now - dt.timedelta(days=spec.created_days_ago)
        type(customer).objects.filter(pk=customer.pk).update(created_at=created)
        customer.created_at = created
        for old, new, day in spec.history:
            LifecycleStageChange.objects.create(customer=customer, from_stage=old, to_stage=new,
                                                changed_at=created + dt.timedelta(days=day))
        CustomerValue.objects.create(customer=customer, monetary=Decimal(spec.monetary),
                                     value_tier=spec.tier, rfm_segment=spec.segment,
                                     frequency=len(spec.orders), scored_at=now)
        if spec.churn:
            CustomerChurn.objects.create(customer=customer, churn_risk=spec.churn[0],
                                         level=spec.churn[1], model="logistic", scored_at=now)
        if spec.clv:
            CustomerPrediction.objects.create(customer=customer, clv_12m=Decimal(spec.clv),
                                              p_alive=0.5, expected_purchases_90d=1.0,
                                              expected_avg_value=Decimal(spec.clv),
                                              scored_at=now)
        for index, (channel, product) in enumerate(spec.orders):
            order_no += 1
            order = Order.objects.create(customer=customer, number=f"SO-{order_no}",
                                         status="paid", sales_channel=channel,
                                         ordered_at=created + dt.timedelta(days=index + 1),
                                         total_amount=Decimal("100"))
            OrderLine.objects.create(order=order, product=products[product], quantity=1,
                                     unit_price=Decimal("100"), amount=Decimal("100"))
        if spec.contact_days_ago is not None:
            InteractionFactory(customer=customer,
                               occurred_at=now - dt.timedelta(days=spec.contact_days_ago))
        customers[spec.name] = customer
    # The rows above are raw writes (no event): bring the summaries up to date with them.
    from kehu.dashboards.summaries import summaries_refresh

    summaries_refresh(c.pk for c in customers.values())
    book = Book(admin, rep_a, rep_b, customers, specs(), products, now)
    if with_deals:
        book.deals = build_deals(book)
    return book


# Deals: (owner, amount, stages visited after the first (by position index), lost?, days in
# the first stage)
DEALS = [
    ("a", "1000.00", [], False, None),
    ("a", "2000.00", [1, 2], False, 4),
    ("b", "3000.00", [4], False, 6),
    ("a", "4000.00", [1], True, 2),
]


def build_deals(book: Book) -> list:
    from kehu.pipeline import services
    from kehu.pipeline.models import DealStageHistory, Pipeline

    actor = Actor(user=book.admin)
    services.pipeline_ensure_default(actor=actor)
    pipeline = Pipeline.objects.get(is_default=True)
    stages = list(pipeline.stages.order_by("position"))
    deals = []
    customer = book.customers["甲一"]
    for owner, amount, moves, lost, first_days in DEALS:
        owner_user = book.rep_a if owner == "a" else book.rep_b
        deal = services.deal_create(actor=actor, customer=customer, title=f"项目{amount}",
                                    amount=amount, owner=owner_user,
                                    expected_close_date=timezone.localdate() + dt.timedelta(days=30))
        for index in moves:
            deal = services.deal_move(actor=actor, deal=deal, stage=stages[index])
        if lost:
            deal = services.deal_move(actor=actor, deal=deal,
                                      stage=next(s for s in stages if s.kind == "lost"),
                                      lost_reason="价格")
        if first_days is not None:
            first = DealStageHistory.objects.get(deal=deal, stage=stages[0])
            DealStageHistory.objects.filter(pk=first.pk).update(
                entered_at=first.exited_at - dt.timedelta(days=first_days))
        deals.append(deal)
    return deals
