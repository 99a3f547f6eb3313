#!/usr/bin/env python3
"""Churn model benchmark: fit (features at the cut-off, backtest, final fit) and score a
generated book with a planted churn signal, in a fresh temporary KEHU_HOME (SQLite) or the
empty PostgreSQL database of --database-url. Prints the backtest against the RFM baseline
and the time of each step.

    PYTHONPATH=src python bench/churn_bench.py --customers 20000
    PYTHONPATH=src python bench/churn_bench.py --customers 20000 --model gbm
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _kehu_home import fresh_home, print_machine  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=20000)
    parser.add_argument("--model", choices=("logistic", "gbm"), default="logistic")
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    home = fresh_home("kehu-churn-bench-", database_url=args.database_url)
    kehu = str(Path(sys.executable).with_name("kehu"))
    subprocess.run([kehu, "migrate", "-v0"], check=True)  # noqa: S603 - our own kehu command

    import django

    django.setup()
    from django.db import connection
    from tests.insights.book import planted_churn_book

    from kehu.core.actor import Actor
    from kehu.insights import services
    from kehu.insights.models import ChurnModelFit

    actor = Actor.system(via="cli")
    started = time.perf_counter()
    planted_churn_book(n=args.customers, seed=5)
    print(f"built {args.customers:,} customers with orders, complaints and visits in "
          f"{time.perf_counter() - started:.1f} s ({connection.vendor})")
    services.churn_settings_update(actor=actor, changes={"model_kind": args.model})
    started = time.perf_counter()
    fit = services.churn_fit(actor=actor, score=False)
    fitted = time.perf_counter() - started
    started = time.perf_counter()
    counts = services.churn_score(actor=actor)
    scored = time.perf_counter() - started
    fit = ChurnModelFit.objects.get(pk=fit.pk)
    m = fit.metrics
    print(f"fit ({fit.model_kind}, {fit.labelled:,} labelled, {fit.churned:,} churned): "
          f"{fitted:.2f} s")
    print(f"score ({counts['scored']:,} customers, {counts['level_changes']:,} level events): "
          f"{scored:.2f} s")
    print(f"{'held-out backtest':22}{'AUC':>8}{'precision@top10%':>18}")
    print(f"{'model':22}{m['auc']:>8.3f}{m['precision_top_decile']:>18.3f}")
    print(f"{'RFM baseline':22}{m['baseline_auc']:>8.3f}{m['baseline_precision_top_decile']:>18.3f}")
    print(f"test customers {m['test_size']:,}, churn rate {m['churn_rate']:.3f}")
    print_machine(home)


if __name__ == "__main__":
    main()
