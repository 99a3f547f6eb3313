"""The import wizard in a real browser: upload, check the mapping, import, read the report."""

import csv
import io

import pytest
from openpyxl import Workbook
from playwright.sync_api import expect

from kehu.customers.models import Customer
from tests.browser.conftest import login
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

HEADER = ["客户名称", "手机号码", "备注"]
ROWS = [["张三", "13812345678", "老客户"], ["李四", "13900001111", ""], ["坏行", "12345", ""]]


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def gbk_csv(path):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    writer.writerows(ROWS)
    path.write_bytes(buffer.getvalue().encode("gbk"))
    return path


def workbook(path):
    book = Workbook()
    sheet = book.active
    sheet.title = "客户"
    sheet.append(HEADER)
    for row in ROWS:
        sheet.append(row)
    book.save(path)
    return path


def import_through_the_wizard(page, path):
    login(page, "steward", PASSWORD)
    page.goto("/interchange/imports/")
    page.set_input_files("input[name=file]", str(path))
    page.get_by_test_id("import-upload-submit").click()
    expect(page.get_by_test_id("import-mapping")).to_be_visible()
    expect(page.locator("select[name=col_0]")).to_have_value("name")
    expect(page.locator("select[name=col_1]")).to_have_value("mobile")
    expect(page.locator("select[name=col_2]")).to_have_value("notes")
    expect(page.get_by_test_id("import-preview")).to_contain_text("13900001111")
    page.get_by_test_id("import-run").click()
    expect(page.get_by_test_id("import-job")).to_have_attribute("data-status", "done")
    expect(page.get_by_test_id("count-created")).to_have_text("2")
    expect(page.get_by_test_id("count-rejected")).to_have_text("1")
    report = page.get_by_test_id("import-report")
    expect(report.locator("tbody tr")).to_have_count(1)
    expect(report.locator("tbody tr td").first).to_have_text("4")
    expect(report).to_contain_text("手机号码")
    expect(page.get_by_test_id("import-report-download")).to_be_visible()
    assert sorted(Customer.objects.values_list("name", flat=True)) == ["张三", "李四"]


def test_import_a_gbk_csv(page, make_user, tmp_path):
    make_user("data_steward", username="steward")
    import_through_the_wizard(page, gbk_csv(tmp_path / "客户.csv"))


def test_import_an_xlsx(page, make_user, tmp_path):
    make_user("data_steward", username="steward")
    import_through_the_wizard(page, workbook(tmp_path / "客户.xlsx"))
