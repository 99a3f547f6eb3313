"""Cleaning import rows: normalised values, exact row/column errors, masking, skip mode."""

from __future__ import annotations

from datetime import date

import pytest
from django.utils import translation

from kehu.customers.models import CustomFieldDefinition
from kehu.interchange.mapping import suggest_mapping
from kehu.interchange.rows import CleanRow, RowCleaner, RowError, clean_row, masked

TODAY = date(2025, 6, 1)
CUSTOM = [
    CustomFieldDefinition(key="vip_level", label="VIP等级", field_type="choice",
                          choices=["金", "银"]),
    CustomFieldDefinition(key="budget", label="预算", field_type="number",
                          validation={"min": 0}),
    CustomFieldDefinition(key="contract", label="合同编号", field_type="text", required=True),
    CustomFieldDefinition(key="employees", label="员工数", field_type="number",
                          applies_to="organisation"),
]
HEADERS = ["客户名称", "手机", "邮箱", "性别", "生日", "身份证号", "地址", "公司", "来源", "备注",
           "微信", "职位", "客户类型", "生命周期", "负责人", "外部编号", "VIP等级", "预算"]
MAPPING = suggest_mapping(HEADERS, custom_fields=CUSTOM)
MALE_ID = "110101199003071233"  # born 1990-03-07, male (odd 17th digit), valid check digit
FEMALE_ID = "11010519491231002X"  # GB 11643's own example: 1949-12-31, female


def cleaner(**kwargs):
    return RowCleaner(kwargs.pop("headers", HEADERS), kwargs.pop("mapping", MAPPING),
                      custom_fields=CUSTOM, today=TODAY, **kwargs)


def row(**cells):
    """A row of HEADERS' width with the named columns filled (by header text)."""
    values = [""] * len(HEADERS)
    values[0] = "张三"
    for header, value in cells.items():
        values[HEADERS.index(header)] = value
    return values


def test_a_full_row_is_normalised():
    cells = ["  张 三 ", "138-1234-5678", " Zhang.San@Example.COM ", "男", "1990年3月7日", MALE_ID,
             "浙江省杭州市西湖区文三路1号", "杭州 示例 有限公司", "展会", "老客户", "zhangsan_88",
             "采购经理", "个人", "意向客户", "wang", "CRM-001", "金", "12.5"]
    result = cleaner().clean(7, cells)
    assert result == CleanRow(row_number=7, values={
        "name": "张三", "mobile": "+8613812345678", "email": "zhang.san@example.com",
        "gender": "male", "birthday": date(1990, 3, 7), "id_number": MALE_ID,
        "address": "浙江省杭州市西湖区文三路1号", "company": "杭州示例有限公司", "source": "展会",
        "notes": "老客户", "wechat": "zhangsan_88", "title": "采购经理", "kind": "person",
        "lifecycle_stage": "prospect", "owner": "wang", "external_id": "CRM-001",
        "custom": {"vip_level": "金", "budget": 12.5}}, errors=[], rejected=False)


def test_empty_cells_give_no_value():
    result = cleaner().clean(2, row())
    assert result == CleanRow(row_number=2, values={"name": "张三"})


@pytest.mark.parametrize("typed", ["1990-01-02", "1990/1/2", "19900102", "1990年1月2日", "1990.1.2",
                                   "1990-01-02 00:00:00", "１９９０－０１－０２"])
def test_dates_in_the_forms_people_type(typed):
    assert cleaner().clean(2, row(生日=typed)).values["birthday"] == date(1990, 1, 2)


@pytest.mark.parametrize(("typed", "gender"), [
    ("男", "male"), ("女", "female"), ("M", "male"), ("f", "female"), ("Male", "male"),
    ("FEMALE", "female"), ("先生", "male"), ("女士", "female")])
def test_genders(typed, gender):
    assert cleaner().clean(2, row(性别=typed)).values["gender"] == gender


def test_unknown_gender_is_no_value_so_it_never_erases_a_stored_one():
    assert "gender" not in cleaner().clean(2, row(性别="保密")).values


@pytest.mark.parametrize(("header", "value", "shown", "reason"), [
    ("手机", "12345", "12345", "Enter a valid phone number."),
    ("邮箱", "zhang@", "zhang@", "Enter a valid email address."),
    ("性别", "中", "中", "Gender must be male, female or unknown."),
    ("生日", "1990-13-01", "1990-13-01", "This date does not exist."),
    ("生日", "2023-02-30", "2023-02-30", "This date does not exist."),
    ("生日", "去年", "去年", "Enter a date such as 1990-01-02."),
    ("生日", "2025-06-02", "2025-06-02", "The birthday cannot be in the future."),
    ("身份证号", "110101199003071234", "110***********1234",
     "The ID number's check digit is wrong; check it for a typo."),
    ("身份证号", "1101011990", "110***1990", "Enter a valid 18-character resident ID number."),
    ("身份证号", "110101 1990 0307 1234", "110***********1234",
     "The ID number's check digit is wrong; check it for a typo."),
    ("微信", "zhang san", "zhang san", "Enter a WeChat ID without spaces."),
    ("职位", "经" * 101, "经" * 101, "At most 100 characters."),
    ("客户类型", "合作伙伴", "合作伙伴", "“合作伙伴” is not one of the choices."),
    ("生命周期", "沉睡", "沉睡", "“沉睡” is not one of the choices."),
    ("VIP等级", "铜", "铜", "“铜” is not one of the choices."),
    ("预算", "很多", "很多", "Enter a number."),
    ("预算", "-1", "-1", "Must be at least 0."),
])
def test_each_invalid_value_is_reported_with_row_column_value_and_reason(header, value, shown,
                                                                        reason):
    with translation.override("en"):
        result = cleaner().clean(12, row(**{header: value}))
    assert result == CleanRow(row_number=12, values={}, rejected=True, errors=[
        RowError(row=12, column=header, value=shown, reason=reason)])


def test_several_errors_in_column_order():
    with translation.override("en"):
        result = cleaner().clean(3, row(邮箱="x", 手机="1", 生日="1990-02-30"))
    assert result.rejected
    assert [(e.column, e.reason) for e in result.errors] == [
        ("手机", "Enter a valid phone number."), ("邮箱", "Enter a valid email address."),
        ("生日", "This date does not exist.")]


def test_reasons_follow_the_active_language():
    with translation.override("zh-hans"):
        result = cleaner().clean(2, row(邮箱="x"))
    assert result.errors[0].reason == "请输入有效的邮箱地址。"


def test_name_is_required():
    with translation.override("en"):
        blank = cleaner().clean(5, row(客户名称="  ", 手机="13812345678"))
        unmapped = RowCleaner(["手机"], {0: "mobile"}, today=TODAY).clean(6, ["13812345678"])
    assert blank == CleanRow(row_number=5, values={}, rejected=True, errors=[
        RowError(row=5, column="客户名称", value="", reason="Enter a name.")])
    assert unmapped.errors == [RowError(row=6, column="Name", value="", reason="Enter a name.")]
    assert unmapped.rejected


def test_id_number_must_agree_with_birthday_and_gender():
    with translation.override("en"):
        birthday = cleaner().clean(4, row(身份证号=MALE_ID, 生日="1990-03-08"))
        gender = cleaner().clean(5, row(身份证号=FEMALE_ID, 性别="男"))
        agrees = cleaner().clean(6, row(身份证号=FEMALE_ID, 性别="女", 生日="19491231"))
    assert birthday.errors == [RowError(
        row=4, column="身份证号", value="110***********1233",
        reason="The birth date in the ID number does not match the birthday.")]
    assert gender.errors == [RowError(
        row=5, column="身份证号", value="110***********002X",
        reason="The gender in the ID number does not match the gender.")]
    assert agrees.values["id_number"] == FEMALE_ID and not agrees.errors


def test_id_numbers_are_masked_in_any_column_and_in_repr():
    with translation.override("en"):
        misplaced = cleaner().clean(8, row(手机=MALE_ID))
    assert misplaced.errors == [RowError(row=8, column="手机", value="110***********1233",
                                         reason="Enter a valid phone number.")]
    ok = cleaner().clean(9, row(身份证号=FEMALE_ID))
    assert FEMALE_ID not in repr(ok)
    assert "110***********002X" in repr(ok)
    assert masked("13812345678") == "13812345678"
    assert masked("11010519491231002x") == "110***********002X"


def test_person_only_fields_on_an_organisation_row():
    with translation.override("en"):
        result = cleaner().clean(3, row(客户类型="企业", 性别="男", 身份证号=MALE_ID))
    assert [(e.column, e.value, e.reason) for e in result.errors] == [
        ("性别", "男", "Only persons have this field."),
        ("身份证号", "110***********1233", "Only persons have this field.")]


def test_organisation_rows_and_their_custom_fields():
    headers = ["名称", "类型", "统一社会信用代码", "行业", "员工数"]
    mapping = suggest_mapping(headers, custom_fields=CUSTOM)
    assert mapping == {0: "name", 1: "kind", 2: "uscc", 3: "industry", 4: "custom.employees"}
    result = cleaner(headers=headers, mapping=mapping).clean(
        2, ["示例科技有限公司", "公司", "91350100M000100Y43", "软件", "120"])
    assert result.values == {"name": "示例科技有限公司", "kind": "organisation",
                             "uscc": "91350100M000100Y43", "industry": "软件",
                             "custom": {"employees": 120}}
    with translation.override("en"):
        person = cleaner(headers=headers, mapping=mapping).clean(3, ["张三", "个人", "", "软件", "5"])
    assert [(e.column, e.reason) for e in person.errors] == [
        ("行业", "Only organisations have this field."),
        ("员工数", "There is no custom field “employees”.")]


def test_required_custom_fields_are_left_to_the_write():
    # "合同编号" is required, but this row may update a customer that already has one.
    assert not cleaner().clean(2, row(VIP等级="银")).errors


@pytest.mark.parametrize(("typed", "stage"), [
    ("潜在", "lead"), ("Lead", "lead"), ("customer", "customer"), ("成交客户", "customer"),
    ("忠诚", "loyal"), ("Churned", "churned")])
def test_lifecycle_stage_by_key_or_label_in_either_language(typed, stage):
    assert cleaner().clean(2, row(生命周期=typed)).values["lifecycle_stage"] == stage


def test_skip_invalid_fields_keeps_the_row_without_the_bad_fields():
    with translation.override("en"):
        result = cleaner(skip_invalid_fields=True).clean(
            10, row(手机="13812345678", 邮箱="bad", 身份证号=MALE_ID, 生日="1990-03-08",
                    VIP等级="铜", 预算="3"))
    assert result == CleanRow(row_number=10, rejected=False, values={
        "name": "张三", "mobile": "+8613812345678", "birthday": date(1990, 3, 8),
        "custom": {"budget": 3}}, errors=[
        RowError(row=10, column="邮箱", value="bad", reason="Enter a valid email address."),
        RowError(row=10, column="身份证号", value="110***********1233",
                 reason="The birth date in the ID number does not match the birthday."),
        RowError(row=10, column="VIP等级", value="铜", reason="“铜” is not one of the choices."),
    ])


def test_skip_invalid_fields_still_rejects_a_row_without_a_name():
    with translation.override("en"):
        result = cleaner(skip_invalid_fields=True).clean(11, row(客户名称="", 手机="13812345678"))
    assert result.rejected and result.values == {}
    assert result.errors == [RowError(row=11, column="客户名称", value="", reason="Enter a name.")]


def test_clean_row_convenience():
    result = clean_row(2, ["李四", "13912345678"], headers=["姓名", "电话"],
                       mapping={0: "name", 1: "mobile"})
    assert result.values == {"name": "李四", "mobile": "+8613912345678"}


def test_short_rows_and_columns_beyond_the_headers():
    result = RowCleaner(["姓名", "手机"], {0: "name", 1: "mobile", 5: "email"}).clean(2, ["王五"])
    assert result.values == {"name": "王五"}
