"""The Splink model: comparisons and blocking rules on the prepared keys, its trained
parameters (model.json beside this file) and the training that refreshes them.

The settings are built from Splink's comparison creators, which write each backend's SQL
(`settings("duckdb")` here, `settings("spark")` on a cluster), and the trained m and u
probabilities are laid over them by comparison and level label, so one trained model runs
on any Splink backend.
"""

from __future__ import annotations

import json
import logging
import math
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from django.utils.translation import gettext_lazy as _

MODEL_PATH = Path(__file__).with_name("model.json")


def _level(sql: str, label: str, **extra) -> dict[str, Any]:
    return {"sql_condition": sql, "label_for_charts": label, **extra}


def _null(*columns: str) -> dict[str, Any]:
    either = " OR ".join(f"{c}_l IS NULL OR {c}_r IS NULL" for c in columns)
    return _level(either, "missing", is_null_level=True)


ELSE = _level("ELSE", "different")

# comparison -> (the MatchRecord field it explains, its levels). Labels are stable keys;
# LABELS below gives the words a person reads.
COMPARISONS: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "name": ("name", [
        _null("name_pinyin"),
        _level("name_key_l = name_key_r", "exact", tf_adjustment_column="name_key",
               tf_adjustment_weight=1.0),
        _level("name_pinyin_l = name_pinyin_r", "same_pinyin"),
        _level("jaro_winkler_similarity(name_pinyin_l, name_pinyin_r) >= 0.9", "similar"),
        ELSE,
    ]),
    "given_name": ("name", [
        _null("given_pinyin"),
        _level("given_pinyin_l = given_pinyin_r", "exact"),
        _level("jaro_winkler_similarity(given_pinyin_l, given_pinyin_r) >= 0.85", "similar"),
        ELSE,
    ]),
    "surname": ("name", [
        _null("surname_pinyin"),
        _level("surname_pinyin_l = surname_pinyin_r", "exact"),
        _level("jaro_winkler_similarity(surname_pinyin_l, surname_pinyin_r) >= 0.88", "similar"),
        ELSE,
    ]),
    "phone": ("phone", [
        _null("phone_1"),
        _level("phone_1_l = phone_1_r", "exact"),
        _level("phone_1_l = phone_2_r OR phone_2_l = phone_1_r OR phone_2_l = phone_2_r",
               "other_number"),
        ELSE,
    ]),
    "email": ("email", [
        _null("email"),
        _level("email_l = email_r", "exact"),
        _level("levenshtein(email_l, email_r) <= 1", "typo"),
        ELSE,
    ]),
    "id_number": ("id_number", [
        _null("id_number"),
        _level("id_number_l = id_number_r", "exact"),
        _level("levenshtein(id_number_l, id_number_r) <= 1", "typo"),
        ELSE,
    ]),
    "birthday": ("birthday", [
        _null("birthday"),
        _level("birthday_l = birthday_r", "exact"),
        _level("levenshtein(birthday_l, birthday_r) <= 1", "typo"),
        _level("substr(birthday_l, 1, 4) = substr(birthday_r, 1, 4)", "same_year"),
        ELSE,
    ]),
    "gender": ("gender", [
        _null("gender"),
        _level("gender_l = gender_r", "exact"),
        ELSE,
    ]),
    "address": ("address", [
        _level("(address_detail_l IS NULL OR address_detail_r IS NULL) AND "
               "(city_l IS NULL OR city_r IS NULL)", "missing", is_null_level=True),
        _level("address_detail_l = address_detail_r", "exact"),
        _level("jaro_winkler_similarity(address_detail_l, address_detail_r) >= 0.88", "similar"),
        _level("district_l = district_r AND city_l = city_r", "same_district"),
        _level("city_l = city_r", "same_city"),
        ELSE,
    ]),
    "postcode": ("address", [
        _null("postcode"),
        _level("postcode_l = postcode_r", "exact"),
        _level("levenshtein(postcode_l, postcode_r) <= 1", "typo"),
        ELSE,
    ]),
    "company": ("company", [
        _null("company_key"),
        _level("company_key_l = company_key_r", "exact"),
        _level("jaro_winkler_similarity(company_key_l, company_key_r) >= 0.88", "similar"),
        ELSE,
    ]),
}

LABELS = {
    "missing": _("missing on one side"),
    "exact": _("identical"),
    "same_pinyin": _("same pinyin"),
    "similar": _("similar"),
    "other_number": _("shares another number"),
    "typo": _("differs by one character"),
    "same_year": _("same year"),
    "same_district": _("same district"),
    "same_city": _("same city"),
    "different": _("different"),
}

# Pairs the model scores: any of these (each an equality join, so DuckDB or Spark hashes it).
BLOCKING_RULES = [
    "l.phone_1 = r.phone_1",
    "l.phone_1 = r.phone_2",
    "l.phone_2 = r.phone_1",
    "l.email = r.email",
    "l.id_number = r.id_number",
    "l.name_pinyin = r.name_pinyin AND l.birthday = r.birthday",
    "l.name_key = r.name_key AND l.city = r.city",
    "l.name_pinyin = r.name_pinyin AND l.address_detail = r.address_detail",
    "l.name_pinyin = r.name_pinyin AND l.district = r.district",
    "l.birthday = r.birthday AND l.province = r.province",
    # Names in two fields (surname, given name) and postcodes, as Western data has them.
    "l.surname_pinyin = r.surname_pinyin AND l.birthday = r.birthday",
    "l.given_pinyin = r.given_pinyin AND l.birthday = r.birthday",
    "l.postcode = r.postcode AND l.surname_pinyin = r.surname_pinyin",
    "l.postcode = r.postcode AND l.given_pinyin = r.given_pinyin",
    "l.postcode = r.postcode AND l.address_detail = r.address_detail",
]

# Prior odds of a match when training has not said otherwise.
DEFAULT_PRIOR = 1e-4

# (m, u) per level before training, and the floor for m after it. Training data rarely
# shows a person's email, birthday or ID number mistyped, so EM drives m of those levels
# towards 0 (one typo would then veto a match): an estimate below these values is raised
# to them. A different given name outweighs a shared phone and address (relatives).
DEFAULT_LEVELS: dict[str, dict[str, tuple[float, float]]] = {
    "name": {"exact": (0.92, 7e-4), "same_pinyin": (0.05, 3.5e-4), "similar": (0.02, 5e-3),
             "different": (0.01, 0.99)},
    "given_name": {"exact": (0.95, 0.015), "similar": (0.03, 0.05), "different": (0.001, 0.935)},
    "phone": {"exact": (0.85, 3e-5), "other_number": (0.05, 1e-5), "different": (0.1, 0.99997)},
    "email": {"exact": (0.95, 8e-5), "typo": (0.02, 1e-5), "different": (0.03, 0.9999)},
    "id_number": {"exact": (0.97, 1.6e-5), "typo": (0.02, 1e-6), "different": (5e-4, 0.99998)},
    "birthday": {"exact": (0.95, 6.5e-5), "typo": (0.03, 5e-4), "same_year": (0.01, 0.01),
                 "different": (0.01, 0.989)},
    "surname": {"exact": (0.9, 0.02), "similar": (0.05, 0.01), "different": (0.05, 0.97)},
    "postcode": {"exact": (0.85, 0.003), "typo": (0.1, 0.02), "different": (0.05, 0.977)},
    "gender": {"exact": (0.98, 0.5), "different": (0.02, 0.5)},
    "address": {"exact": (0.8, 2.4e-5), "similar": (0.03, 2.7e-3), "same_district": (0.05, 0.01),
                "same_city": (0.05, 0.02), "different": (0.07, 0.967)},
    "company": {"exact": (0.9, 3e-3), "similar": (0.05, 0.01), "different": (0.05, 0.987)},
}


def settings_creator(*, prior: float = DEFAULT_PRIOR):
    """The backend-neutral SettingsCreator (untrained)."""
    from splink import SettingsCreator
    from splink.internals.comparison_library import CustomComparison

    comparisons = [
        CustomComparison(comparison_levels=[dict(level) for level in levels], output_column_name=name)
        for name, (_field, levels) in COMPARISONS.items()
    ]
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=list(BLOCKING_RULES),
        probability_two_random_records_match=prior,
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=True,
        additional_columns_to_retain=[],
        em_convergence=0.001,
        max_iterations=25,
    )


@cache
def trained() -> dict[str, Any]:
    """The shipped parameters: {"prior": p, "levels": {comparison: {label: [m, u]}},
    "name_frequencies": {name_key: share}}."""
    return json.loads(MODEL_PATH.read_text("utf-8"))


def settings(dialect: str = "duckdb", params: dict[str, Any] | None = None) -> dict[str, Any]:
    """A complete, trained Splink settings dict for `dialect` (duckdb, spark, postgres …)."""
    params = params or trained()
    built = settings_creator(prior=params["prior"]).get_settings(dialect).as_dict()
    for comparison in built["comparisons"]:
        levels = params["levels"].get(comparison["output_column_name"], {})
        for level in comparison["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            m_u = levels.get(level["label_for_charts"]) or DEFAULT_LEVELS.get(
                comparison["output_column_name"], {}).get(level["label_for_charts"])
            if m_u:
                level["m_probability"], level["u_probability"] = m_u
    return built


# Sharing a district or a city is common in real data however rare in a training set
# (generated addresses seldom name a real district): u is never taken below the default.
_U_FLOORED = {("address", "same_district"), ("address", "same_city")}


def _clamp(value: float | None) -> float | None:
    # Splink 5.0.0 rejects probabilities below 1e-300, which EM can produce.
    return None if value is None or math.isnan(value) else min(max(value, 1e-300), 1.0)


def _given_name_only_against(params: dict[str, Any]) -> None:
    """The name comparison already rewards a shared name; the given name only counts
    against a match (relatives share a surname, a phone and an address, not a given name)."""
    levels = params["levels"]["given_name"]
    for label in ("exact", "similar"):
        levels[label] = [levels[label][1], levels[label][1]]


# Blockings that expectation maximisation may train on, in order of preference; the first
# two with enough pairs in the input are used (a file without phones trains on others).
EM_BLOCKINGS = (("phone_1",), ("name_pinyin", "birthday"), ("id_number",), ("birthday",),
                ("email",), ("name_key",))
_EM_MIN_PAIRS = 200


def _pairs_sharing(table, columns: tuple[str, ...]) -> int:
    """How many pairs of rows agree on all `columns` (none of them empty)."""
    from collections import Counter

    keys = zip(*(table.column(c).to_pylist() for c in columns), strict=True)
    counts = Counter(key for key in keys if all(part is not None for part in key))
    return sum(n * (n - 1) // 2 for n in counts.values())


# Names at least this common in the training data keep their frequency in model.json, for
# score_pair's term-frequency adjustment (a shared 张伟 counts for less than a shared 欧阳娜娜).
NAME_FREQUENCY_MIN_COUNT = 10


def name_frequencies(table, *, min_count: int = NAME_FREQUENCY_MIN_COUNT) -> dict[str, float]:
    """{name_key: share of the rows bearing it} for the names at least `min_count` rows bear."""
    from collections import Counter

    counts = Counter(key for key in table.column("name_key").to_pylist() if key)
    total = sum(counts.values())
    return {key: round(n / total, 8) for key, n in sorted(counts.items()) if n >= min_count}


@contextmanager
def _quiet_splink():
    """EM warns of every level a training set lacks (a file without companies …): noise
    for a person running kehu match, so training logs errors only."""
    logger = logging.getLogger("splink")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def train(records, *, out: Path | None = MODEL_PATH, max_pairs: float = 2e6, seed: int = 1) -> dict:
    """Estimate the parameters on `records` (MatchRecords, or a prepared arrow table; no
    labels needed): the prior from exact identifiers, u by random sampling, m by expectation
    maximisation on two blockings. Writes them to `out` (the shipped model.json by default;
    None writes nothing) and returns them."""

    from kehu.matching.engine import arrow_table

    table = records if hasattr(records, "column_names") else arrow_table(records)
    with _quiet_splink():
        params = _estimate(table, max_pairs=max_pairs, seed=seed)
    if out is not None:
        out.write_text(json.dumps(params, indent=1, sort_keys=True, ensure_ascii=False) + "\n", "utf-8")
        trained.cache_clear()
    return params


def _estimate(table, *, max_pairs: float, seed: int) -> dict[str, Any]:
    from splink import Linker, block_on
    from splink.backends.duckdb import DuckDBAPI

    db_api = DuckDBAPI()
    linker = Linker(db_api.register(table), settings_creator(), log_level=None)
    linker.training.estimate_probability_two_random_records_match(
        ["l.phone_1 = r.phone_1 AND l.name_pinyin = r.name_pinyin",
         "l.id_number = r.id_number AND l.name_pinyin = r.name_pinyin",
         "l.id_number = r.id_number AND l.birthday = r.birthday"], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=seed)
    blockings = [b for b in EM_BLOCKINGS if _pairs_sharing(table, b) >= _EM_MIN_PAIRS][:2]
    for blocking in blockings:
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on(*blocking), estimate_without_term_frequencies=True)
    model = linker.misc.save_model_to_json()
    params: dict[str, Any] = {"prior": model["probability_two_random_records_match"], "levels": {}}
    for comparison in model["comparisons"]:
        name = comparison["output_column_name"]
        levels = params["levels"][name] = {}
        for level in comparison["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            label = level["label_for_charts"]
            default_m, default_u = DEFAULT_LEVELS[name][label]
            m, u = _clamp(level.get("m_probability")), _clamp(level.get("u_probability"))
            floor = default_m if label != "exact" else 0.0
            if u is None or (name, label) in _U_FLOORED:
                u = max(u or 0.0, default_u)
            levels[label] = [max(m if m is not None else default_m, floor), u]
    _given_name_only_against(params)
    params["name_frequencies"] = name_frequencies(table)
    return params
