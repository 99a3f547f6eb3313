"""Scoring and clustering: the public functions of kehu.matching run here.

predict_pairs registers the prepared rows in an in-memory DuckDB and lets Splink block
and score them with the shipped parameters; score_pair scores one pair with a cached
linker; cluster groups the pairs, strongest first, refusing links that would join records
with contradicting hard facts (two ID numbers, two birthdays, two genders).
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from kehu.matching.features import _IS_CJK, COLUMNS, prepare_record
from kehu.matching.model import COMPARISONS, LABELS, settings, trained
from kehu.matching.scorer import LEVELS, Scorer


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


def _evidence(name: str, label_key: str, weight: float) -> FieldEvidence:
    field_name = COMPARISONS[name][0]
    return FieldEvidence(field=name if name in ("given_name", "surname") else field_name,
                         label=str(LABELS[label_key]), weight=round(weight, 3))


def _explain(row: Mapping[str, Any]) -> list[FieldEvidence]:
    """Each comparison's level and match weight (log2 Bayes factor, with the name's
    term-frequency adjustment) from a row of Splink's predictions. Splink 5 returns the
    weights (mw_*) but not the levels, so the level is found by the same predicates the
    pure-Python scorer uses, on the matching columns (retain_matching_columns)."""
    left = {column: row.get(f"{column}_l") for column in COLUMNS}
    right = {column: row.get(f"{column}_r") for column in COLUMNS}
    evidence = []
    for name, levels in LEVELS.items():
        label_key = next(label for label, predicate in levels if predicate(left, right))
        weight = 0.0 if label_key == "missing" else float(row.get(f"mw_{name}") or 0.0)
        weight += float(row.get(f"mw_tf_adj_{name}") or 0.0)
        evidence.append(_evidence(name, label_key, weight))
    evidence.sort(key=lambda e: -abs(e.weight))
    return evidence


def _linker(table, params: dict[str, Any] | None = None):
    from splink import Linker
    from splink.backends.duckdb import DuckDBAPI

    db_api = DuckDBAPI()
    built = settings("duckdb", params)
    built["retain_matching_columns"] = True  # _explain reads the compared values
    return Linker(db_api.register(table), built, log_level=None)


# Auto-training (predict_pairs(train="auto"), kehu match): an input at least this large
# whose names are mostly not in Chinese script is unlike the data the shipped parameters
# were trained on, and has enough pairs for expectation maximisation.
TRAIN_FROM = 1000
_PROFILE_SAMPLE = 5000


def needs_training(records: Iterable[Mapping[str, Any]]) -> bool:
    """Whether train="auto" trains on these records (see docs/matching.md)."""
    records = records if isinstance(records, list) else list(records)
    if len(records) < TRAIN_FROM:
        return False
    step = max(1, len(records) // _PROFILE_SAMPLE)
    names = [" ".join(str(r.get(k) or "") for k in ("name", "surname", "given_name")).strip()
             for r in records[::step]]
    names = [n for n in names if n]
    chinese = sum(1 for n in names if _IS_CJK.search(n))
    return not names or chinese < len(names) / 2


def predict_pairs(records: Iterable[Mapping[str, Any]], *, threshold: float = 0.9,
                  train: bool | str = False) -> list:
    """Every blocked pair scoring at least `threshold`, explained (see docs/matching.md).

    train=False scores with the shipped parameters; True first estimates them on these
    records (unsupervised, a few seconds); "auto" trains when `needs_training` says so.
    """
    records = list(records)
    originals: dict[str, Any] = {}
    for record in records:
        key = str(record.get("id"))
        if key in originals:
            raise ValueError(f"duplicate id in match records: {key!r}")
        originals[key] = record.get("id")
    if len(records) < 2:
        return []
    if train not in (True, False, "auto"):
        raise ValueError(f"train must be True, False or 'auto', not {train!r}")
    fit = train is True or (train == "auto" and needs_training(records))
    table = arrow_table(records)
    facts = dict(zip(table.column("unique_id").to_pylist(),
                     zip(table.column("id_number").to_pylist(), table.column("id_valid").to_pylist(),
                         table.column("birthday").to_pylist(), table.column("gender").to_pylist(),
                         strict=True), strict=True))
    params = None
    if fit:
        from kehu.matching.model import train as estimate

        params = estimate(table, out=None)
    linker = _linker(table, params)
    result = linker.inference.predict(threshold_match_probability=threshold)
    rows = result.as_pyarrow_table().to_pylist()
    guard_birthdays = (params or trained())["levels"]["birthday"]["different"][0] <= GUARD_BIRTHDAYS_UP_TO
    pairs = []
    for row in rows:
        left, right = row["unique_id_l"], row["unique_id_r"]
        pairs.append(MatchPair(
            left_id=originals[left], right_id=originals[right],
            probability=float(row["match_probability"]), explanation=_explain(row),
            match_weight=round(float(row["match_weight"]), 3),
            left_facts=_fact_tuple(facts[left], guard_birthdays),
            right_facts=_fact_tuple(facts[right], guard_birthdays)))
    return pairs


# cluster() refuses to join records whose birthdays differ beyond a typo, unless the model
# says the data often carries a person's birthday wrong: a trained m(birthday different)
# above this share (FEBRL: 0.07; the shipped model: 0.01) turns the birthday guard off.
GUARD_BIRTHDAYS_UP_TO = 0.02


def _fact_tuple(raw: tuple, guard_birthdays: bool = True) -> tuple:
    id_number, valid, birthday, gender = raw
    return (id_number if valid else None, birthday if guard_birthdays else None, gender)


@cache
def _scorer() -> Scorer:
    return Scorer(trained())


def stored_name_frequency(row: Mapping[str, Any]) -> float | None:
    """The share of the training data bearing this name (model.json keeps the common ones)."""
    return trained().get("name_frequencies", {}).get(row["name_key"]) if row["name_key"] else None


def score_pair(a: Mapping[str, Any], b: Mapping[str, Any], *, name_frequency: float | None = None):
    """Score one pair with the shipped parameters (pure Python: no training, no database).

    `name_frequency` is the share of customers with this name, when the caller knows it
    (张伟 is common: a shared name then counts for less); by default the frequency stored
    with the model for common names, else the name counts as average.
    """
    left, right = prepare_record({**a, "id": "l"}), prepare_record({**b, "id": "r"})
    if name_frequency is None:
        name_frequency = stored_name_frequency(left)
    weight, probability, levels = _scorer().score(left, right, name_frequency=name_frequency)
    explanation = sorted((_evidence(name, label, w) for name, label, w in levels),
                         key=lambda e: -abs(e.weight))
    return MatchPair(
        left_id=a.get("id"), right_id=b.get("id"), probability=probability,
        explanation=explanation, match_weight=round(weight, 3),
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


def name_agreement(a: str, b: str) -> str:
    """How two names compare, by the model's own name levels: "exact" (the same once
    simplified and spaced alike: 張偉 / 张伟), "same_pinyin" (李寻欢 / 李尋歡 / Li Xunhuan,
    or a homophone typo), "similar" (pinyin nearly the same: a typo), "different", or
    "missing" when either is empty."""
    from kehu.matching.features import _name
    from kehu.matching.scorer import LEVELS

    rows = []
    for raw in (a, b):
        key, pinyin, _surname, _given = _name(str(raw)) if str(raw or "").strip() else (
            None, None, None, None)
        rows.append({"name_key": key, "name_pinyin": pinyin})
    return next(label for label, predicate in LEVELS["name"] if predicate(rows[0], rows[1]))


def names_conflict(a: str, b: str) -> bool:
    """Whether two names clearly name two people (not a variant or typo of one name)."""
    return name_agreement(a, b) == "different"
