"""A small customer book for the team, channels and forecast boards' tests: two teams, three
reps, a manager of team A, customers from several sources (some old, one deleted), interactions,
orders (one cancelled), overdue follow-ups, won and open deals, resolved tickets, targets.

`visible(user)` is the record scope computed by hand (owner, or customer team in the
manager's team), independent of AccessPolicy, for the tests' plain-Python computations."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.utils import timezone

from kehu.core import events
from kehu.core.actor import Actor
from kehu.customers.models import Customer
from kehu.customers.services import customer_delete, customer_update
from kehu.dashboards import summaries
from kehu.dashboards.periods import Period
from kehu.interactions.models import FollowUpTask
from kehu.interactions.services import interaction_log
from kehu.pipeline import services as pipeline
from kehu.pipeline.models import Stage
from kehu.transactions.models import Ticket
from kehu.transactions.services import order_create, order_update_status
from tests.factories import ProductFactory, TeamFactory, create_customer

SYSTEM = Actor.system(via="system")


@dataclass
class Book:
    teams: list
    reps: list  # a1, a2 (team A), b1 (team B)
    manager: object  # sales manager of team A
    admin: object
    period: Period
    customers: list = field(default_factory=list)

    def visible(self, user) -> list[Customer]:
        live = list(Customer.objects.filter(status="active"))
        if user.is_superuser:
            return live
        if user.role.code == "sales_manager":
            return [c for c in live if c.owner_id == user.pk or c.team_id == user.team_id]
        return [c for c in live if c.owner_id == user.pk]


def stage(name: str) -> Stage:
    return Stage.objects.get(pipeline__is_default=True, name=name)


def make_book(make_user) -> Book:
    now = timezone.now()
    today = timezone.localdate()
    team_a, team_b = TeamFactory(name="华东一组"), TeamFactory(name="华南二组")
    a1 = make_user("sales_rep", team=team_a, display_name="王芳")
    a2 = make_user("sales_rep", team=team_a, display_name="李强")
    b1 = make_user("sales_rep", team=team_b, display_name="赵敏")
    manager = make_user("sales_manager", team=team_a, display_name="陈经理")
    team_a.managers.add(manager)
    admin = make_user("admin", is_superuser=True, display_name="管理员")
    period = Period("custom", today - dt.timedelta(days=27), today)
    book = Book([team_a, team_b], [a1, a2, b1], manager, admin, period)
    pipeline.pipeline_ensure_default(actor=SYSTEM)  # transactional (browser) tests flush it
    product = ProductFactory(unit_price="100.00")
    plan = [  # owner, source, days ago created, lifecycle
        (a1, "web", 1, "lead"), (a1, "web", 3, "customer"), (a1, "wechat", 10, "lead"),
        (a1, "offline", 60, "customer"), (a2, "web", 0, "lead"), (a2, "", 5, "loyal"),
        (a2, "wechat", 40, "lead"), (b1, "web", 2, "customer"), (b1, "offline", 8, "lead"),
        (b1, "wechat", 0, "lead"), (manager, "web", 4, "customer"),
    ]
    for n, (owner, source, ago, stage_code) in enumerate(plan):
        customer = create_customer(owner=owner, name=f"客户{n}", source=source,
                                   lifecycle_stage=stage_code)
        Customer.objects.filter(pk=customer.pk).update(created_at=now - dt.timedelta(days=ago))
        book.customers.append(customer)
    c = book.customers
    # interactions: by the owner, some outside the period
    for customer, days in [(c[0], 0), (c[0], 2), (c[1], 1), (c[3], 3), (c[3], 40), (c[4], 0),
                           (c[5], 9), (c[7], 1), (c[7], 2), (c[9], 0), (c[10], 5)]:
        owner = next(u for u in [a1, a2, b1, manager] if u.pk == customer.owner_id)
        interaction_log(actor=Actor(user=owner), customer=customer, kind="call", summary="电话",
                        occurred_at=now - dt.timedelta(days=days))
    # orders: paid ones count, pending and cancelled ones do not
    for customer, qty, status, channel, days in [
            (c[1], 3, "paid", "online", 1), (c[1], 1, "completed", "store", 12),
            (c[3], 5, "paid", "online", 2), (c[5], 2, "shipped", "store", 3),
            (c[7], 4, "paid", "online", 0), (c[7], 1, "pending", "online", 0),
            (c[10], 2, "paid", "direct", 6), (c[3], 9, "paid", "online", 45)]:
        order_create(actor=SYSTEM, customer=customer, lines=[{"product": product,
                                                               "quantity": qty}],
                     status=status, sales_channel=channel,
                     ordered_at=now - dt.timedelta(days=days))
    cancelled = order_create(actor=SYSTEM, customer=c[0], lines=[{"product": product,
                                                                  "quantity": 7}],
                             status="paid", sales_channel="online", ordered_at=now)
    order_update_status(actor=SYSTEM, order=cancelled, status="refunded")
    # a deleted customer counts nowhere; a reassigned one counts for its new owner
    customer_delete(actor=SYSTEM, customer=Customer.objects.get(pk=c[9].pk))
    customer_update(actor=SYSTEM, customer=Customer.objects.get(pk=c[8].pk),
                    expected_version=None, changes={"owner": a2, "team": team_a})
    # overdue and due follow-ups
    for customer, assignee, due in [(c[0], a1, -3), (c[1], a1, -1), (c[4], a2, -2),
                                    (c[7], b1, -5), (c[7], b1, 2)]:
        FollowUpTask.objects.create(customer=customer, assignee=assignee, title="回访",
                                    due_date=today + dt.timedelta(days=due))
    # deals: won this period, one open in commit, one lost
    for owner, customer, amount, target_stage in [
            (a1, c[1], "20000.00", "赢单"), (a1, c[0], "8000.00", "谈判审批"),
            (a2, c[5], "5000.00", "赢单"), (b1, c[7], "12000.00", "赢单"),
            (b1, c[7], "30000.00", "方案报价"), (a2, c[4], "7000.00", "输单")]:
        deal = pipeline.deal_create(actor=Actor(user=owner), customer=customer, title="项目",
                                    amount=amount, expected_close_date=today)
        pipeline.deal_move(actor=Actor(user=owner), deal=deal, stage=stage(target_stage),
                           lost_reason="预算取消" if target_stage == "输单" else "")
    # tickets resolved in the period, assigned to reps
    for n, (customer, assignee, hours, rating) in enumerate([
            (c[0], a1, 4, 5), (c[1], a1, 10, 3), (c[7], b1, 2, None), (c[5], a2, 6, 4)]):
        Ticket.objects.create(customer=customer, number=f"T-{n}", kind="request", subject="问题",
                              status="resolved", assignee=assignee, satisfaction=rating,
                              opened_at=now - dt.timedelta(days=1, hours=hours),
                              resolved_at=now - dt.timedelta(days=1))
    events.dispatch(only=[summaries.SUBSCRIBER])
    # Back-dating `created_at` above was a raw update (no event): where the subscriber already
    # ran at commit (transactional browser tests), bring those customers up to date.
    summaries.summaries_refresh(c.pk for c in book.customers)
    return book


def listed(api_client, url: str) -> int:
    """How many customers the list behind a drill-down URL holds: the same query through the
    customers API (which parses it with the list page's own filters)."""
    path, _sep, query = url.partition("?")
    assert path == "/customers/", url
    answer = api_client.get(f"/api/v1/customers?{query}&count=true&limit=1")
    assert answer.status_code == 200, answer.content
    return answer.json()["count"]
