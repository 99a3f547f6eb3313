"""The duplicate review queue in a real browser: review, change a field choice, merge, see
the result on the card, undo from the merge history."""

import pytest
from playwright.sync_api import expect

from kehu.customers.models import Customer
from kehu.identity.models import DuplicateCandidate
from tests.browser.conftest import login
from tests.factories import PASSWORD
from tests.identity.conftest import full_customer

pytestmark = pytest.mark.django_db(transaction=True)


def test_review_merge_and_undo(page, make_user):
    make_user("data_steward", username="steward", display_name="数据管家")
    a = full_customer(name="张伟", mobile="13812345678", title="采购经理", interactions=1)
    b = full_customer(name="章伟", mobile="13812345670", title="采购总监", interactions=1)
    candidate = DuplicateCandidate.objects.create(
        key=f"{a.pk}-{b.pk}", probability=0.97,
        explanation=[{"left_id": a.pk, "right_id": b.pk, "probability": 0.97,
                      "fields": [{"field": "name", "label": "same pinyin", "weight": 6.5}]}])
    candidate.members.create(customer=a)
    candidate.members.create(customer=b)

    login(page, "steward", PASSWORD)
    page.goto("/identity/duplicates/")
    queue = page.get_by_test_id("duplicate-queue")
    expect(queue).to_contain_text("章伟")
    page.get_by_test_id(f"review-{candidate.pk}").click()
    expect(page.get_by_test_id("evidence")).to_contain_text("6.50")
    title_row = page.locator("tr[data-field=title]")
    expect(title_row).to_have_class("differs")
    page.get_by_test_id(f"choice-name-{a.pk}").check()
    page.get_by_test_id(f"choice-title-{b.pk}").check()
    expect(title_row.locator("td.chosen")).to_contain_text("采购总监")
    page.get_by_test_id("merge-submit").click()

    header = page.get_by_test_id("card-header")
    expect(header).to_contain_text("张伟")
    expect(page.get_by_test_id("identity")).to_contain_text("采购总监")
    expect(page.get_by_test_id("merged-from")).to_contain_text("章伟")
    assert Customer.objects.get(pk=b.pk).status == "merged"
    assert a.interactions.count() == 2

    page.goto("/identity/merges/")
    page.locator("[data-testid^=undo-]").click()
    expect(page.locator("[data-testid^=undo-]")).to_have_count(0)
    page.goto(f"/customers/{a.pk}/")
    expect(page.get_by_test_id("identity")).to_contain_text("采购经理")
    expect(page.get_by_test_id("identity-banner")).to_be_visible()
    assert Customer.objects.get(pk=b.pk).status == "active"
    assert a.interactions.count() == 1


def test_review_shows_the_proposal_and_needs_a_birthday_choice(page, make_user):
    make_user("data_steward", username="steward", display_name="数据管家")
    a = full_customer(name="秦桂荣", lifecycle_stage="loyal", birthday="1980-05-01",
                      notes="老客户")
    b = full_customer(name="秦桂蓉", lifecycle_stage="lead", birthday="1980-05-10",
                      notes="新登记")
    candidate = DuplicateCandidate.objects.create(key=f"{a.pk}-{b.pk}", probability=0.97)
    candidate.members.create(customer=a)
    candidate.members.create(customer=b)

    login(page, "steward", PASSWORD)
    page.goto(f"/identity/duplicates/{candidate.pk}/")
    expect(page.get_by_test_id("reason-lifecycle_stage")).to_have_text("取最靠后的生命周期阶段")
    expect(page.get_by_test_id("proposal-notes")).to_contain_text("老客户")
    expect(page.get_by_test_id("proposal-notes")).to_contain_text("新登记")
    expect(page.locator("tr[data-field=birthday]")).to_have_class("differs needs-choice")
    page.get_by_test_id("merge-submit").click()  # the browser asks for the birthday first
    expect(page.get_by_test_id("merge-form")).to_be_visible()
    assert Customer.objects.get(pk=b.pk).status == "active"
    page.get_by_test_id(f"choice-birthday-{b.pk}").check()
    page.get_by_test_id("merge-submit").click()
    expect(page.get_by_test_id("card-header")).to_contain_text("秦桂荣")
    kept = Customer.objects.get(pk=a.pk)
    assert (kept.lifecycle_stage, str(kept.birthday), kept.notes) == (
        "loyal", "1980-05-10", "老客户\n\n新登记")
