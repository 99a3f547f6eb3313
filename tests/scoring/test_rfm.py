"""The arithmetic: quintiles with ties, the segment map and the tiers, checked by hand."""

from decimal import Decimal

import pytest

from kehu.scoring.rfm import TierRules, quintile_scores, rfm_segment_of, value_tier_of


def test_quintiles_of_distinct_values():
    assert quintile_scores([10, 20, 30, 40, 50]) == ([1, 2, 3, 4, 5], [20, 30, 40, 50])
    assert quintile_scores(list(range(10))) == ([1, 1, 2, 2, 3, 3, 4, 4, 5, 5], [2, 4, 6, 8])


def test_equal_values_get_equal_scores():
    scores, bounds = quintile_scores([1, 2, 2, 2, 2, 3, 4, 5, 6, 7])
    assert scores == [1, 1, 1, 1, 1, 3, 4, 4, 5, 5]
    assert bounds == [3, 3, 4, 6]
    assert quintile_scores([7, 7, 7]) == ([1, 1, 1], [None, None, None, None])
    assert quintile_scores([1, 1, 1, 1, 2]) == ([1, 1, 1, 1, 5], [2, 2, 2, 2])
    assert quintile_scores([]) == ([], [None, None, None, None])


def test_order_of_input_does_not_matter():
    values = [5, 3, 9, 3, 1, 9, 9]
    scores, _ = quintile_scores(values)
    assert dict(zip(values, scores, strict=True)) == {1: 1, 3: 1, 5: 3, 9: 3}


@pytest.mark.parametrize(("r", "f", "segment"), [
    (5, 5, "champions"), (5, 4, "champions"), (4, 5, "loyal"), (3, 4, "loyal"),
    (5, 3, "potential_loyalists"), (4, 2, "potential_loyalists"), (5, 1, "new"),
    (4, 1, "promising"), (3, 3, "need_attention"), (3, 2, "about_to_sleep"),
    (3, 1, "about_to_sleep"), (2, 4, "at_risk"), (1, 3, "at_risk"), (2, 5, "cant_lose"),
    (1, 5, "cant_lose"), (2, 2, "hibernating"), (1, 1, "hibernating"),
])
def test_segment_map(r, f, segment):
    assert rfm_segment_of(r, f) == segment


def test_every_cell_has_a_segment():
    assert {rfm_segment_of(r, f) for r in range(1, 6) for f in range(1, 6)} == {
        "champions", "loyal", "potential_loyalists", "new", "promising", "need_attention",
        "about_to_sleep", "at_risk", "cant_lose", "hibernating"}


def test_tiers():
    rules = TierRules(high_min_score=4, high_spend_threshold=Decimal("1000"),
                      potential_min_r=4, potential_max_fm=2)

    def tier(scores, monetary="10", dormant=False):
        return value_tier_of(scores=scores, monetary=Decimal(monetary), dormant=dormant,
                             rules=rules)

    assert tier((4, 4, 4)) == "high_value"
    assert tier((1, 1, 1), monetary="1000") == "high_value"
    assert tier((5, 5, 5), dormant=True) == "dormant"
    assert tier((4, 2, 2)) == "potential"
    assert tier((4, 3, 2)) == "general"
    assert tier((3, 1, 1)) == "general"
    assert tier(None) == "general"
    assert tier(None, dormant=True) == "dormant"
    for dormant in (False, True):  # never bought: "no purchases", asleep or not
        assert value_tier_of(scores=None, monetary=Decimal("0"), dormant=dormant, rules=rules,
                             purchased=False) == "no_purchases"
    no_threshold = TierRules(high_spend_threshold=None)
    assert value_tier_of(scores=(1, 1, 1), monetary=Decimal("10000000"), dormant=False,
                         rules=no_threshold) == "general"
