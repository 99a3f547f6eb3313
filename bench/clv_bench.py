#!/usr/bin/env python3
"""Customer-base model benchmark: the CDNOW fit beside the paper, then fitting and scoring a
generated book on SQLite (or the empty PostgreSQL database of --database-url).

(1) CDNOW sample (../shared/data/cdnow): BG/NBD, Gamma-Gamma and Pareto/NBD fitted, printed
    beside Fader, Hardie & Lee (2005), with the time of each fit.
(2) A book of --customers customers (default 1,000,000) whose orders are drawn from the
    BG/NBD process (about five orders each) is written to a fresh KEHU_HOME, then, in this
    process:
      fit    = reading every purchase from the database + summary + BG/NBD + Gamma-Gamma,
      score  = P(alive), expected purchases, order value, CLV for every buyer + writing the
               prediction rows (multi-row upserts),
    and the whole `kehu score clv --full` run (which adds the holdout validation fit).

Goals (issue 16): fit <= 30 s and score <= 30 s at 1,000,000 customers / 5,000,000 orders
on 2 cores. Prints figures; exits 0.

    .venv/bin/python bench/clv_bench.py --customers 20000        # a quick check
    .venv/bin/python bench/clv_bench.py                          # the full figure
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL_S = 30.0
PAPER = {"bgnbd": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "log_likelihood": -9582.4},
         "gamma_gamma": {"p": 6.25, "q": 3.74, "v": 15.44},
         "pareto": {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669},
         "holdout": {"correlation": 0.626}}


def cdnow() -> None:
    from kehu.prediction import btyd
    from kehu.prediction.fitting import fit_transactions
    from kehu.prediction.transactions_file import read_transactions

    path = next((p for p in (ROOT.parent / "shared" / "data" / "cdnow" / "CDNOW_sample.txt",
                             Path("/work/shared/data/cdnow/CDNOW_sample.txt")) if p.exists()),
                None)
    if path is None:
        print("CDNOW sample not found in ../shared/data/cdnow: skipped")
        return
    data = read_transactions(path)
    end = btyd.day_number("1997-09-30")
    rows = []
    for model in ("bgnbd", "pareto"):
        started = time.perf_counter()
        report = fit_transactions(data.customer_ids, data.days, data.amounts,
                                  calibration_end=end, model=model)
        seconds = time.perf_counter() - started
        ours = report.contract()
        for name, published in PAPER[model].items():
            rows.append((f"{model} {name}", published, ours[model][name]))
        if model == "bgnbd":
            for name, published in PAPER["gamma_gamma"].items():
                rows.append((f"gamma_gamma {name}", published, ours["gamma_gamma"][name]))
            rows.append(("holdout correlation", 0.626, ours["holdout"]["correlation"]))
        rows.append((f"{model} fit + Gamma-Gamma + holdout (s)", None, seconds))
    print("CDNOW sample, calibration to 1997-09-30, 39-week holdout (weeks)")
    print(f"{'figure':<42}{'paper':>12}{'kehu':>14}{'diff':>10}")
    for name, published, ours in rows:
        if published is None:
            print(f"{name:<42}{'':>12}{ours:>14.3f}")
            continue
        diff = (f"{abs(ours - published):.2f}" if name.endswith("log_likelihood")
                else f"{100 * (ours - published) / published:+.2f}%")
        print(f"{name:<42}{published:>12.5g}{ours:>14.4f}{diff:>10}")
    print()


def build(customers: int, seed: int) -> int:
    """Customers (bulk_create) and their BG/NBD orders (multi-row inserts), 50,000
    customers a transaction. Returns the number of orders."""
    from datetime import timedelta

    import numpy as np
    from django.db import transaction
    from django.utils import timezone

    from kehu.core.bulkdb import insert_rows
    from kehu.customers.models import Customer
    from kehu.prediction.synthetic import bgnbd_purchases
    from kehu.transactions.models import Order

    ids, days, amounts = bgnbd_purchases(customers, days=730, cohort_days=365, r=0.6,
                                         alpha=3.0, seed=seed)
    now = timezone.now().replace(microsecond=0)
    start = now - timedelta(days=730)
    step = 50_000
    bounds = np.searchsorted(ids, np.arange(0, customers + step, step))
    number = 0
    for chunk, first in enumerate(range(0, customers, step)):
        size = min(step, customers - first)
        with transaction.atomic():
            made = Customer.objects.bulk_create(
                [Customer(name=f"客户{first + i}", lifecycle_stage="customer")
                 for i in range(size)], batch_size=5000)
            pks = np.array([c.pk for c in made])
            lo, hi = bounds[chunk], bounds[chunk + 1]
            rows = []
            for c, d, a in zip(ids[lo:hi].tolist(), days[lo:hi].tolist(),
                               amounts[lo:hi].tolist(), strict=True):
                number += 1
                at = start + timedelta(days=d, minutes=(number * 37) % 1200)
                rows.append((int(pks[c - first]), f"B{number:09d}", "completed", at,
                             f"{a:.2f}", "", "", "", now))
            insert_rows(Order, ("customer", "number", "status", "ordered_at", "total_amount",
                                "payment_method", "sales_channel", "notes", "created_at"),
                        rows)
        print(f"  {first + size:,} customers, {number:,} orders", end="\r", flush=True)
    print()
    return number


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--database-url", help="an EMPTY PostgreSQL database to build into")
    parser.add_argument("--skip-cdnow", action="store_true")
    parser.add_argument("--home", help="reuse a book built earlier in this KEHU_HOME")
    args = parser.parse_args()

    home = args.home or tempfile.mkdtemp(prefix="kehu-clv-bench-")
    os.environ["KEHU_HOME"] = home
    os.environ.pop("DATABASE_URL", None)
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "kehu.settings"
    sys.path.insert(0, str(ROOT / "src"))
    import django

    django.setup()
    if not args.skip_cdnow:
        cdnow()

    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from kehu.core.actor import Actor
    from kehu.customers.models import Customer
    from kehu.prediction import services
    from kehu.prediction.fitting import EPOCH, fit_transactions
    from kehu.prediction.models import ModelFit
    from kehu.transactions.models import Order

    call_command("migrate", verbosity=0)
    if args.home:
        args.customers = Customer.objects.count()
        print(f"reusing {args.customers:,} customers and {Order.objects.count():,} orders "
              f"({home})")
    else:
        started = time.perf_counter()
        orders = build(args.customers, args.seed)
        print(f"built {args.customers:,} customers and {orders:,} orders on "
              f"{connection.vendor} in {time.perf_counter() - started:.1f} s ({home})")

    actor = Actor.system(via="cli")
    now = timezone.now()
    as_of = timezone.localdate(now)
    clock = Clock()
    with clock("read"):
        ids, days, amounts = services.load_purchases(until=as_of)
    with clock("model"):
        report = fit_transactions(ids, days, amounts, calibration_end=(as_of - EPOCH).days,
                                  unit_days=services.UNIT_DAYS)
    m, gg = report.model, report.gamma_gamma
    print(f"BG/NBD {', '.join(f'{k}={v:.3f}' for k, v in m.params().items())}; "
          f"Gamma-Gamma p={gg.p:.3f} q={gg.q:.3f} v={gg.v:.3f}; "
          f"{len(report.summary):,} buyers")
    ModelFit.objects.filter(triggered_by="bench").delete()
    fit = ModelFit.objects.create(model="bgnbd", as_of=as_of, created_at=now, triggered_by="bench",
                                  params=m.params(), log_likelihood=m.log_likelihood,
                                  customers=len(report.summary))
    with clock("compute"):
        rows = services._score_rows(report.summary, m, gg, fit=fit, now=now)
    with clock("write"):
        services._write(rows, actor=actor, now=now, full=True)
    with clock("whole"):
        whole = services.clv_score(actor=actor, full=True)
    scale = 1_000_000 / max(args.customers, 1)

    def line(label: str, parts: tuple[str, ...], detail: str) -> None:
        wall = sum(clock.wall[p] for p in parts)
        cpu = sum(clock.cpu[p] for p in parts)
        verdict = "met" if wall * scale <= GOAL_S else "missed"
        print(f"{label:<6}{wall:7.2f} s wall, {cpu:6.2f} s CPU  ({detail})  per 1M (linear): "
              f"{wall * scale:.1f} s wall, {cpu * scale:.1f} s CPU; goal <= {GOAL_S:.0f} s "
              f"wall: {verdict}")

    print()
    line("fit", ("read", "model"), f"read purchases {clock.wall['read']:.2f} s, summary + "
         f"BG/NBD + Gamma-Gamma {clock.wall['model']:.2f} s")
    line("score", ("compute", "write"), f"compute {clock.wall['compute']:.2f} s, write "
         f"{len(rows):,} rows {clock.wall['write']:.2f} s")
    print(f"whole `kehu score clv --full` run (with the holdout validation fit, rows "
          f"rewritten): {clock.wall['whole']:.2f} s wall, {clock.cpu['whole']:.2f} s CPU; "
          f"status {whole.status}, holdout correlation {whole.holdout_correlation:.3f}")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
          "(wall figures stretch with it; CPU figures much less)")


class Clock:
    """Wall and process CPU seconds of named sections (SQLite runs in this process, so its
    work is in the CPU figure; a busy shared machine stretches only the wall figure)."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str):
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.wall[name] = time.perf_counter() - wall
            self.cpu[name] = time.process_time() - cpu


if __name__ == "__main__":
    main()
