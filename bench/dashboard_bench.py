#!/usr/bin/env python3
"""Dashboards benchmark (docs/dashboards.md, "Speed").

In a fresh KEHU_HOME (SQLite unless --database-url names an EMPTY PostgreSQL database):
--customers customers (default 20,000; the goal is stated at 1,000,000 customers with
20,000,000 events and 5,000,000 orders, i.e. --events-per-customer 20 --orders-per-customer 5),
spread over 20 sales reps in two teams, three years of history, deals, tickets, value tiers
and RFM segments. The daily summaries are then built once (as `kehu dashboards
rebuild-summaries` does; afterwards the domain events keep them current).

Then every registered board is built for the admin (all customers), a manager (a team) and a
sales rep (own book), --repeat times each, and the median server time is printed. Goal: every
board ≤ 1 s on PostgreSQL and ≤ 2 s on SQLite at the stated scale. Last, a report-builder query
over the orders grouped by month × region (goal ≤ 2 s on PostgreSQL at 5,000,000 orders).

Exits 0 either way: these are figures, not a test.

    .venv/bin/python bench/dashboard_bench.py                          # 20,000 customers
    .venv/bin/python bench/dashboard_bench.py --customers 1000000 --database-url postgres://…
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import time

from _kehu_home import fresh_home, print_machine

GOAL = {"postgresql": 1.0, "sqlite": 2.0}
GOAL_BUILDER = 2.0
PROVINCES = {"上海市": ("华东", "上海市"), "北京市": ("华北", "北京市"), "广东省": ("华南", "广州市"),
             "湖北省": ("华中", "武汉市"), "四川省": ("西南", "成都市"), "陕西省": ("西北", "西安市"),
             "辽宁省": ("东北", "沈阳市"), "浙江省": ("华东", "杭州市")}
SOURCES = ["offline", "website", "wechat", "referral", "exhibition", "ad"]
INDUSTRIES = ["制造业", "零售", "互联网", "教育", "医疗", "金融"]
SIZES = ["1-49", "50-199", "200-999", "1000+"]
STAGES = ["lead", "prospect", "customer", "loyal", "churned"]
TIERS = ["high_value", "potential", "dormant", "general"]
SEGMENTS = ["champions", "loyal", "potential", "new", "at_risk", "hibernating", "lost"]
EVENT_TYPES = ["page_view", "app_login", "email_open", "product_view", "cart_add", "search"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--events-per-customer", type=float, default=20)
    parser.add_argument("--orders-per-customer", type=float, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    count = max(1000, min(args.customers, 5_000_000))
    home = fresh_home("kehu-dashboard-bench-", database_url=args.database_url)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    rng = random.Random(args.seed)
    started = time.monotonic()
    people = _people()
    made = _data(count, args, people, rng)
    print(f"data: {made} in {time.monotonic() - started:.0f} s ({connection.vendor})")
    started = time.monotonic()
    rebuilt = _rebuild_summaries()
    if rebuilt:
        print(f"daily summaries rebuilt in {time.monotonic() - started:.1f} s")
    _boards(people, args.repeat, connection.vendor)
    _builder(people["admin"], args.repeat, connection.vendor)
    print_machine(home)


def _people() -> dict:
    from kehu.accounts.models import Role, Team, User

    roles = {role.code: role for role in Role.objects.all()}
    admin = User.objects.create(username="admin", display_name="管理员", role=roles["admin"],
                                is_superuser=True)
    teams, reps, managers = [], [], []
    for t, name in enumerate(("华东组", "华南组")):
        team = Team.objects.create(name=name)
        manager = User.objects.create(username=f"boss{t}", display_name=f"经理{t}", team=team,
                                      role=roles["sales_manager"])
        team.managers.add(manager)
        teams.append(team)
        managers.append(manager)
        reps += [User.objects.create(username=f"rep{t}{i}", display_name=f"销售{t}{i}", team=team,
                                     role=roles["sales_rep"]) for i in range(10)]
    return {"admin": admin, "managers": managers, "reps": reps, "teams": teams}


def _data(count: int, args, people: dict, rng: random.Random) -> str:
    from _bulk_rows import insert
    from django.db import connection
    from django.utils import timezone

    from kehu.customers.models import Customer
    from kehu.interactions.models import Event, Interaction
    from kehu.pipeline.models import Deal, Pipeline
    from kehu.scoring.models import CustomerValue
    from kehu.transactions.models import Order, Ticket

    now = timezone.now()
    reps = people["reps"]
    team_of = {rep.pk: rep.team_id for rep in reps}
    sqlite = connection.vendor == "sqlite"

    def when(days: int) -> dt.datetime:
        return now - dt.timedelta(days=rng.randint(0, days), seconds=rng.randint(0, 86_399))

    def customers():
        for i in range(count):
            province = rng.choice(list(PROVINCES))
            region, city = PROVINCES[province]
            owner = rng.choice(reps).pk
            birthday = dt.date(rng.randint(1955, 2004), rng.randint(1, 12), rng.randint(1, 28))
            yield (f"客户{i}", rng.choice(("male", "female")), birthday, rng.choice(INDUSTRIES),
                   rng.choice(SIZES), owner, team_of[owner], rng.choice(SOURCES),
                   rng.choice(STAGES), province, city, region, when(1100), when(30))

    insert(Customer, ["name", "gender", "birthday", "industry", "company_size", "owner_id",
                      "team_id", "source", "lifecycle_stage", "province", "city", "region",
                      "created_at", "updated_at"], customers())
    first, last = (Customer.objects.order_by("pk").values_list("pk", flat=True).first(),
                   Customer.objects.order_by("-pk").values_list("pk", flat=True).first())
    owners = dict(Customer.objects.values_list("pk", "owner_id")) if count <= 2_000_000 else {}

    def values():
        for pk in range(first, last + 1):
            yield (pk, rng.choice(TIERS), rng.choice(SEGMENTS), rng.randint(1, 5),
                   rng.randint(1, 5), rng.randint(1, 5), round(rng.uniform(0, 50_000), 2),
                   rng.randint(0, 20), now)

    insert(CustomerValue, ["customer_id", "value_tier", "rfm_segment", "r_score", "f_score",
                           "m_score", "monetary", "frequency", "scored_at"], values())
    orders = int(count * args.orders_per_customer)
    statuses = ["paid", "shipped", "completed", "completed", "cancelled", "pending"]
    channels = ["direct", "online", "store", "distributor"]

    def order_rows():
        for i in range(orders):
            pk = rng.randint(first, last)
            yield (pk, f"SO{i:09d}", rng.choice(statuses), when(1100),
                   round(rng.uniform(50, 20_000), 2), rng.choice(channels), owners.get(pk))

    insert(Order, ["customer_id", "number", "status", "ordered_at", "total_amount",
                   "sales_channel", "salesperson_id"], order_rows())
    events = int(count * args.events_per_customer)
    empty = "{}"

    def event_rows():
        for _i in range(events):
            yield (rng.randint(first, last), rng.choice(EVENT_TYPES), when(730), empty, "web")

    insert(Event, ["customer_id", "event_type", "occurred_at", "properties", "source"],
           event_rows())
    interactions = count * 2

    def interaction_rows():
        for _i in range(interactions):
            pk = rng.randint(first, last)
            yield (pk, rng.choice(("call", "visit", "wechat", "email")), when(400),
                   owners.get(pk), "电话回访")

    insert(Interaction, ["customer_id", "kind", "occurred_at", "actor_id", "summary"],
           interaction_rows())
    pipeline = Pipeline.objects.filter(is_default=True).first() or Pipeline.objects.first()
    stages = list(pipeline.stages.order_by("position").values_list(
        "pk", "kind", "probability", "forecast_category")) if pipeline else []
    deals = count // 10 if stages else 0

    def deal_rows():
        for i in range(deals):
            pk = rng.randint(first, last)
            stage, kind, probability, category = rng.choice(stages)
            owner = owners.get(pk) or rng.choice(reps).pk
            entered = when(300)
            yield (f"商机{i}", pk, pipeline.pk, stage, kind, probability, category,
                   round(rng.uniform(1000, 500_000), 2),
                   (entered + dt.timedelta(days=rng.randint(0, 120))).date(), owner,
                   team_of.get(owner), entered, entered if kind != "open" else None)

    insert(Deal, ["title", "customer_id", "pipeline_id", "stage_id", "status", "probability",
                  "forecast_category", "amount",
                  "expected_close_date", "owner_id", "team_id", "stage_entered_at", "closed_at"],
           deal_rows())
    tickets = count // 20

    def ticket_rows():
        for i in range(tickets):
            pk = rng.randint(first, last)
            opened = when(365)
            resolved = opened + dt.timedelta(hours=rng.randint(1, 200)) if rng.random() < .8 \
                else None
            yield (pk, f"TK{i:08d}", rng.choice(("complaint", "service_request", "inquiry")), "问题",
                   "resolved" if resolved else "open", "normal", owners.get(pk), opened, resolved,
                   rng.randint(1, 5) if resolved and rng.random() < .5 else None)

    insert(Ticket, ["customer_id", "number", "kind", "subject", "status", "priority",
                    "assignee_id", "opened_at", "resolved_at", "satisfaction"], ticket_rows())
    if sqlite:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    else:
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    return (f"{count:,} customers, {events:,} events, {orders:,} orders, {interactions:,} "
            f"interactions, {deals:,} deals, {tickets:,} tickets")


def _rebuild_summaries() -> bool:
    try:
        from kehu.dashboards import summaries
    except ImportError:
        return False
    summaries.summaries_rebuild()
    return True


def _timed(fn, repeat: int) -> float:
    seconds = []
    for _ in range(max(1, repeat)):
        started = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def _boards(people: dict, repeat: int, vendor: str) -> None:
    from kehu.dashboards.boards import all_boards, build_board
    from kehu.dashboards.periods import named_period

    goal = GOAL[vendor]
    viewers = (("admin", people["admin"]), ("manager", people["managers"][0]),
               ("rep", people["reps"][0]))
    # One untimed pass: URL and template loading and the first read of each table from disk
    # are start-up costs, not a board's.
    for board in all_boards():
        if board.visible_to(people["admin"]):
            build_board(board, user=people["admin"], period=named_period(board.default_period),
                        params={})
    worst = 0.0
    for board in all_boards():
        period = named_period(board.default_period)
        line = []
        for label, user in viewers:
            user.refresh_from_db()
            if not board.visible_to(user):
                line.append(f"{label} —")
                continue
            seconds = _timed(lambda b=board, u=user, p=period: build_board(
                b, user=u, period=p, params={}), repeat)
            worst = max(worst, seconds)
            line.append(f"{label} {seconds:.3f} s")
        print(f"board {board.key:<10} " + ", ".join(line))
    print(f"slowest board: {worst:.3f} s (goal ≤ {goal:.0f} s on {vendor}: "
          f"{'met' if worst <= goal else 'NOT met'})")


def _builder(admin, repeat: int, vendor: str) -> None:
    try:
        from kehu.reports import query
    except ImportError:
        return
    spec = {"subject": "orders", "measure": {"kind": "sum", "field": "total_amount"},
            "group_by": [{"field": "date", "bucket": "month"}, {"field": "region"}]}
    seconds = _timed(lambda: query.run_report(json.loads(json.dumps(spec)), user=admin),
                     repeat)
    print(f"report builder: orders by month × region {seconds:.3f} s (goal ≤ {GOAL_BUILDER:.0f} s "
          f"on PostgreSQL: {'met' if seconds <= GOAL_BUILDER else 'NOT met'} here on {vendor})")


if __name__ == "__main__":
    main()
