"""The pure arithmetic of RFM: quintile scores with a deterministic tie rule, the classic
segment map and the business tiers. No database here, so it is tested by hand-checked cases.

Tie rule: a value's score is ``1 + floor(5 * below / n)`` where ``below`` is how many scored
values are strictly worse and ``n`` the scored population. Equal values therefore always get
equal scores, the best value can reach 5 and the worst always gets 1; with many ties a score
may be skipped (as with SQL's RANK()) and a value tied at the top may stay below 5. Ties at
the bottom are common (most customers buy once), and this rule keeps them all at 1.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal


def quintile_scores(values: Sequence) -> tuple[list[int], list]:
    """Scores 1-5 for `values` (higher value, higher score) and the boundaries: the smallest
    value that reaches scores 2, 3, 4 and 5 (None when no value reaches it)."""
    n = len(values)
    if n == 0:
        return [], [None, None, None, None]
    ordered = sorted(values)
    scores = [1 + (5 * bisect.bisect_left(ordered, v)) // n for v in values]
    boundaries = []
    for score in (2, 3, 4, 5):
        need = -(-(score - 1) * n // 5)  # fewest values strictly below that reach `score`
        if need >= n:
            boundaries.append(None)
            continue
        value = ordered[need]
        if bisect.bisect_left(ordered, value) < need:  # tied with values below: next one
            after = bisect.bisect_right(ordered, value)
            value = ordered[after] if after < n else None
        boundaries.append(value)
    return scores, boundaries


def rfm_segment_of(r: int, f: int) -> str:
    """The classic segment map on R and F scores."""
    if r == 5 and f >= 4:
        return "champions"
    if r in (3, 4) and f >= 4:
        return "loyal"
    if r >= 4 and f in (2, 3):
        return "potential_loyalists"
    if r == 5 and f == 1:
        return "new"
    if r == 4 and f == 1:
        return "promising"
    if r == 3 and f == 3:
        return "need_attention"
    if r == 3 and f <= 2:
        return "about_to_sleep"
    if r <= 2 and f == 5:
        return "cant_lose"
    if r <= 2 and f >= 3:
        return "at_risk"
    return "hibernating"


@dataclass(frozen=True)
class TierRules:
    """The configurable thresholds of the four business tiers (see ScoringSettings)."""

    high_min_score: int = 4
    high_spend_threshold: Decimal | None = Decimal("50000")
    potential_min_r: int = 4
    potential_max_fm: int = 2


def value_tier_of(*, scores: tuple[int, int, int] | None, monetary: Decimal, dormant: bool,
                  rules: TierRules, purchased: bool = True) -> str:
    """No purchases first (never bought: a lead is not a sleeping customer), then dormant (no
    purchase or interaction for the configured days), then high value (R, F and M all at
    least the minimum score, or spend over the threshold), then potential (recent but F and
    M low), otherwise general."""
    if not purchased:
        return "no_purchases"
    if dormant:
        return "dormant"
    if scores is None:
        return "general"
    r, f, m = scores
    if min(r, f, m) >= rules.high_min_score or (
            rules.high_spend_threshold is not None and monetary >= rules.high_spend_threshold):
        return "high_value"
    if r >= rules.potential_min_r and f <= rules.potential_max_fm and m <= rules.potential_max_fm:
        return "potential"
    return "general"
