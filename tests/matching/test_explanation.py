"""Every comparison's match weight (log2 Bayes factor) reaches the explanation, from
predict_pairs (Splink) and score_pair (pure Python) alike."""

import math

import pytest

from kehu.matching import predict_pairs, score_pair
from kehu.matching.model import trained

PERSON = {"id": "p1", "name": "欧阳娜娜", "gender": "女", "birthday": "1992-06-01",
          "mobile": "13912345678", "email": "nana@163.com", "id_number": "11010519920601002X",
          "address": "北京市朝阳区建国路88号", "company": "北京字节跳动科技有限公司"}
TWIN = {**PERSON, "id": "p2", "mobile": "+86 139 1234 5678", "email": "NANA@163.com",
        "birthday": "1992年6月1日", "company": ""}
OTHERS = [{"id": f"o{n}", "name": name, "mobile": f"1370000{n:04d}", "birthday": f"19{60 + n}-01-01"}
          for n, name in enumerate(["李娜", "王芳", "刘洋", "陈静"])]
PRIOR_WEIGHT = math.log2(trained()["prior"] / (1 - trained()["prior"]))


def _by_field(pair):
    return {e.field: e for e in pair.explanation}


def test_predict_pairs_explains_every_comparison_with_its_weight():
    [pair] = predict_pairs([PERSON, TWIN, *OTHERS], threshold=0.5)
    evidence = _by_field(pair)
    assert set(evidence) == {"name", "given_name", "surname", "phone", "email", "id_number",
                             "birthday", "gender", "address", "company"}
    for field in ("phone", "email", "id_number", "birthday"):
        assert evidence[field].weight > 5, field
    # Identical name, adjusted by its frequency: two in six records bear it here.
    assert 0 < evidence["name"].weight < _by_field(score_pair(PERSON, TWIN))["name"].weight
    assert evidence["company"].weight == 0.0  # missing on one side
    assert sum(e.weight for e in pair.explanation) + PRIOR_WEIGHT == \
        pytest.approx(pair.match_weight, abs=0.01)


def test_score_pair_and_predict_pairs_give_the_same_weights():
    [predicted] = predict_pairs([PERSON, TWIN, *OTHERS], threshold=0.5)
    scored = score_pair(PERSON, TWIN)
    predicted_weights, scored_weights = _by_field(predicted), _by_field(scored)
    for field, evidence in scored_weights.items():
        if field == "name":
            continue  # term frequencies: of these six records in predict_pairs, stored in score_pair
        assert evidence.weight == predicted_weights[field].weight, field
        assert evidence.label == predicted_weights[field].label, field
    assert scored.explanation[0].weight == max(abs(e.weight) for e in scored.explanation)


def test_disagreement_weighs_against():
    other = {**PERSON, "id": "p3", "name": "欧阳菲菲", "birthday": "1970-02-02",
             "id_number": "110105197002020028"}
    evidence = _by_field(score_pair(PERSON, other))
    assert evidence["given_name"].weight < -5
    assert evidence["birthday"].weight < -5
    assert evidence["id_number"].weight < -5
    assert evidence["phone"].weight > 5
