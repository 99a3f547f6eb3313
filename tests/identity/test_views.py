"""Pages: the queue, the review page, merging from it, history and undo, the entry warning."""

from __future__ import annotations

import pytest
from django.utils import translation

from kehu.customers.models import Customer
from kehu.identity.models import DuplicateCandidate, Merge
from tests.identity.conftest import full_customer
from tests.unchanged import db_snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged_in(client, steward):
    client.force_login(steward)
    return client


@pytest.fixture
def candidate():
    a = full_customer(name="张伟", mobile="13812345678", title="经理")
    b = full_customer(name="章伟", mobile="13812345670", title="总监")
    c = DuplicateCandidate.objects.create(key=f"{a.pk}-{b.pk}", probability=0.97)
    c.members.create(customer=a)
    c.members.create(customer=b)
    return c, a, b


def test_queue_review_merge_history_undo(logged_in, candidate):
    cand, a, b = candidate
    page = logged_in.get("/identity/duplicates/")
    assert page.status_code == 200
    assert "章伟" in page.content.decode()
    review = logged_in.get(f"/identity/duplicates/{cand.pk}/").content.decode()
    assert 'class="differs"' in review
    assert f'data-testid="choice-title-{b.pk}"' in review
    response = logged_in.post("/identity/merge/", {
        "candidate": cand.pk, "survivor": a.pk, "member": [a.pk, b.pk],
        "choice:title": b.pk})
    assert response.status_code == 302
    assert Customer.objects.get(pk=a.pk).title == "总监"
    merge = Merge.objects.get()
    card = logged_in.get(f"/customers/{a.pk}/").content.decode()
    assert 'data-testid="merged-from"' in card
    assert logged_in.post(f"/identity/merges/{merge.pk}/undo/").status_code == 302
    assert Customer.objects.get(pk=b.pk).status == "active"
    assert Customer.objects.get(pk=a.pk).title == "经理"


def test_pages_need_the_merge_permission(client, make_user, candidate):
    rep = make_user("sales_rep")
    client.force_login(rep)
    before = db_snapshot()
    assert client.get("/identity/duplicates/").status_code == 403
    assert client.post("/identity/merge/", {"survivor": candidate[1].pk,
                                            "member": [candidate[2].pk]}).status_code == 403
    assert not Merge.objects.exists()
    assert db_snapshot() == before


def test_create_form_warns_then_continues(logged_in, candidate):
    with translation.override("en"):
        data = {"kind": "person", "name": "张伟", "mobile": "", "lifecycle_stage": "lead",
                "birthday": "", "email": ""}
        a = candidate[1]
        Customer.objects.filter(pk=a.pk).update(birthday="1990-03-07")
        data.update(birthday="1990-03-07")
        warned = logged_in.post("/customers/new/?kind=person", data)
        assert warned.status_code == 200
        body = warned.content.decode()
        assert 'data-testid="duplicate-warning"' in body
        assert "张伟" in body
        count = Customer.objects.count()
        done = logged_in.post("/customers/new/?kind=person", {**data, "duplicate_ok": "1"})
        assert done.status_code == 302
        assert Customer.objects.count() == count + 1
