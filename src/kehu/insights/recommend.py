"""Item-item recommendations from co-purchases, with a popularity fallback, and their offline
evaluation (precision@k / recall@k on a time split). Pure functions over plain data, used by
the recommendations job, the card, the product page, the tests and bench/recommend_bench.py.

Two products are associated by the customers who bought both (ever, not per basket: B2B
customers buy the accessory weeks after the machine): cosine = n(a∧b)/√(n(a)·n(b)),
lift = n(a∧b)·N/(n(a)·n(b)). A customer's candidates are scored by the sum of the cosines to
the products they own; what they own and inactive products are never offered; when fewer
than k candidates remain, the most bought products fill the list.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import combinations

MIN_TOGETHER = 2
NEIGHBOURS = 20


@dataclass(frozen=True)
class Association:
    product: int
    related: int
    together: int
    lift: float
    cosine: float


def associations(baskets: dict[int, set[int]], *, min_together: int = MIN_TOGETHER,
                 neighbours: int = NEIGHBOURS) -> list[Association]:
    """The strongest `neighbours` associations of each product (both directions)."""
    buyers: Counter[int] = Counter()
    pairs: Counter[tuple[int, int]] = Counter()
    for products in baskets.values():
        items = sorted(products)
        buyers.update(items)
        pairs.update(combinations(items, 2))
    n = max(len(baskets), 1)
    by_product: dict[int, list[Association]] = defaultdict(list)
    for (a, b), together in pairs.items():
        if together < min_together:
            continue
        cosine = together / math.sqrt(buyers[a] * buyers[b])
        lift = together * n / (buyers[a] * buyers[b])
        by_product[a].append(Association(a, b, together, lift, cosine))
        by_product[b].append(Association(b, a, together, lift, cosine))
    out = []
    for rows in by_product.values():
        rows.sort(key=lambda r: (-r.cosine, -r.together, r.related))
        out.extend(rows[:neighbours])
    return out


def popularity(baskets: dict[int, set[int]]) -> list[tuple[int, int]]:
    """(product, distinct buyers), most bought first."""
    counts: Counter[int] = Counter()
    for products in baskets.values():
        counts.update(products)
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def recommend(owned: Iterable[int], neighbours: dict[int, list[tuple[int, float]]],
              popular: list[int], *, k: int = 5,
              excluded: Iterable[int] = ()) -> list[tuple[int, float, int | None]]:
    """(product, score, because-of product or None for the popularity fill), best first."""
    owned = set(owned)
    skip = owned | set(excluded)
    scores: dict[int, float] = defaultdict(float)
    because: dict[int, tuple[float, int]] = {}
    for a in owned:
        for b, cosine in neighbours.get(a, ()):
            if b in skip:
                continue
            scores[b] += cosine
            if cosine > because.get(b, (0.0, 0))[0]:
                because[b] = (cosine, a)
    ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:k]
    out = [(b, round(score, 4), because[b][1]) for b, score in ranked]
    taken = {b for b, _s, _w in out}
    for b in popular:
        if len(out) >= k:
            break
        if b not in skip and b not in taken:
            out.append((b, 0.0, None))
            taken.add(b)
    return out


def evaluate(purchases: Iterable[tuple[int, int, dt.date]], split: dt.date, *, k: int = 5,
             popularity_only: bool = False) -> dict[str, float]:
    """Train on purchases before `split`, test on what each customer bought on or after it
    that they did not own before (customers with history on both sides only)."""
    before: dict[int, set[int]] = defaultdict(set)
    after: dict[int, set[int]] = defaultdict(set)
    for customer, product, day in purchases:
        (before if day < split else after)[customer].add(product)
    neighbours: dict[int, list[tuple[int, float]]] = defaultdict(list)
    if not popularity_only:
        for row in associations(before):
            neighbours[row.product].append((row.related, row.cosine))
    popular = [p for p, _n in popularity(before)]
    precision = recall = 0.0
    tested = 0
    for customer, later in after.items():
        owned = before.get(customer)
        if not owned:
            continue
        relevant = later - owned
        if not relevant:
            continue
        picks = [p for p, _s, _w in recommend(owned, neighbours, popular, k=k)]
        hits = len(set(picks) & relevant)
        precision += hits / k
        recall += hits / len(relevant)
        tested += 1
    return {"customers": tested,
            "precision_at_k": precision / tested if tested else 0.0,
            "recall_at_k": recall / tested if tested else 0.0}
