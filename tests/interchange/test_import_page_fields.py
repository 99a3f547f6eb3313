"""The import page as a new user met it: counters say 新建/更新 (not the 创建时间/更新时间 of
the list's date columns), the list of imports shows 创建时间 once, and 省份, 城市, 标签 and
公司名称 columns are recognised, mapped and stored."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation

from kehu.core.models import AuditEntry
from kehu.customers.models import Customer, CustomerTag
from kehu.interchange.models import ImportJob
from tests.factories import create_customer

pytestmark = pytest.mark.django_db

HEADER = ["客户名称", "手机号码", "省份", "城市", "标签", "公司名称"]
ROWS = [["张三", "13812345678", "浙江", "杭州", "VIP，老客户", "阿里巴巴"],
        ["李四", "13900001111", "广东省", "深圳市", "VIP", ""]]


@pytest.fixture
def steward(client, make_user):
    user = make_user("data_steward", username="steward")
    client.force_login(user)
    return user


def _upload(client, rows=ROWS) -> ImportJob:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    writer.writerows(rows)
    file = SimpleUploadedFile("客户.csv", buffer.getvalue().encode("utf-8"),
                              content_type="text/csv")
    client.post(reverse("interchange:imports"), {"file": file, "sheet": ""})
    return ImportJob.objects.order_by("-pk").first()


def test_province_city_tags_and_company_are_suggested_mapped_and_stored(client, steward):
    create_customer(name="李四", mobile="13900001111")
    job = _upload(client)
    url = reverse("interchange:import_mapping", args=[job.pk])
    form = client.get(url).context["form"]
    suggested = [form[f"col_{i}"].value() for i in range(len(HEADER))]
    assert suggested == ["name", "mobile", "province", "city", "tags", "company"]
    response = client.post(url, {**{f"col_{i}": f for i, f in enumerate(suggested)},
                                 "action": "import"})
    assert response.status_code == 302
    job.refresh_from_db()
    assert (job.created, job.updated, job.rejected) == (1, 1, 0)
    zhang = Customer.objects.get(name="张三")
    assert (zhang.province, zhang.city, zhang.region, zhang.company) == (
        "浙江省", "杭州市", "华东", "阿里巴巴")
    assert zhang.addresses.get().city == "杭州市"
    assert sorted(CustomerTag.objects.filter(customer=zhang).values_list("tag__name", flat=True)
                  ) == ["VIP", "老客户"]
    li = Customer.objects.get(name="李四")
    assert (li.province, li.city, li.version) == ("广东省", "深圳市", 2)
    assert list(CustomerTag.objects.filter(customer=li).values_list("tag__name", flat=True)) == [
        "VIP"]
    update = AuditEntry.objects.filter(object_id=str(li.pk), action="customer.update").get()
    assert update.changes["tag"] == {"before": None, "after": "VIP"}
    assert update.changes["province"] == {"before": "", "after": "广东省"}


def test_counters_say_new_and_updated_and_the_list_names_each_column_once(client, steward):
    job = _upload(client)
    client.post(reverse("interchange:import_mapping", args=[job.pk]),
                {"col_0": "name", "col_1": "mobile", "action": "import"})
    with translation.override("zh-hans"):
        page = client.get(reverse("interchange:import_job", args=[job.pk]),
                          HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
        listing = client.get(reverse("interchange:imports"),
                             HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "<dt>新建</dt>" in page and "<dt>更新</dt>" in page
    assert "创建时间" not in page and "更新时间" not in page
    header = listing[listing.index("<thead>"):listing.index("</thead>")]
    assert header.count("创建时间") == 1
    assert "<th>新建</th>" in header and "<th>更新</th>" in header


def test_tags_need_the_right_to_tag(client, make_user, tmp_path, settings):
    """A role that may import but not tag: the row is refused on its tags column."""
    from kehu.accounts.models import Role
    from kehu.core.actor import Actor
    from kehu.interchange.selectors import import_row_errors
    from kehu.interchange.services import import_job_create, import_job_run
    from tests.factories import UserFactory

    settings.MEDIA_ROOT = tmp_path / "media"
    role = Role.objects.create(code="importer", name="导入员", record_scope="all",
                               permissions=["customer.view", "customer.add", "customer.change",
                                            "customer.import"],
                               field_permissions={"customer.mobile": "edit"})
    user = UserFactory(role=role, role_code=None)
    path = tmp_path / "a.csv"
    path.write_text("客户名称,手机,标签\n张三,13812345678,VIP\n", encoding="utf-8")
    actor = Actor(user=user, via="web")
    with translation.override("en"):
        job = import_job_run(job_id=import_job_create(actor=actor, file=path,
                                                      filename=path.name).pk, actor=actor)
        assert [(e.column, e.reason) for e in import_row_errors(job)] == [
            ("标签", "Your role may not tag customers.")]
    assert (job.rejected, Customer.objects.count(), CustomerTag.objects.count()) == (1, 0, 0)
