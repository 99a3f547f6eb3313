"""The matching engine on each listed variant and each hard negative."""

import pytest
from django.utils import translation

from kehu.matching import candidate_keys, cluster, predict_pairs, prepare_record, score_pair
from kehu.matching.engine import MatchPair

BASE = {"id": 1, "name": "张伟", "gender": "男", "birthday": "1985-03-12", "mobile": "13812345678",
        "email": "zhangwei85@qq.com", "address": "浙江省杭州市西湖区文三路90号",
        "company": "杭州海康威视数字技术股份有限公司"}


@pytest.mark.parametrize("change", [
    {"name": "劉偉"}, {"name": "Zhang Wei"}, {"name": "Wei Zhang"}, {"name": "ZHANG Wei"},
    {"name": "张 伟"}, {"name": "章玮"},
    {"mobile": "+86 138 1234 5678"}, {"mobile": "0086 13812345678"}, {"mobile": "86-13812345678"},
    {"mobile": "(138)12345678"}, {"mobile": "138 1234 5678"},
    {"email": " ZhangWei85@QQ.COM "},
    {"birthday": "1985年3月12日"}, {"birthday": "19850312"}, {"birthday": "1985/3/12"},
    {"address": "杭州西湖区文三路90号"}, {"address": "杭州市西湖区文三路90号"},
    {"company": "海康威视数字技术（杭州）有限公司"}, {"company": "杭州海康威视数字技术有限公司"},
    {"email": "", "company": "", "gender": ""},
])
def test_variant_of_the_same_person_matches(change):
    assert score_pair(BASE, {**BASE, **change, "id": 2}).probability >= 0.99


def test_changed_phone_still_matches_on_the_rest():
    assert score_pair(BASE, {**BASE, "id": 2, "mobile": "13999998888"}).probability >= 0.99


def test_lower_case_x_in_id_number():
    a = {"id": 1, "name": "王芳", "id_number": "11010519491231002X"}
    b = {"id": 2, "name": "王芳", "id_number": "11010519491231002x"}
    assert score_pair(a, b).probability >= 0.99


def test_common_name_in_the_same_city_is_not_a_match():
    a = {"id": 1, "name": "张伟", "address": "杭州市西湖区文三路1号", "mobile": "13812345678"}
    b = {"id": 2, "name": "张伟", "address": "杭州市西湖区天目山路5号", "mobile": "13900001111"}
    assert score_pair(a, b).probability < 0.1


def test_relatives_sharing_phone_and_address_are_not_a_match():
    home = {"phone": "0571-88886666", "address": "杭州市西湖区文三路90号"}
    father = {"id": 1, "name": "张伟", "birthday": "1960-01-01", "gender": "男", **home}
    daughter = {"id": 2, "name": "张丽", "birthday": "1988-05-05", "gender": "女", **home}
    assert score_pair(father, daughter).probability < 0.01
    assert score_pair({**father, "birthday": "", "gender": ""},
                      {**daughter, "birthday": "", "gender": ""}).probability < 0.5


def test_different_id_numbers_outweigh_a_shared_phone():
    a = {"id": 1, "name": "李娜", "mobile": "13812345678", "id_number": "11010519491231002X"}
    b = {"id": 2, "name": "李娜", "mobile": "13812345678", "id_number": "440524188001010014"}
    assert score_pair(a, b).probability < 0.5


def test_explanation_names_fields_and_weights():
    pair = score_pair(BASE, {**BASE, "id": 2, "name": "章玮", "email": ""})
    by_field = {e.field: e for e in pair.explanation}
    assert by_field["name"].label == translation.gettext("same pinyin") == "拼音相同"
    assert by_field["email"].weight == 0.0
    assert by_field["phone"].weight > 10
    assert pair.explanation[0].weight == max(abs(e.weight) for e in pair.explanation)


def _people():
    return [
        {"id": "a1", "name": "张伟", "mobile": "13812345678", "birthday": "1985-03-12",
         "address": "杭州市西湖区文三路90号"},
        {"id": "a2", "name": "Zhang Wei", "mobile": "+86 138 1234 5678", "birthday": "1985年3月12日"},
        {"id": "a3", "name": "張偉", "mobile": "0086 13812345678", "email": "zw@qq.com"},
        {"id": "b1", "name": "张伟", "mobile": "13900001111", "address": "杭州市西湖区天目山路5号"},
        {"id": "c1", "name": "张丽", "phone": "0571-88886666", "birthday": "1988-05-05",
         "address": "杭州市西湖区文三路90号"},
        {"id": "c2", "name": "张强", "phone": "0571-88886666", "birthday": "1960-01-01",
         "address": "杭州市西湖区文三路90号"},
    ]


def test_predict_and_cluster():
    pairs = predict_pairs(_people(), threshold=0.9)
    # In six records 张伟 is half the names, so a shared name alone weighs little (a1-a3).
    assert {(p.left_id, p.right_id) for p in pairs} == {("a1", "a2"), ("a2", "a3")}
    assert all(isinstance(p, MatchPair) and p.probability >= 0.9 for p in pairs)
    assert cluster(pairs, threshold=0.9) == {"a1": "a1", "a2": "a1", "a3": "a1"}


def test_cluster_refuses_a_link_between_different_id_numbers():
    facts_a, facts_b = ("11010519491231002X", None, None), ("440524188001010014", None, None)
    pairs = [
        MatchPair("x", "y", 0.99, [], 20.0, facts_a, ()),
        MatchPair("y", "z", 0.95, [], 10.0, (), facts_b),
    ]
    assert cluster(pairs, threshold=0.9) == {"x": "x", "y": "x"}


def test_cluster_refuses_birthdays_beyond_a_typo():
    pairs = [
        MatchPair(1, 2, 0.99, [], 20.0, (None, "1960-01-01", None), (None, None, None)),
        MatchPair(2, 3, 0.95, [], 10.0, (None, None, None), (None, "1988-05-05", None)),
        MatchPair(3, 4, 0.95, [], 9.0, (None, "1988-05-05", None), (None, "1988-05-08", None)),
    ]
    assert cluster(pairs, threshold=0.9) == {1: 1, 2: 1, 3: 3, 4: 3}


def test_duplicate_ids_are_refused():
    with pytest.raises(ValueError):
        predict_pairs([{"id": 1, "name": "a"}, {"id": 1, "name": "b"}])


def test_candidate_keys():
    keys = candidate_keys({"name": "張 偉", "mobile": "+86 138 1234 5678", "phone": "0571-88886666",
                           "email": " ZW@QQ.com", "birthday": "1985年3月12日", "id_number": "11010519491231002x",
                           "address": "杭州西湖区文三路90号"})
    assert keys == {"phone": "+8613812345678", "phone_2": "+8657188886666", "email": "zw@qq.com",
                    "id_number": "11010519491231002X", "name": "张伟", "name_pinyin": "wei zhang",
                    "birthday": "1985-03-12", "city": "杭州市", "address": "文三路90号",
                    "surname": "zhang", "given_name": "wei"}
    assert candidate_keys({}) == {}


def test_prepare_record_never_raises():
    row = prepare_record({"id": 5, "name": "  ", "mobile": "abc", "birthday": "1990-02-30", "email": "x",
                          "id_number": "123", "gender": "?"})
    assert (row["unique_id"], row["name_key"], row["phone_1"], row["birthday"], row["email"], row["id_valid"],
            row["gender"]) == ("5", None, None, None, None, False, None)
