"""Scoring and clustering: the public functions of kehu.matching run here.

predict_pairs registers the prepared rows in an in-memory DuckDB and lets Splink block
and score them with the shipped parameters; score_pair scores one pair with a cached
linker; cluster groups the pairs, strongest first, refusing links that would join records
with contradicting hard facts (two ID numbers, two birthdays, two genders).
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from kehu.matching.features import COLUMNS, prepare_record
from kehu.matching.model import COMPARISONS, LABELS, settings, trained


@dataclass(frozen=True)
class FieldEvidence:
    """One field's part in a score: `weight` in bits, positive for a match."""

    field: str
    label: str
    weight: float


@dataclass(frozen=True)
class MatchPair:
    """Two records and how likely they are the same person, with the evidence per field."""

    left_id: Any
    right_id: Any
    probability: float
    explanation: list[FieldEvidence]
    match_weight: float = 0.0
    # Hard facts of each side (valid ID number, birthday, gender) for guarded clustering.
    left_facts: tuple = field(default=(), repr=False, compare=False)
    right_facts: tuple = field(default=(), repr=False, compare=False)


def _arrow_schema():
    import pyarrow as pa

    return pa.schema([(c, pa.bool_() if c == "id_valid" else pa.string()) for c in COLUMNS])


PARALLEL_FROM = 100_000  # records; below this a second process costs more than it saves
_CHUNK = 50_000


def arrow_table(records: Iterable[Mapping[str, Any]]):
    """Prepared rows as a pyarrow table; large inputs are prepared on every core."""
    import pyarrow as pa

    records = records if isinstance(records, list) else list(records)
    workers = min(os.cpu_count() or 1, 8)
    if len(records) >= PARALLEL_FROM and workers > 1 and "fork" in mp.get_all_start_methods():
        chunks = [records[i:i + _CHUNK] for i in range(0, len(records), _CHUNK)]
        with mp.get_context("fork").Pool(workers) as pool:
            return pa.concat_tables(pool.map(_arrow_chunk, chunks))
    return _arrow_chunk(records)


def _arrow_chunk(records: list[Mapping[str, Any]]):
    """Prepared rows as a pyarrow table, column by column (light on memory)."""
    import pyarrow as pa

    columns: dict[str, list] = {c: [] for c in COLUMNS}
    appenders = [(c, columns[c].append) for c in COLUMNS]
    for record in records:
        row = prepare_record(record)
        for column, append in appenders:
            append(row[column])
    return pa.Table.from_pydict(columns, schema=_arrow_schema())


def _facts(row: Mapping[str, Any]) -> tuple:
    return (row["id_number"] if row["id_valid"] else None, row["birthday"], row["gender"])


def _explain(row: Mapping[str, Any]) -> list[FieldEvidence]:
    params = trained()
    evidence = []
    for name, (field_name, levels) in COMPARISONS.items():
        gamma = row.get(f"gamma_{name}")
        if gamma is None:
            continue
        # Splink numbers levels top-down from len-2 (the null level is -1).
        label_key = "missing" if gamma == -1 else levels[len(levels) - 1 - gamma]["label_for_charts"]
        m_u = params["levels"].get(name, {}).get(label_key)
        weight = math.log2(m_u[0] / m_u[1]) if m_u and gamma != -1 else 0.0
        tf = row.get(f"bf_tf_adj_{name}")
        if tf and tf > 0:
            weight += math.log2(tf)
        evidence.append(FieldEvidence(field=name if name == "given_name" else field_name,
                                      label=str(LABELS[label_key]), weight=round(weight, 3)))
    evidence.sort(key=lambda e: -abs(e.weight))
    return evidence


def _linker(table):
    from splink import Linker
    from splink.backends.duckdb import DuckDBAPI

    db_api = DuckDBAPI()
    return Linker(db_api.register(table), settings("duckdb"), log_level=None)


def predict_pairs(records: Iterable[Mapping[str, Any]], *, threshold: float = 0.9) -> list:
    """Every blocked pair scoring at least `threshold`, explained (see docs/matching.md)."""
    records = list(records)
    originals: dict[str, Any] = {}
    for record in records:
        key = str(record.get("id"))
        if key in originals:
            raise ValueError(f"duplicate id in match records: {key!r}")
        originals[key] = record.get("id")
    if len(records) < 2:
        return []
    table = arrow_table(records)
    facts = dict(zip(table.column("unique_id").to_pylist(),
                     zip(table.column("id_number").to_pylist(), table.column("id_valid").to_pylist(),
                         table.column("birthday").to_pylist(), table.column("gender").to_pylist(),
                         strict=True), strict=True))
    linker = _linker(table)
    result = linker.inference.predict(threshold_match_probability=threshold)
    rows = result.as_pyarrow_table().to_pylist()
    pairs = []
    for row in rows:
        left, right = row["unique_id_l"], row["unique_id_r"]
        pairs.append(MatchPair(
            left_id=originals[left], right_id=originals[right],
            probability=float(row["match_probability"]), explanation=_explain(row),
            match_weight=round(float(row["match_weight"]), 3),
            left_facts=_fact_tuple(facts[left]), right_facts=_fact_tuple(facts[right])))
    return pairs


def _fact_tuple(raw: tuple) -> tuple:
    id_number, valid, birthday, gender = raw
    return (id_number if valid else None, birthday, gender)


_SCORE_LOCK = threading.Lock()


@cache
def _pair_linker():
    import pyarrow as pa

    empty = pa.Table.from_pylist([prepare_record({"id": "0"})], schema=_arrow_schema())
    return _linker(empty)


@cache
def _neutral_name_tf() -> float:
    # A name frequency equal to the exact level's u leaves the weight as trained.
    return trained()["levels"]["name"]["exact"][1]


def score_pair(a: Mapping[str, Any], b: Mapping[str, Any], *, name_frequency: float | None = None):
    """Score one pair with the shipped parameters (no training, no database).

    `name_frequency` is the share of customers with this name, when the caller knows it
    (张伟 is common: a shared name then counts for less); by default it counts as average.
    """
    left, right = prepare_record({**a, "id": "l"}), prepare_record({**b, "id": "r"})
    tf = name_frequency if name_frequency is not None else _neutral_name_tf()
    left["tf_name_key"] = right["tf_name_key"] = tf
    with _SCORE_LOCK:  # one DuckDB connection; Django may call from several threads
        row = _pair_linker().inference.score_pair(left, right).as_record_list()[0]
    return MatchPair(
        left_id=a.get("id"), right_id=b.get("id"), probability=float(row["match_probability"]),
        explanation=_explain(row), match_weight=round(float(row["match_weight"]), 3),
        left_facts=_facts(left), right_facts=_facts(right))


def _near(day_a: str, day_b: str) -> bool:
    """Same date, or one that a slip of the keyboard makes (two digits at most differ)."""
    return sum(x != y for x, y in zip(day_a, day_b, strict=False)) <= 2


class _Groups:
    """Union-find whose groups remember their hard facts."""

    def __init__(self):
        self.parent: dict[Any, Any] = {}
        self.facts: dict[Any, tuple[set, set, set]] = {}

    def add(self, item, facts: tuple) -> Any:
        if item not in self.parent:
            self.parent[item] = item
            id_number, birthday, gender = (facts + (None, None, None))[:3]
            self.facts[item] = ({id_number} - {None}, {birthday} - {None}, {gender} - {None})
        return self.find(item)

    def find(self, item):
        root = item
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[item] != root:
            self.parent[item], item = root, self.parent[item]
        return root

    def conflict(self, a, b) -> bool:
        """Two valid ID numbers, male and female, or birthdays too far apart for a typo."""
        (ids_a, days_a, genders_a), (ids_b, days_b, genders_b) = self.facts[a], self.facts[b]
        if (ids_a and ids_b and not ids_a & ids_b) or (genders_a and genders_b and not genders_a & genders_b):
            return True
        return bool(days_a and days_b) and not any(_near(x, y) for x in days_a for y in days_b)

    def union(self, a, b) -> None:
        self.parent[b] = a
        self.facts[a] = tuple(x | y for x, y in zip(self.facts[a], self.facts[b], strict=True))
        del self.facts[b]


def cluster(pairs: Iterable[MatchPair], *, threshold: float = 0.9) -> dict[Any, Any]:
    """id -> cluster id (the smallest id of its group by str) for ids in a kept pair."""
    groups = _Groups()
    for pair in sorted((p for p in pairs if p.probability >= threshold),
                       key=lambda p: (-p.match_weight, -p.probability, str(p.left_id), str(p.right_id))):
        a = groups.add(pair.left_id, pair.left_facts)
        b = groups.add(pair.right_id, pair.right_facts)
        if a == b or groups.conflict(a, b):
            continue
        groups.union(a, b)
    members: dict[Any, list] = {}
    for item in groups.parent:
        members.setdefault(groups.find(item), []).append(item)
    result = {}
    for items in members.values():
        if len(items) < 2:
            continue
        head = min(items, key=str)
        for item in items:
            result[item] = head
    return result
