"""Matching keys in kehu.core.normalize, with real examples of each variant."""

from datetime import date

import pytest
from django.utils import translation

from kehu.core.normalize import (
    NormalizationError,
    company_match_key,
    date_match_key,
    email_match_key,
    id_number_inconsistencies,
    id_number_match_key,
    name_match_key,
    name_pinyin,
    parse_address,
    parse_date_loose,
    phone_match_key,
    split_pinyin,
    to_simplified,
)


def test_traditional_to_simplified():
    assert to_simplified("劉偉") == "刘伟"
    assert to_simplified("張國榮") == "张国荣"
    assert to_simplified("Zhang") == "Zhang"


@pytest.mark.parametrize("raw", ["张伟", "张 伟", " 張偉 ", "张　伟"])
def test_name_match_key_chinese(raw):
    assert name_match_key(raw) == "张伟"


@pytest.mark.parametrize("raw", ["Zhang Wei", "Wei Zhang", "ZHANG Wei", "zhangwei", "ＺＨＡＮＧ ＷＥＩ", "张伟", "章玮",
                                 "張偉"])
def test_pinyin_key_any_order_script_and_case(raw):
    assert name_pinyin(raw).key == "wei zhang"


@pytest.mark.parametrize("raw,syllables,family,given", [
    ("曾小贤", ("zeng", "xiao", "xian"), "zeng", "xiao xian"),
    ("单雄信", ("shan", "xiong", "xin"), "shan", "xiong xin"),
    ("仇英", ("qiu", "ying"), "qiu", "ying"),
    ("解缙", ("xie", "jin"), "xie", "jin"),
    ("区志强", ("ou", "zhi", "qiang"), "ou", "zhi qiang"),
    ("查良镛", ("zha", "liang", "yong"), "zha", "liang yong"),
    ("朴树", ("piao", "shu"), "piao", "shu"),
    ("尉迟恭", ("yu", "chi", "gong"), "yu chi", "gong"),
    ("欧阳娜娜", ("ou", "yang", "na", "na"), "ou yang", "na na"),
    ("劉德華", ("liu", "de", "hua"), "liu", "de hua"),
])
def test_surname_readings_and_given_names(raw, syllables, family, given):
    pinyin = name_pinyin(raw)
    assert (pinyin.syllables, pinyin.family, pinyin.given) == (syllables, family, given)


def test_latin_names_have_no_known_surname():
    pinyin = name_pinyin("Wei Zhang")
    assert (pinyin.surname, pinyin.given) == (0, "")


def test_split_pinyin():
    assert split_pinyin("zhangwei") == ["zhang", "wei"]
    assert split_pinyin("xian") == ["xian"]
    assert split_pinyin("ouyangnana") == ["ou", "yang", "na", "na"]
    assert split_pinyin("mitchell") == ["mitchell"]


@pytest.mark.parametrize("raw", ["+86 138 1234 5678", "0086 13812345678", "86-13812345678", "(138)12345678",
                                 "138 1234 5678", "１３８１２３４５６７８"])
def test_phone_match_key(raw):
    assert phone_match_key(raw) == "+8613812345678"


def test_phone_match_key_bad_is_none():
    assert phone_match_key("12345") is None
    assert phone_match_key("") is None


def test_email_match_key():
    assert email_match_key(" Zhang.Wei @Example.COM ") == "zhang.wei@example.com"
    assert email_match_key("no-at-sign") is None


@pytest.mark.parametrize("raw", ["1990-01-02", "1990/1/2", "1990.1.2", "19900102", "1990年1月2日", "1990年1月2号",
                                 "1990-01-02 00:00:00", "90-1-2", date(1990, 1, 2)])
def test_dates_people_type(raw):
    assert date_match_key(raw) == "1990-01-02"


def test_two_digit_year_after_this_year_is_last_century():
    assert parse_date_loose("05/3/4") == date(2005, 3, 4)
    assert parse_date_loose("85-3-4") == date(1985, 3, 4)
    with pytest.raises(NormalizationError):
        parse_date_loose("1990-02-30")
    assert date_match_key("tomorrow") is None


@pytest.mark.parametrize("raw,expected", [
    ("哈尔滨市道里区中央大街1号", ("黑龙江省", "哈尔滨市", "道里区", "中央大街1号")),
    ("黑龙江哈尔滨道里区中央大街1号", ("黑龙江省", "哈尔滨市", "道里区", "中央大街1号")),
    ("道里区中央大街1号", ("黑龙江省", "哈尔滨市", "道里区", "中央大街1号")),
    ("杭州西湖区文三路90号", ("浙江省", "杭州市", "西湖区", "文三路90号")),
    ("北京朝阳区建国路88号", ("北京市", "北京市", "朝阳区", "建国路88号")),
    ("永安市燕江中路1号", ("福建省", "三明市", "永安市", "燕江中路1号")),
])
def test_address_parts_from_the_division_table(raw, expected):
    parts = parse_address(raw)
    assert (parts.province, parts.city, parts.district, parts.detail) == expected


@pytest.mark.parametrize("raw", ["北京百度网讯科技有限公司", "百度网讯科技（北京）有限责任公司", "百度网讯科技集团",
                                 "北京百度网讯科技股份有限公司", "百度网讯科技有限公司"])
def test_company_match_key(raw):
    assert company_match_key(raw) == "百度网讯科技"


def test_company_match_key_keeps_the_name_when_it_is_only_a_region():
    assert company_match_key("浙江吉利控股集团有限公司") == "吉利控股"
    assert company_match_key("Acme Co., Ltd.") == "acme"


def test_id_number_match_key_lower_case_x():
    assert id_number_match_key("11010519491231002x") == "11010519491231002X"
    assert id_number_match_key(" 110105 19491231 002X ") == "11010519491231002X"


def test_id_number_consistent_with_person():
    assert id_number_inconsistencies("11010519491231002x", birthday="1949年12月31日", gender="女") == []


def test_id_number_inconsistencies_reported():
    with translation.override("en"):
        problems = id_number_inconsistencies("11010519491231002X", birthday="1950-12-31", gender="男")
        assert [p.code for p in problems] == ["id_number_birthday", "id_number_gender"]
        assert str(problems[0]) == "The ID number's birth date differs from the birthday."
        assert "1101" not in str(problems[0])
    assert [p.code for p in id_number_inconsistencies("110105194912310021")] == ["id_number_checksum"]
