"""The import page's set-up step: choosing the kind, the workbook's sheet (re-read over htmx),
saving the corrected mapping as a named template and applying a saved one; who sees which
template; and the services behind them."""

from __future__ import annotations

import io
import re
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import Workbook

from kehu.core.actor import Actor
from kehu.core.errors import Conflict, NotFound, ValidationFailed
from kehu.core.models import AuditEntry
from kehu.interchange.models import ImportJob, ImportMapTemplate
from kehu.interchange.services import import_job_create, import_job_run
from kehu.interchange.setup import (
    import_job_choose_sheet,
    import_template_delete,
    import_template_mapping,
    import_template_save,
    import_templates,
)
from kehu.transactions.models import Order
from tests.factories import ProductFactory, create_customer
from tests.unchanged import db_snapshot

ORDERS = ["单据号", "客户手机", "商品编码", "数量", "下单时间"]


@pytest.fixture
def manager(client, make_user):
    user = make_user("admin", username="boss")
    client.force_login(user)
    return user


def workbook_bytes(header=ORDERS) -> bytes:
    book = Workbook()
    notes = book.active
    notes.title = "说明"
    notes.append(["本表由商城导出"])
    orders = book.create_sheet("订单")
    orders.append(header)
    orders.append(["SO-1", "13812345678", "CUP-1", "2", "2024-03-05 14:30"])
    orders.append(["SO-2", "13812345678", "CUP-1", "1", "2024-03-06"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def upload(client, kind="orders", name="订单.xlsx", data=None) -> ImportJob:
    content = SimpleUploadedFile(name, data or workbook_bytes())
    response = client.post(reverse("interchange:imports"), {"file": content, "kind": kind})
    assert response.status_code == 302, response.content.decode()[:2000]
    return ImportJob.objects.order_by("-id").first()


def test_upload_of_an_orders_workbook_picks_the_second_sheet_over_htmx(client, manager):
    create_customer(name="王芳", mobile="13812345678")
    ProductFactory(sku="CUP-1", name="保温杯", unit_price=Decimal("99.00"))
    # The workbook opens on a notes sheet: the upload goes through, and the page offers
    # the sheets to pick the orders from.
    job = upload(client)
    assert (job.kind, job.sheet) == ("orders", "说明")
    url = reverse("interchange:import_mapping", args=[job.pk])
    page = client.get(url).content.decode()
    assert 'data-testid="import-sheet-select"' in page
    response = client.post(reverse("interchange:import_sheet", args=[job.pk]),
                           {"sheet": "订单"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="mapping-area"')
    assert "SO-2" in body and "本表由商城导出" not in body
    job.refresh_from_db()
    assert job.sheet == "订单"
    assert job.options["headers"] == ORDERS
    assert job.mapping == {"0": "order_no", "1": "mobile", "2": "sku", "3": "quantity",
                           "4": "ordered_at"}
    # A mapping without an order number is refused, naming what is missing.
    before = db_snapshot()
    response = client.post(url, {"col_0": "", "col_1": "mobile", "col_2": "sku",
                                 "col_3": "quantity", "col_4": "ordered_at", "action": "import"},
                           HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert "Map a column to Order number." in response.content.decode()
    assert db_snapshot() == before
    response = client.post(url, {"col_0": "order_no", "col_1": "mobile", "col_2": "sku",
                                 "col_3": "quantity", "col_4": "ordered_at",
                                 "action": "import"})
    assert response.status_code == 302, re.findall(r"errorlist.*", response.content.decode())
    job.refresh_from_db()
    assert (job.status, job.created, job.rejected) == ("done", 2, 0)
    assert sorted(Order.objects.values_list("number", flat=True)) == ["SO-1", "SO-2"]


def data_with_orders_first() -> bytes:
    book = Workbook()
    first = book.active
    first.title = "订单"
    first.append(ORDERS)
    first.append(["SO-1", "13812345678", "CUP-1", "2", "2024-03-05 14:30"])
    second = book.create_sheet("明细")
    second.append(["订单号", "手机", "SKU", "数量", "日期"])
    second.append(["SO-9", "13812345678", "CUP-1", "1", "2024-04-01"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_an_unknown_sheet_is_reported_in_the_partial(client, manager):
    job = upload(client, data=data_with_orders_first())
    response = client.post(reverse("interchange:import_sheet", args=[job.pk]),
                           {"sheet": "没有"}, HTTP_HX_REQUEST="true", HTTP_ACCEPT_LANGUAGE="en")
    body = response.content.decode()
    assert 'data-testid="sheet-errors"' in body
    assert "has no sheet “没有”" in body
    job.refresh_from_db()
    assert job.sheet == "订单"


def test_save_a_template_and_apply_it_to_the_next_upload(client, manager):
    job = upload(client, data=data_with_orders_first())
    url = reverse("interchange:import_mapping", args=[job.pk])
    # The user corrects the mapping (ignores the quantity) and saves it.
    response = client.post(url, {"col_0": "order_no", "col_1": "mobile", "col_2": "sku",
                                 "col_3": "", "col_4": "ordered_at",
                                 "template_name": "商城订单", "action": "save_template"})
    template = ImportMapTemplate.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"{url}?template={template.pk}"
    assert (template.name, template.kind, template.created_by) == ("商城订单", "orders", manager)
    assert template.mapping == {"version": 1, "columns": {
        "单据号": "order_no", "客户手机": "mobile", "商品编码": "sku", "数量": None,
        "下单时间": "ordered_at"}}
    assert AuditEntry.objects.filter(action="import_template.create").count() == 1
    # Next month's file has the columns in another order: the template follows the headers.
    book = Workbook()
    book.active.append(["下单时间", "数量", "商品编码", "单据号", "客户手机"])
    book.active.append(["2024-05-01", "1", "CUP-1", "SO-5", "13812345678"])
    buffer = io.BytesIO()
    book.save(buffer)
    second = upload(client, data=buffer.getvalue())
    page = client.get(reverse("interchange:import_mapping", args=[second.pk]),
                      {"template": template.pk}).content.decode()
    assert 'data-testid="import-template-select"' in page
    for index, field in enumerate(["ordered_at", "", "sku", "order_no", "mobile"]):
        select = page.split(f'name="col_{index}"')[1].split("</select>")[0]
        assert f'value="{field}" selected' in select, (index, field)
    # Saving again under the same name replaces the template.
    client.post(reverse("interchange:import_mapping", args=[second.pk]), {
        "col_0": "ordered_at", "col_1": "quantity", "col_2": "sku", "col_3": "order_no",
        "col_4": "mobile", "template_name": "商城订单", "action": "save_template"})
    assert ImportMapTemplate.objects.count() == 1
    assert ImportMapTemplate.objects.get().mapping["columns"]["数量"] == "quantity"


def test_a_template_needs_a_name(client, manager):
    job = upload(client, data=data_with_orders_first())
    response = client.post(reverse("interchange:import_mapping", args=[job.pk]), {
        "col_0": "order_no", "col_1": "mobile", "col_2": "sku", "col_3": "quantity",
        "col_4": "ordered_at", "template_name": " ", "action": "save_template"},
        HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert "Name the template." in response.content.decode()
    assert ImportMapTemplate.objects.count() == 0


def test_template_visibility_kind_and_deletion(make_user):
    owner = make_user("data_steward")
    importer = make_user("data_steward")
    rep = make_user("sales_rep")
    headers = ["客户名称", "手机"]
    saved = import_template_save(actor=Actor(user=owner), name="客户表", kind="customers",
                                 headers=headers, mapping={0: "name", 1: "mobile"})
    assert import_templates(user=importer, kind="customers") == [saved]
    assert import_templates(user=importer, kind="orders") == []
    assert import_templates(user=rep, kind="customers") == []
    assert import_template_mapping(user=importer, template_id=saved.pk, kind="customers",
                                   headers=["手机", "客户名称"]) == {0: "mobile", 1: "name"}
    before = db_snapshot()
    with pytest.raises(NotFound):
        import_template_mapping(user=rep, template_id=saved.pk, kind="customers",
                                headers=headers)
    with pytest.raises(NotFound):
        import_template_mapping(user=importer, template_id=saved.pk, kind="orders",
                                headers=headers)
    with pytest.raises(NotFound):
        import_template_delete(actor=Actor(user=importer), template_id=saved.pk)
    assert ImportMapTemplate.objects.count() == 1
    assert db_snapshot() == before
    import_template_delete(actor=Actor(user=owner), template_id=saved.pk)
    assert ImportMapTemplate.objects.count() == 0
    assert AuditEntry.objects.filter(action="import_template.delete").count() == 1
    # Saving an orders template needs the right to manage orders as well.
    from kehu.core.errors import PermissionDenied

    before = db_snapshot()
    with pytest.raises(PermissionDenied):
        import_template_save(actor=Actor(user=owner), name="订单", kind="orders",
                             headers=["订单号"], mapping={0: "order_no"})
    with pytest.raises(ValidationFailed):
        import_template_save(actor=Actor(user=owner), name="x" * 101, kind="customers",
                             headers=headers, mapping={0: "name"})
    assert db_snapshot() == before


def test_choosing_a_sheet_after_the_import_ran_is_refused(admin_user, tmp_path):
    create_customer(name="王芳", mobile="13812345678")
    ProductFactory(sku="CUP-1", name="保温杯", unit_price=Decimal("99.00"))
    path = tmp_path / "o.xlsx"
    path.write_bytes(data_with_orders_first())
    actor = Actor(user=admin_user)
    job = import_job_create(actor=actor, file=path, filename="o.xlsx", kind="orders")
    import_job_run(job_id=job.pk, actor=actor)
    before = db_snapshot()
    with pytest.raises(Conflict):
        import_job_choose_sheet(actor=actor, job_id=job.pk, sheet="明细")
    assert db_snapshot() == before


def test_orders_mapping_step_offers_skipping_invalid_cells(client, manager):
    job = upload(client, data=data_with_orders_first())
    url = reverse("interchange:import_mapping", args=[job.pk])
    assert 'name="skip_invalid_fields"' in client.get(url).content.decode()
    client.post(url, {"col_0": "order_no", "col_1": "mobile", "col_2": "sku", "col_3": "",
                      "col_4": "ordered_at", "skip_invalid_fields": "on", "action": "dry_run"})
    job.refresh_from_db()
    assert job.options["skip_invalid_fields"] is True
