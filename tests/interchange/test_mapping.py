"""Header recognition, --map overrides and saved mapping templates."""

from __future__ import annotations

import json

import pytest
from django.utils import translation

from kehu.customers.models import CustomFieldDefinition
from kehu.interchange.mapping import (
    CUSTOMER_FIELDS,
    MappingError,
    apply_overrides,
    field_choices,
    fold_header,
    mapping_from_json,
    mapping_to_json,
    missing_required,
    resolve_field,
    suggest_mapping,
)

CUSTOM = [
    CustomFieldDefinition(key="vip_level", label="VIP等级", field_type="choice",
                          choices=["金", "银"]),
    CustomFieldDefinition(key="budget", label="预算(万元)", field_type="number"),
]

SYNONYMS = {
    "name": ["客户名称", "姓名", "名称", "name"],
    "mobile": ["手机", "手机号", "手机号码", "联系电话", "电话", "mobile", "phone"],
    "email": ["邮箱", "电子邮箱", "email"],
    "gender": ["性别", "gender"],
    "birthday": ["生日", "出生日期", "birthday"],
    "id_number": ["身份证", "身份证号", "证件号码", "id_number"],
    "address": ["地址", "联系地址", "address"],
    "company": ["公司", "公司名称", "单位", "company"],
    "source": ["来源", "来源渠道", "source"],
    "notes": ["备注", "notes"],
    "wechat": ["微信", "wechat"],
    "title": ["职位", "title"],
    "kind": ["客户类型", "kind"],
    "lifecycle_stage": ["生命周期", "lifecycle_stage"],
    "owner": ["负责人", "owner"],
    "external_id": ["外部编号", "external_id"],
}


@pytest.mark.parametrize(("header", "field"), [
    (header, field) for field, headers in SYNONYMS.items() for header in headers])
def test_each_synonym_is_recognised(header, field):
    assert suggest_mapping([header], custom_fields=[]) == {0: field}


@pytest.mark.parametrize(("header", "field"), [
    ("ＭＯＢＩＬＥ", "mobile"), (" Mobile Phone ", "mobile"), ("E-Mail", "email"),
    ("EMAIL", "email"), ("手机 号码", "mobile"), ("手机号码\u3000", "mobile"), ("*姓名", "name"),
    ("姓名：", "name"), ("生日（yyyy-mm-dd）", "birthday"), ("身份证号【必填】", "id_number"),
    ("ID Number", "id_number"), ("id-number", "id_number"), ("Customer Name", "name"),
    ("Ｅｍａｉｌ　Ａｄｄｒｅｓｓ", "email"), ("Date of Birth", "birthday"),
])
def test_case_width_space_and_remarks_do_not_matter(header, field):
    assert suggest_mapping([header]) == {0: field}


def test_custom_fields_by_label_or_key_and_unknown_headers_unmapped():
    headers = ["姓名", "vip等级", "BUDGET", "预算（万元）", "爱好", ""]
    assert suggest_mapping(headers, custom_fields=CUSTOM) == {
        0: "name", 1: "custom.vip_level", 2: "custom.budget", 3: None, 4: None, 5: None}
    assert suggest_mapping(["预算(万元)"], custom_fields=CUSTOM) == {0: "custom.budget"}


def test_a_field_goes_to_the_first_column_naming_it():
    assert suggest_mapping(["手机", "电话", "邮箱", "Email"]) == {
        0: "mobile", 1: None, 2: "email", 3: None}


def test_builtin_synonyms_win_over_a_custom_label():
    clash = [CustomFieldDefinition(key="channel2", label="来源", field_type="text")]
    assert suggest_mapping(["来源"], custom_fields=clash) == {0: "source"}


def test_translated_labels_are_recognised():
    with translation.override("en"):
        assert suggest_mapping(["Unified social credit code", "Industry"]) == {
            0: "uscc", 1: "industry"}


def test_fold_header():
    assert fold_header("  Mobile_Phone ") == fold_header("ＭＯＢＩＬＥ　ＰＨＯＮＥ") == "mobilephone"
    assert fold_header("*mobile-phone:") == "mobilephone"


def test_field_choices_cover_builtins_and_custom():
    with translation.override("en"):
        choices = dict(field_choices(CUSTOM))
    assert list(choices)[:len(CUSTOMER_FIELDS)] == list(CUSTOMER_FIELDS)
    assert choices["mobile"] == "Mobile"
    assert choices["custom.vip_level"] == "VIP等级"


# --map COLUMN=field ----------------------------------------------------------------------------

HEADERS = ["客户", "联系方式", "座机", "等级", "杂项"]


def test_overrides_correct_the_suggestion():
    mapping = suggest_mapping(HEADERS, custom_fields=CUSTOM)
    assert mapping == {0: "name", 1: "mobile", 2: None, 3: None, 4: None}
    result = apply_overrides(mapping, ["座机=mobile", "等级=vip_level", "杂项=备注", "联系方式=-"],
                             HEADERS, custom_fields=CUSTOM)
    assert result == {0: "name", 1: None, 2: "mobile", 3: "custom.vip_level", 4: "notes"}
    assert mapping[1] == "mobile"  # the input is not changed


@pytest.mark.parametrize(("override", "field"), [
    ("等级=custom.vip_level", "custom.vip_level"), ("等级=VIP等级", "custom.vip_level"),
    ("等级=vip_level", "custom.vip_level"), ("等级=手机号码", "mobile"), ("等级= email ", "email"),
    ("ＦＯＯ=notes", None),
])
def test_field_spellings_in_overrides(override, field):
    headers = ["等级", "FOO"]
    result = apply_overrides({0: None, 1: None}, [override], headers, custom_fields=CUSTOM)
    if field is None:
        assert result == {0: None, 1: "notes"}  # the column matched by folded header text
    else:
        assert result == {0: field, 1: None}


def test_empty_field_ignores_the_column():
    assert apply_overrides({0: "name", 1: "mobile"}, ["联系方式="], ["客户", "联系方式"]) == {
        0: "name", 1: None}


def test_header_text_with_an_equals_sign():
    assert apply_overrides({0: None}, ["a=b=notes"], ["a=b"]) == {0: "notes"}


@pytest.mark.parametrize(("overrides", "message", "code"), [
    (["电话=mobile"], "The file has no column “电话”; its columns are: 客户、联系方式、座机、等级、杂项.",
     "unknown_column"),
    (["座机=fax"], "There is no field “fax”; use one of: name, mobile, email, gender, birthday, "
     "id_number, address, province, city, company, source, notes, wechat, title, kind, "
     "lifecycle_stage, owner, external_id, uscc, industry, tags, custom.budget, "
     "custom.vip_level (consent.<purpose>.<channel>).", "unknown_field"),
    (["座机"], "Write the mapping as COLUMN=field, not “座机”.", "invalid_override"),
    (["=mobile"], "Write the mapping as COLUMN=field, not “=mobile”.", "invalid_override"),
    (["座机=mobile", "联系方式=mobile"],
     "Both “座机” and “联系方式” are mapped to “mobile”; map one of them only.", "duplicate_field"),
])
def test_override_errors_name_the_column_or_field(overrides, message, code):
    mapping = suggest_mapping(HEADERS, custom_fields=CUSTOM)
    with translation.override("en"), pytest.raises(MappingError) as caught:
        apply_overrides(mapping, overrides, HEADERS, custom_fields=CUSTOM)
    assert str(caught.value) == message
    assert caught.value.code == code


def test_a_repeated_header_cannot_be_named():
    with translation.override("en"), pytest.raises(MappingError) as caught:
        apply_overrides({0: None, 1: None}, ["备注=notes"], ["备注", "备注"])
    assert str(caught.value) == "The file has more than one column “备注”; rename one of them."


def test_resolve_field():
    assert resolve_field("mobile") == "mobile"
    assert resolve_field("出生日期") == "birthday"
    assert resolve_field("budget", custom_fields=CUSTOM) == "custom.budget"


def test_missing_required():
    assert missing_required({0: "mobile", 1: None}) == ["name"]
    assert missing_required({0: "name"}) == []


# Templates -------------------------------------------------------------------------------------


def test_template_round_trip_follows_headers_not_positions():
    headers = ["客户", "联系方式", "等级", "杂项"]
    mapping = {0: "name", 1: "mobile", 2: "custom.vip_level", 3: None}
    text = mapping_to_json(mapping, headers)
    assert json.loads(text) == {"version": 1, "columns": {
        "客户": "name", "联系方式": "mobile", "等级": "custom.vip_level", "杂项": None}}
    moved = ["等级", "新列", "ＣＵＳＴ", "客户", " 联系方式 "]
    assert mapping_from_json(text, moved, custom_fields=CUSTOM) == {
        0: "custom.vip_level", 1: None, 2: None, 3: "name", 4: "mobile"}


def test_template_errors():
    with translation.override("en"), pytest.raises(MappingError) as caught:
        mapping_from_json("not json", ["a"])
    assert str(caught.value) == "The mapping template is not valid."
    with pytest.raises(MappingError):
        mapping_from_json('{"columns": []}', ["a"])
    gone = json.dumps({"version": 1, "columns": {"等级": "custom.deleted"}})
    with translation.override("en"), pytest.raises(MappingError) as caught:
        mapping_from_json(gone, ["等级"], custom_fields=CUSTOM)
    assert str(caught.value).startswith("There is no field “custom.deleted”")
