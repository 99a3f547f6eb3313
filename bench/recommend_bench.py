#!/usr/bin/env python3
"""Recommendations, evaluated offline: precision@5 and recall@5 on a time split, item-item
co-purchase (kehu.insights.recommend) against the popularity baseline, and the time to build
the associations.

The book is synthetic and seeded: a catalogue of product families (a main product and its
accessories, e.g. printer → toner, paper, stand); each customer buys a main product, then
some of its accessories over the following months, plus Zipf-popular noise. Purchases
before the split train; what each customer newly bought after it is the truth.

    PYTHONPATH=src python bench/recommend_bench.py                   # 20,000 customers
    PYTHONPATH=src python bench/recommend_bench.py --customers 200000

Prints figures; exits 0. No database needed (the algorithm is the one the nightly job runs).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from kehu.insights.recommend import associations, evaluate  # noqa: E402


def book(customers: int, families: int, accessories: int, noise: int, seed: int):
    rng = random.Random(seed)
    start = dt.date(2025, 1, 1)
    noise_products = list(range(families * (accessories + 1), families * (accessories + 1)
                                + noise))
    weights = [1 / (rank + 1) for rank in range(noise)]
    purchases = []
    for c in range(customers):
        family = min(int(rng.paretovariate(1.2)) - 1, families - 1)
        main = family * (accessories + 1)
        day = start + dt.timedelta(days=rng.randint(0, 540))
        purchases.append((c, main, day))
        for a in range(1, accessories + 1):
            if rng.random() < 0.6 / a:
                purchases.append((c, main + a, day + dt.timedelta(days=rng.randint(7, 240))))
        for _k in range(rng.randint(0, 3)):
            product = rng.choices(noise_products, weights)[0]
            purchases.append((c, product, start + dt.timedelta(days=rng.randint(0, 720))))
    return purchases, start + dt.timedelta(days=450)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=20000)
    parser.add_argument("--families", type=int, default=40)
    parser.add_argument("--accessories", type=int, default=3)
    parser.add_argument("--noise", type=int, default=200)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("-k", type=int, default=5)
    args = parser.parse_args()

    t0 = time.perf_counter()
    purchases, split = book(args.customers, args.families, args.accessories, args.noise,
                            args.seed)
    made = time.perf_counter() - t0
    print(f"book: {args.customers:,} customers, {len(purchases):,} purchases, "
          f"{args.families * (args.accessories + 1) + args.noise} products "
          f"(generated in {made:.1f} s); split {split.isoformat()}")
    baskets: dict[int, set[int]] = {}
    for c, p, day in purchases:
        if day < split:
            baskets.setdefault(c, set()).add(p)
    t0 = time.perf_counter()
    rows = associations(baskets)
    built = time.perf_counter() - t0
    print(f"associations: {len(rows):,} pairs from {len(baskets):,} baskets in {built:.2f} s")
    t0 = time.perf_counter()
    model = evaluate(purchases, split, k=args.k)
    took = time.perf_counter() - t0
    baseline = evaluate(purchases, split, k=args.k, popularity_only=True)
    print(f"{'':22}{'precision@' + str(args.k):>14}{'recall@' + str(args.k):>12}")
    print(f"{'co-purchase (item-item)':22}{model['precision_at_k']:>14.4f}"
          f"{model['recall_at_k']:>12.4f}")
    print(f"{'popularity baseline':22}{baseline['precision_at_k']:>14.4f}"
          f"{baseline['recall_at_k']:>12.4f}")
    lift = (model["precision_at_k"] / baseline["precision_at_k"]
            if baseline["precision_at_k"] else float("inf"))
    print(f"test customers: {model['customers']:,}; precision ratio {lift:.2f}x; "
          f"evaluation (fit + recommend for every test customer) {took:.2f} s")


if __name__ == "__main__":
    main()
