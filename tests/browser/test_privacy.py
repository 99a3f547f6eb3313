"""Privacy in a real browser: grant and withdraw consent on the card, run an access request
from intake to completion, erase a customer."""

import pytest
from playwright.sync_api import expect

from kehu.core.actor import Actor
from kehu.customers import services as customers
from kehu.customers.models import Customer
from kehu.privacy.models import ConsentRecord, PrivacyRequest
from tests.browser.conftest import login
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def officer(make_user):
    make_user("admin", username="dpo", display_name="合规官", is_superuser=True)
    return customers.customer_create(actor=Actor.system(via="system"), name="赵敏",
                                     mobile="13812340000", email="zhaomin@example.cn")


def _record(page, status: str):
    box = page.get_by_test_id("consent-form-box")
    box.locator("summary").click()
    form = page.get_by_test_id("consent-form")
    form.locator("select[name=purpose]").select_option("marketing")
    form.locator("select[name=channel]").select_option("sms")
    form.locator("select[name=status]").select_option(status)
    form.locator("textarea[name=notice_text]").fill("短信营销告知")
    form.get_by_test_id("consent-save").click()


def test_grant_and_withdraw_consent_on_the_card(page, officer):
    login(page, "dpo", PASSWORD)
    page.goto(f"/customers/{officer.pk}/")
    section = page.get_by_test_id("privacy-section")
    expect(section).to_be_visible()
    _record(page, "granted")
    expect(page.get_by_test_id("privacy-notice")).to_be_visible()
    expect(page.get_by_test_id("consent-marketing-sms")).to_contain_text("可联系")
    _record(page, "withdrawn")
    expect(page.get_by_test_id("consent-marketing-sms")).to_contain_text("已撤回")
    page.get_by_test_id("consent-history").locator("summary").click()
    expect(page.get_by_test_id("consent-history-row")).to_have_count(2)
    assert list(ConsentRecord.objects.order_by("id").values_list("status", flat=True)) == [
        "granted", "withdrawn"]


def test_access_request_end_to_end(page, officer):
    login(page, "dpo", PASSWORD)
    page.goto(f"/customers/{officer.pk}/")
    page.get_by_test_id("privacy-manage").locator("summary").click()
    form = page.get_by_test_id("open-request")
    form.locator("select[name=kind]").select_option("access")
    form.locator("input[name=details]").fill("申请个人信息副本")
    form.get_by_role("button").click()
    expect(page.get_by_test_id("request-status")).to_contain_text("待处理")
    expect(page.get_by_test_id("request-due")).to_contain_text("工作日")
    page.get_by_test_id("verify-form").locator("input[name=verification]").fill("核对身份证原件")
    page.get_by_test_id("verify-submit").click()
    expect(page.get_by_test_id("request-status")).to_contain_text("身份已核验")
    with page.expect_download() as download:
        page.get_by_test_id("request-archive").click()
    assert download.value.suggested_filename == f"kehu-customer-{officer.pk}.zip"
    page.get_by_test_id("complete-form").locator("textarea[name=outcome]").fill("已发送档案")
    page.get_by_test_id("complete-submit").click()
    expect(page.get_by_test_id("request-status")).to_contain_text("已完成")
    expect(page.get_by_test_id("request-outcome")).to_contain_text("已发送档案")
    assert PrivacyRequest.objects.get().status == "completed"


def test_erase_a_customer(page, officer):
    login(page, "dpo", PASSWORD)
    page.goto(f"/customers/{officer.pk}/")
    page.get_by_test_id("privacy-manage").locator("summary").click()
    page.get_by_test_id("erase-reason").fill("本人来电要求删除")
    page.get_by_test_id("erase-confirm").fill(str(officer.pk))
    page.get_by_test_id("erase-submit").click()
    expect(page).to_have_url(f"{page.url.split('/privacy')[0]}/privacy/")
    customer = Customer.objects.get(pk=officer.pk)
    assert customer.name == f"已删除客户 #{officer.pk}" and customer.primary_mobile == ""


def test_consent_block_in_the_segment_builder_save_and_reopen(page, officer):
    """Build "withdrew marketing consent by email" with the Consent block (selects show
    labels), watch the count, save, reopen: same selections, same count."""
    from kehu.privacy.services import consent_record

    system = Actor.system(via="system")
    other = customers.customer_create(actor=system, name="周芷若", mobile="13812340001")
    for customer, status in ((officer, "granted"), (other, "withdrawn")):
        consent_record(actor=system, customer_id=customer.pk, purpose="marketing",
                       channel="email", status=status, source="form")
    login(page, "dpo", PASSWORD)
    page.goto("/segments/builder/")
    page.get_by_test_id("add-consent-r").click()
    purpose = page.get_by_test_id("consent-purpose-r.c0")
    expect(purpose).to_be_visible()
    expect(purpose.locator("option:checked")).to_have_text("营销")
    count = page.get_by_test_id("segment-count")
    page.get_by_test_id("consent-channel-r.c0").select_option("email")
    expect(count).to_have_text("1")
    expect(page.get_by_test_id("segment-sample")).to_contain_text("赵敏")
    page.get_by_test_id("consent-state-r.c0").select_option("withdrawn")
    expect(page.get_by_test_id("segment-sample")).to_contain_text("周芷若")
    expect(count).to_have_text("1")
    page.get_by_test_id("consent-state-r.c0").select_option("none")
    expect(count).to_have_text("0")
    page.get_by_test_id("consent-state-r.c0").select_option("withdrawn")
    expect(page.get_by_test_id("segment-sample")).to_contain_text("周芷若")
    page.get_by_test_id("segment-name").fill("邮件营销已退订")
    page.get_by_test_id("segment-save").click()
    expect(page.get_by_test_id("segment-size")).to_have_text("1")
    page.get_by_role("link", name="编辑").click()
    expect(page.get_by_test_id("consent-channel-r.c0")).to_have_value("email")
    expect(page.get_by_test_id("consent-state-r.c0")).to_have_value("withdrawn")
    expect(count).to_have_text("1")


def test_marketing_export_from_the_list_skips_and_says_how_many(page, officer):
    """Choose "Marketing" and "SMS" in the list's export form: the CSV holds only the
    customer with SMS consent, and the next page says one was left out."""
    import csv
    import io

    from kehu.privacy.services import consent_record

    system = Actor.system(via="system")
    customers.customer_create(actor=system, name="周芷若", mobile="13812340001")
    consent_record(actor=system, customer_id=officer.pk, purpose="marketing", channel="sms",
                   status="granted", source="form")
    login(page, "dpo", PASSWORD)
    page.goto("/customers/")
    purpose = page.get_by_test_id("export-purpose")
    expect(purpose.locator("option[value=marketing]")).to_have_text("营销")
    purpose.select_option("marketing")
    page.get_by_test_id("export-channel").select_option("sms")
    with page.expect_download() as download_info:
        page.get_by_test_id("export-csv").click()
    text = open(download_info.value.path(), encoding="utf-8-sig").read()
    rows = list(csv.reader(io.StringIO(text)))[1:]
    assert [row[0] for row in rows] == ["赵敏"]
    page.goto("/customers/")
    expect(page.locator("body")).to_contain_text("1 位因未同意营销（短信）被排除")
