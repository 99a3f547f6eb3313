"""Pure-Python scoring of one pair with the trained parameters: the same comparison levels
as the Splink SQL in `model.COMPARISONS`, the same m and u probabilities, the same
term-frequency adjustment on names, without a database (score_pair runs in well under
a millisecond; Splink's own score_pair takes 100 ms or more per call).

tests/matching/test_scorer.py keeps the two in agreement: change a level's SQL in
model.py and its predicate here together.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

Row = Mapping[str, Any]


def jaro_winkler(a: str, b: str) -> float:
    """Jaro-Winkler similarity as DuckDB's jaro_winkler_similarity computes it (prefix
    weight 0.1 over at most four characters, applied when the Jaro similarity exceeds 0.7)."""
    if a == b:
        return 1.0
    len_a, len_b = len(a), len(b)
    if not len_a or not len_b:
        return 0.0
    window = max(max(len_a, len_b) // 2 - 1, 0)
    taken_b = [False] * len_b
    matched_a = []
    for i, char in enumerate(a):
        for j in range(max(0, i - window), min(len_b, i + window + 1)):
            if not taken_b[j] and b[j] == char:
                taken_b[j] = True
                matched_a.append(char)
                break
    matches = len(matched_a)
    if not matches:
        return 0.0
    matched_b = [b[j] for j in range(len_b) if taken_b[j]]
    transpositions = sum(x != y for x, y in zip(matched_a, matched_b, strict=True)) // 2
    jaro = (matches / len_a + matches / len_b + (matches - transpositions) / matches) / 3
    if jaro <= 0.7:
        return jaro
    prefix = 0
    for x, y in zip(a[:4], b[:4], strict=False):
        if x != y:
            break
        prefix += 1
    return jaro + prefix * 0.1 * (1 - jaro)


def levenshtein(a: str, b: str) -> int:
    if a == b:
        return 0
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def _eq(column: str) -> Callable[[Row, Row], bool]:
    # SQL: NULL = anything is not true.
    return lambda a, b: a[column] is not None and a[column] == b[column]


def _jw(column: str, at_least: float) -> Callable[[Row, Row], bool]:
    return lambda a, b: (a[column] is not None and b[column] is not None
                         and jaro_winkler(a[column], b[column]) >= at_least)


def _lev(column: str, at_most: int) -> Callable[[Row, Row], bool]:
    return lambda a, b: (a[column] is not None and b[column] is not None
                         and levenshtein(a[column], b[column]) <= at_most)


def _null(*columns: str) -> Callable[[Row, Row], bool]:
    return lambda a, b: any(a[c] is None or b[c] is None for c in columns)


def _other_number(a: Row, b: Row) -> bool:
    pairs = ((a["phone_1"], b["phone_2"]), (a["phone_2"], b["phone_1"]), (a["phone_2"], b["phone_2"]))
    return any(x is not None and x == y for x, y in pairs)


def _year(a: Row, b: Row) -> bool:
    return a["birthday"] is not None and b["birthday"] is not None and a["birthday"][:4] == b["birthday"][:4]


def _address_null(a: Row, b: Row) -> bool:
    return (a["address_detail"] is None or b["address_detail"] is None) and (a["city"] is None or b["city"] is None)


def _same_district(a: Row, b: Row) -> bool:
    return _eq("district")(a, b) and _eq("city")(a, b)


def _else(_a: Row, _b: Row) -> bool:
    return True


# comparison -> [(label, predicate)], top level first, exactly as model.COMPARISONS.
LEVELS: dict[str, list[tuple[str, Callable[[Row, Row], bool]]]] = {
    "name": [("missing", _null("name_pinyin")), ("exact", _eq("name_key")),
             ("same_pinyin", _eq("name_pinyin")), ("similar", _jw("name_pinyin", 0.9)),
             ("different", _else)],
    "given_name": [("missing", _null("given_pinyin")), ("exact", _eq("given_pinyin")),
                   ("similar", _jw("given_pinyin", 0.85)), ("different", _else)],
    "surname": [("missing", _null("surname_pinyin")), ("exact", _eq("surname_pinyin")),
                ("similar", _jw("surname_pinyin", 0.88)), ("different", _else)],
    "phone": [("missing", _null("phone_1")), ("exact", _eq("phone_1")),
              ("other_number", _other_number), ("different", _else)],
    "email": [("missing", _null("email")), ("exact", _eq("email")), ("typo", _lev("email", 1)),
              ("different", _else)],
    "id_number": [("missing", _null("id_number")), ("exact", _eq("id_number")),
                  ("typo", _lev("id_number", 1)), ("different", _else)],
    "birthday": [("missing", _null("birthday")), ("exact", _eq("birthday")),
                 ("typo", _lev("birthday", 1)), ("same_year", _year), ("different", _else)],
    "gender": [("missing", _null("gender")), ("exact", _eq("gender")), ("different", _else)],
    "address": [("missing", _address_null), ("exact", _eq("address_detail")),
                ("similar", _jw("address_detail", 0.88)), ("same_district", _same_district),
                ("same_city", _eq("city")), ("different", _else)],
    "postcode": [("missing", _null("postcode")), ("exact", _eq("postcode")),
                 ("typo", _lev("postcode", 1)), ("different", _else)],
    "company": [("missing", _null("company_key")), ("exact", _eq("company_key")),
                ("similar", _jw("company_key", 0.88)), ("different", _else)],
}

# The comparison and level whose weight the name's frequency adjusts (u / frequency).
TF_LEVEL = ("name", "exact")


class Scorer:
    """Scores prepared rows (features.prepare_record) with one set of parameters."""

    def __init__(self, params: Mapping[str, Any]):
        from kehu.matching.model import DEFAULT_LEVELS

        prior = params["prior"]
        self.prior_weight = math.log2(prior / (1 - prior))
        self.levels: list[tuple[str, list[tuple[str, Callable, float]]]] = []
        for name, levels in LEVELS.items():
            trained = params["levels"].get(name, {})
            compiled = []
            for label, predicate in levels:
                if label == "missing":
                    compiled.append((label, predicate, 0.0))
                    continue
                m, u = trained.get(label) or DEFAULT_LEVELS[name][label]
                compiled.append((label, predicate, math.log2(m / u)))
            self.levels.append((name, compiled))
        self.tf_u = params["levels"][TF_LEVEL[0]][TF_LEVEL[1]][1]

    def score(self, left: Row, right: Row, *, name_frequency: float | None = None
              ) -> tuple[float, float, list[tuple[str, str, float]]]:
        """(match weight in bits, probability, [(comparison, level label, weight)])."""
        total = self.prior_weight
        evidence = []
        for name, levels in self.levels:
            label, weight = next((lab, w) for lab, predicate, w in levels if predicate(left, right))
            if (name, label) == TF_LEVEL and name_frequency:
                weight += math.log2(self.tf_u / name_frequency)
            total += weight
            evidence.append((name, label, weight))
        probability = 1.0 / (1.0 + 2.0 ** -total) if total > -1000 else 0.0
        return total, probability, evidence
