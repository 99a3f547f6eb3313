"""Pipeline speed: the kanban's first paint over 10,000 open deals and the forecast of a team
of 50 over 100,000 deals.

    .venv/bin/python bench/pipeline_bench.py                       # the goals' sizes
    .venv/bin/python bench/pipeline_bench.py --deals 20000 --board-deals 2000   # quick
    .venv/bin/python bench/pipeline_bench.py --database-url postgres://…/kehu_bench  # EMPTY db

It builds a fresh KEHU_HOME (or uses the empty PostgreSQL database given), inserts customers,
users in teams and deals in bulk (set-based, not through the services: this measures reads),
then times, in-process (server time, no network):

- (a) **board first paint**: GET /pipeline/ through Django's test client as a sales manager
  whose scope holds `--board-deals` open deals (the whole HTML page: filters, every column's
  count, amount and weighted amount, the first 30 cards per column). Goal: p95 ≤ 300 ms at
  10,000 open deals.
- (b) **forecast**: `selectors.forecast` for one team of 50 reps over 3 close months, as
  that team's manager, among `--deals` deals in all. Goal: p95 ≤ 200 ms at 100,000 deals.

Each is run `--repeat` times after a warm-up; p50/p95 are printed with the goal met or
missed. The exit code is 0 either way.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _kehu_home import fresh_home, print_machine  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def build(deals: int, board_deals: int, seed: int):
    from django.utils import timezone

    from kehu.accounts.models import Role, Team, User
    from kehu.customers.models import Customer
    from kehu.pipeline.models import Deal, DealStageHistory, Pipeline

    rng = random.Random(seed)
    pipeline = Pipeline.objects.get(is_default=True)
    stages = list(pipeline.stages.order_by("position"))
    open_stages = [s for s in stages if s.kind == "open"]
    rep_role = Role.objects.get(code="sales_rep")
    manager_role = Role.objects.get(code="sales_manager")
    # Team "board": the manager sees board_deals open deals. Team "forecast": 50 reps.
    board_team = Team.objects.create(name="看板组")
    forecast_team = Team.objects.create(name="预测组")
    other_teams = [Team.objects.create(name=f"其他组{i}") for i in range(9)]
    board_manager = User.objects.create(username="boardmgr", role=manager_role,
                                        team=board_team)
    board_manager.managed_teams.add(board_team)
    forecast_manager = User.objects.create(username="forecastmgr", role=manager_role,
                                           team=forecast_team)
    forecast_manager.managed_teams.add(forecast_team)
    board_reps = [User.objects.create(username=f"b{i}", role=rep_role, team=board_team)
                  for i in range(10)]
    team_reps = [User.objects.create(username=f"f{i}", role=rep_role, team=forecast_team)
                 for i in range(50)]
    other_reps = [User.objects.create(username=f"o{i}", role=rep_role,
                                      team=other_teams[i % 9]) for i in range(450)]
    customers = Customer.objects.bulk_create(
        [Customer(name=f"客户{i}", kind="organisation") for i in range(5000)], batch_size=2000)
    now = timezone.now()
    today = timezone.localdate()
    rows = []

    def deal(owner, status_open: bool):
        stage = rng.choice(open_stages) if status_open else rng.choice(
            [s for s in stages if s.kind != "open"])
        amount = Decimal(rng.randrange(1000_00, 2_000_000_00)) / 100
        return Deal(title=f"项目{len(rows)}", customer=rng.choice(customers), pipeline=pipeline,
                    stage=stage, status=stage.kind, amount=amount,
                    probability=stage.probability, forecast_category=stage.forecast_category,
                    expected_close_date=today + dt.timedelta(days=rng.randrange(-30, 150)),
                    owner=owner, team=owner.team,
                    stage_entered_at=now - dt.timedelta(days=rng.randrange(0, 60)),
                    closed_at=None if status_open else now - dt.timedelta(
                        days=rng.randrange(0, 120)))

    for _ in range(board_deals):
        rows.append(deal(rng.choice(board_reps), True))
    rest = deals - board_deals
    team_share = rest // 10  # the team of 50 holds a tenth of the book
    for _ in range(team_share):
        rows.append(deal(rng.choice(team_reps), rng.random() < 0.6))
    for _ in range(rest - team_share):
        rows.append(deal(rng.choice(other_reps), rng.random() < 0.6))
    started = time.perf_counter()
    created = Deal.objects.bulk_create(rows, batch_size=2000)
    DealStageHistory.objects.bulk_create(
        [DealStageHistory(deal=d, stage=d.stage, entered_at=d.stage_entered_at)
         for d in created], batch_size=2000)
    print(f"built {len(created):,} deals ({board_deals:,} open on the board team) "
          f"in {time.perf_counter() - started:.1f} s")
    # Planner statistics, as a live database has them (PostgreSQL's autovacuum analyses;
    # SQLite needs ANALYZE / PRAGMA optimize, as `kehu demo` runs after loading).
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return board_manager, forecast_manager, forecast_team


def timed(run, repeat: int) -> list[float]:
    run()  # warm-up
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        out.append((time.perf_counter() - started) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--board-deals", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    home = fresh_home("kehu-pipeline-bench-", database_url=args.database_url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.conf import settings

    settings.ALLOWED_HOSTS = ["*"]
    from django.test import Client

    from kehu.pipeline import selectors

    board_manager, forecast_manager, team = build(args.deals, args.board_deals, args.seed)
    client = Client()
    client.force_login(board_manager)
    response = client.get("/pipeline/")
    assert response.status_code == 200, response.status_code
    board = timed(lambda: client.get("/pipeline/"), args.repeat)
    forecast_manager.refresh_from_db()

    def forecast():
        # a fresh policy each time, as each request computes one
        forecast_manager.__dict__.pop("access", None)
        return selectors.forecast(forecast_manager, months=3, team_id=team.pk)

    rows = forecast()
    forecast_times = timed(forecast, args.repeat)
    print()
    print(f"{'measure':<44} {'p50 ms':>8} {'p95 ms':>8}  goal")
    for name, values, goal in (
            (f"(a) board first paint, {args.board_deals:,} open deals", board, 300),
            (f"(b) forecast, team of 50, {args.deals:,} deals", forecast_times, 200)):
        p95 = percentile(values, 0.95)
        print(f"{name:<44} {statistics.median(values):8.1f} {p95:8.1f}  ≤ {goal} ms "
              f"{'met' if p95 <= goal else 'MISSED'}")
    print(f"forecast months: {[(r.month.isoformat(), str(r.pipeline)) for r in rows]}")
    print_machine(home)


if __name__ == "__main__":
    main()
