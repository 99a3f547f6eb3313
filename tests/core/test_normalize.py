"""The normalisation module against published cases: GB 11643 ID numbers, real USCCs, phones."""

from datetime import date

import pytest
from django.utils import translation

from kehu.core.normalize import (
    AddressParts,
    NormalizationError,
    name_search_keys,
    normalize_email,
    normalize_gender,
    normalize_id_number,
    normalize_name,
    normalize_phone,
    normalize_uscc,
    parse_address,
    parse_date,
    region_for_province,
)

MOBILE = "+8613812345678"


@pytest.mark.parametrize("raw", [
    "13812345678", "138 1234 5678", "138-1234-5678", "+86 138 1234 5678", "+8613812345678",
    "0086 13812345678", "86-13812345678", "(+86) 138-1234-5678", "１３８１２３４５６７８",
    " 138.1234.5678 ",
])
def test_mainland_mobile_in_any_format(raw):
    phone = normalize_phone(raw)
    assert (phone.e164, phone.kind, phone.last4) == (MOBILE, "mobile", "5678")


@pytest.mark.parametrize("raw,e164", [
    ("010-65529988", "+861065529988"), ("(010) 6552 9988", "+861065529988"),
    ("0755-86013388", "+8675586013388"), ("+86 21 6321 5566", "+862163215566"),
])
def test_landlines(raw, e164):
    phone = normalize_phone(raw)
    assert (phone.e164, phone.kind, phone.last4) == (e164, "landline", e164[-4:])


def test_foreign_numbers_keep_their_country():
    assert normalize_phone("+852 5123 4567").e164 == "+85251234567"
    assert normalize_phone("+1 650 253 0000").e164 == "+16502530000"
    assert normalize_phone("650 253 0000", region="US").e164 == "+16502530000"


@pytest.mark.parametrize("raw", ["", "12345", "1381234567", "10012345678", "abc", "+86 999",
                                 "138123456789012345678901234567"])
def test_invalid_phones_raise(raw):
    with pytest.raises(NormalizationError) as info:
        normalize_phone(raw)
    assert info.value.code == "phone"


def test_fast_path_agrees_with_phonenumbers_on_every_prefix():
    import phonenumbers

    for prefix in range(130, 200):
        raw = f"{prefix}12345678"
        parsed = phonenumbers.parse(raw, "CN")
        valid = phonenumbers.is_valid_number(parsed)
        try:
            ours = normalize_phone(raw)
        except NormalizationError:
            assert not valid, raw
        else:
            assert valid and ours.e164 == "+86" + raw, raw


def test_email():
    assert normalize_email("  Zhang.Wei@Example.COM ") == "zhang.wei@example.com"
    assert normalize_email("ｗａｎｇ@ｅｘａｍｐｌｅ.ｃｎ") == "wang@example.cn"
    for bad in ["", "zhang", "a@", "@b.com", "a b@c.com"]:
        with pytest.raises(NormalizationError):
            normalize_email(bad)


# GB 11643-1999's own examples, and numbers whose MOD 11-2 digit was worked by hand.
@pytest.mark.parametrize("raw,value,birthday,gender", [
    ("11010519491231002X", "11010519491231002X", date(1949, 12, 31), "female"),
    ("11010519491231002x", "11010519491231002X", date(1949, 12, 31), "female"),
    ("110105 19491231 002X", "11010519491231002X", date(1949, 12, 31), "female"),
    ("440524188001010014", "440524188001010014", date(1880, 1, 1), "male"),
    ("110101199003074477", "110101199003074477", date(1990, 3, 7), "male"),
    ("１１０１０１１９９００３０７７６５１", "110101199003077651", date(1990, 3, 7), "male"),
])
def test_id_numbers(raw, value, birthday, gender):
    parsed = normalize_id_number(raw)
    assert (parsed.value, parsed.birthday, parsed.gender) == (value, birthday, gender)


@pytest.mark.parametrize("raw,code", [
    ("110105194912310021", "id_number_checksum"),   # checksum should be X
    ("510104198003020014", "id_number_checksum"),   # should end in 3
    ("11010519491231002", "id_number"),             # 17 chars
    ("320311770706001", "id_number"),               # old 15-digit numbers are not accepted
    ("11010519490230002X", "id_number_checksum"),
    ("110105194902300020", "id_number_birth"),      # 30 February, right checksum
    ("00000019900101123X", "id_number_place"),
])
def test_bad_id_numbers_raise_without_echoing_the_number(raw, code):
    with pytest.raises(NormalizationError) as info:
        normalize_id_number(raw)
    assert info.value.code == code
    assert raw not in str(info.value) and raw[:12] not in repr(info.value)


def test_id_number_repr_hides_the_value():
    assert "19491231" not in repr(normalize_id_number("11010519491231002X"))


@pytest.mark.parametrize("raw", ["91110000802100433B", "91110000802100433b",
                                 "91440300708461136T", "91330100799655058B"])
def test_published_unified_social_credit_codes(raw):
    assert normalize_uscc(raw) == raw.upper()


def test_bad_uscc():
    with pytest.raises(NormalizationError) as info:
        normalize_uscc("91110000802100433C")
    assert info.value.code == "uscc_checksum"
    with pytest.raises(NormalizationError) as info:
        normalize_uscc("9111000080210043")
    assert info.value.code == "uscc"


@pytest.mark.parametrize("name,keys", [
    ("张伟", ("zhangwei", "zw")), ("章伟", ("zhangwei", "zw")),
    ("曾国藩", ("zengguofan", "zgf")), ("单田芳", ("shantianfang", "stf")),
    ("仇英", ("qiuying", "qy")), ("欧阳娜娜", ("ouyangnana", "oynn")),
    ("尉迟恭", ("yuchigong", "ycg")), ("John Smith", ("johnsmith", "js")),
    ("Alice 王", ("alicewang", "aw")), ("", ("", "")),
])
def test_name_search_keys(name, keys):
    assert name_search_keys(name) == keys


@pytest.mark.parametrize("raw,clean", [
    ("  张伟 ", "张伟"), ("张 伟", "张伟"), ("John   Smith", "John Smith"),
    ("ＡＢＣ　公司", "ABC 公司"), ("阿依古丽•买买提", "阿依古丽·买买提"),
])
def test_normalize_name(raw, clean):
    assert normalize_name(raw) == clean


@pytest.mark.parametrize("raw", ["1990-01-02", "1990/1/2", "19900102", "1990年1月2日",
                                 "1990.1.2", "１９９０年０１月０２日", " 1990-1-2 "])
def test_parse_date_formats(raw):
    assert parse_date(raw) == date(1990, 1, 2)


@pytest.mark.parametrize("raw,code", [("1990-02-30", "date_impossible"),
                                      ("2023-02-29", "date_impossible"),
                                      ("1990-13-01", "date_impossible"),
                                      ("02/01/1990", "date"), ("yesterday", "date"), ("", "date")])
def test_parse_date_rejects(raw, code):
    with pytest.raises(NormalizationError) as info:
        parse_date(raw)
    assert info.value.code == code


def test_leap_day_is_a_date():
    assert parse_date("2024年2月29日") == date(2024, 2, 29)


@pytest.mark.parametrize("raw,gender", [
    ("男", "male"), ("女", "female"), ("M", "male"), ("f", "female"), ("Male", "male"),
    ("FEMALE", "female"), ("先生", "male"), ("女士", "female"), ("小姐", "female"),
    ("", "unknown"), ("未知", "unknown"), (None, "unknown"), ("1", "male"), ("2", "female"),
])
def test_gender(raw, gender):
    assert normalize_gender(raw) == gender


def test_unrecognised_gender_raises():
    with pytest.raises(NormalizationError):
        normalize_gender("maybe")


@pytest.mark.parametrize("raw,parts", [
    ("浙江省杭州市西湖区文三路90号", ("浙江省", "杭州市", "西湖区", "文三路90号", "华东")),
    ("杭州西湖区文三路", ("浙江省", "杭州市", "西湖区", "文三路", "华东")),
    ("北京朝阳区建国路88号", ("北京市", "北京市", "朝阳区", "建国路88号", "华北")),
    ("上海市浦东新区世纪大道100号", ("上海市", "上海市", "浦东新区", "世纪大道100号", "华东")),
    ("辽宁朝阳市双塔区", ("辽宁省", "朝阳市", "双塔区", "", "东北")),
    ("吉林省吉林市船营区", ("吉林省", "吉林市", "船营区", "", "东北")),
    ("广州天河区体育西路", ("广东省", "广州市", "天河区", "体育西路", "华南")),
    ("江苏省苏州市昆山市花桥镇", ("江苏省", "苏州市", "昆山市", "花桥镇", "华东")),
    ("新疆乌鲁木齐市天山区", ("新疆维吾尔自治区", "乌鲁木齐市", "天山区", "", "西北")),
    ("延边朝鲜族自治州延吉市", ("吉林省", "延边朝鲜族自治州", "延吉市", "", "东北")),
    ("四川 成都市 武侯区 人民南路", ("四川省", "成都市", "武侯区", "人民南路", "西南")),
    ("湖北省仙桃市复州大道", ("湖北省", "仙桃市", "", "复州大道", "华中")),
    ("香港九龙弥敦道", ("香港特别行政区", "", "", "九龙弥敦道", "港澳台")),
    ("朝阳区建国路1号", ("", "", "", "朝阳区建国路1号", "")),
    ("阳光小区3栋", ("", "", "", "阳光小区3栋", "")),
])
def test_parse_address(raw, parts):
    assert parse_address(raw) == AddressParts(*parts)


@pytest.mark.parametrize("province,region", [
    ("浙江省", "华东"), ("浙江", "华东"), ("广东", "华南"), ("北京市", "华北"), ("河南省", "华中"),
    ("四川", "西南"), ("新疆维吾尔自治区", "西北"), ("黑龙江", "东北"), ("台湾", "港澳台"),
    ("澳门", "港澳台"), ("火星", ""),
])
def test_region_for_province(province, region):
    assert region_for_province(province) == region


def test_messages_are_lazy_translations():
    from django.utils.functional import Promise

    with pytest.raises(NormalizationError) as info:
        normalize_phone("123")
    assert isinstance(info.value.message, Promise)
    with translation.override("en"):
        assert str(info.value) == "Enter a valid phone number."
    with translation.override("zh-hans"):
        assert str(info.value) == "请输入有效的电话号码。"
