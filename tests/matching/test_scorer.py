"""The pure-Python scorer behind score_pair agrees with Splink on the same parameters."""

import itertools
import math
import random
from functools import cache

import pyarrow as pa
import pytest

from kehu.matching import score_pair
from kehu.matching.engine import _arrow_schema, _linker, stored_name_frequency
from kehu.matching.features import prepare_record
from kehu.matching.model import COMPARISONS, trained
from kehu.matching.scorer import LEVELS, jaro_winkler, levenshtein

PEOPLE = [
    {"name": "张伟", "gender": "男", "birthday": "1985-03-12", "mobile": "13812345678",
     "phone": "0571-88886666", "email": "zw@qq.com", "id_number": "11010519491231002X",
     "address": "浙江省杭州市西湖区文三路90号", "company": "杭州阿里巴巴网络技术有限公司"},
    {"name": "章玮", "gender": "男", "birthday": "1985-03-21", "mobile": "0571-88886666",
     "email": "zw@qq.co", "id_number": "11010519491231003X", "address": "杭州西湖区文三路9号",
     "company": "阿里巴巴(杭州)网络技术"},
    {"name": "Zhang Wei", "birthday": "1985/3/12", "mobile": "+86 138 1234 5678",
     "address": "杭州市西湖区天目山路5号", "company": "网易"},
    {"name": "張偉", "gender": "女", "birthday": "1986-07-01", "phone": "13812345678",
     "address": "杭州市拱墅区湖墅南路1号"},
    {"name": "张丽", "gender": "女", "birthday": "1988-05-05", "phone": "0571-88886666",
     "address": "杭州市西湖区文三路90号"},
    {"name": "欧阳娜娜", "birthday": "1995-01-01", "email": "ouyang@163.com", "address": "北京市朝阳区"},
    {"name": "欧阳纳纳", "birthday": "1995-10-01", "email": "OUYANG@163.com", "address": "北京市海淀区"},
    {"surname": "green", "given_name": "mitchell", "birthday": "19560409", "id_number": "1804974",
     "address": "7 wallaby place delmar", "city": "cleveland", "postcode": "2119", "province": "sa"},
    {"surname": "grene", "given_name": "mitchel", "birthday": "19560490", "id_number": "1804947",
     "address": "7 wallaby pl delmar", "city": "cleveland", "postcode": "2191", "province": "sa"},
    {"surname": "mitchell", "given_name": "green", "birthday": "19650409", "address": "70 wallaby place",
     "city": "clevelnad", "postcode": "2119"},
    {"name": "李娜", "mobile": "13900001111", "company": "腾讯科技(深圳)有限公司"},
    {},
]


@cache
def _splink():
    return _linker(pa.Table.from_pylist([prepare_record({"id": "0"})], schema=_arrow_schema()))


def _splink_score(a, b, name_frequency):
    left, right = prepare_record({**a, "id": "l"}), prepare_record({**b, "id": "r"})
    # score_pair's default: the frequency stored with the model, else neutral (Splink
    # adjusts by u(exact) / frequency, so the neutral frequency is u(exact) itself).
    tf = name_frequency or stored_name_frequency(left) or trained()["levels"]["name"]["exact"][1]
    left["tf_name_key"] = right["tf_name_key"] = tf
    return _splink().inference.score_pair(left, right).as_record_list()[0]


def _pairs():
    rng = random.Random(5)
    pairs = list(itertools.combinations(PEOPLE, 2))
    for _ in range(20):  # mixtures of the people's fields
        a, b = rng.sample(PEOPLE, 2)
        pairs.append(({k: v for k, v in a.items() if rng.random() < 0.7},
                      {**a, **{k: v for k, v in b.items() if rng.random() < 0.4}}))
    return pairs


def test_score_pair_agrees_with_splink():
    # Splink's own score_pair takes a few hundred milliseconds a call: each pair once, with
    # the name frequency by default (stored with the model), given as common, or as rare.
    for number, (a, b) in enumerate(_pairs()):
        name_frequency = (None, 0.008, 2e-5)[number % 3]
        ours = score_pair(a, b, name_frequency=name_frequency)
        row = _splink_score(a, b, name_frequency)
        assert ours.match_weight == pytest.approx(row["match_weight"], abs=1e-3), (a, b)
        assert ours.probability == pytest.approx(row["match_probability"], abs=1e-6), (a, b)
        by_field = {e.field: e.weight for e in ours.explanation}
        for name in COMPARISONS:
            field = name if name in ("given_name", "surname") else COMPARISONS[name][0]
            if field == "address":
                continue  # two comparisons (address, postcode) explain it; the sum is checked below
            expected = row[f"mw_{name}"] + (row.get(f"mw_tf_adj_{name}") or 0.0)
            assert by_field[field] == pytest.approx(expected, abs=1e-3), (name, a, b)
        total = sum(e.weight for e in ours.explanation)
        mw_sum = sum(row[f"mw_{n}"] for n in COMPARISONS) + (row.get("mw_tf_adj_name") or 0.0)
        assert total == pytest.approx(mw_sum, abs=1e-2)


def test_levels_follow_the_model():
    for name, (_field, levels) in COMPARISONS.items():
        assert [label for label, _p in LEVELS[name]] == [level["label_for_charts"] for level in levels]


def test_string_measures():
    assert levenshtein("kitten", "sitting") == 3
    assert levenshtein("", "abc") == 3
    assert jaro_winkler("martha", "marhta") == pytest.approx(0.9611, abs=1e-4)
    assert jaro_winkler("dixon", "dicksonx") == pytest.approx(0.8133, abs=1e-4)
    assert jaro_winkler("abc", "xyz") == 0.0
    assert math.isclose(jaro_winkler("same", "same"), 1.0)
