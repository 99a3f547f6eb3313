"""The builder, preview, save, segment page and member export through the web views."""

from __future__ import annotations

import csv
import io

import pytest

from kehu.segments.models import Segment
from tests.factories import CustomerFactory


@pytest.fixture
def marketer_client(client, make_user):
    user = make_user("marketer", username="mkt")
    client.force_login(user)
    return client


def _form(**extra):
    data = {"r.type": "group", "r.match": "all", "r.n": "1", "r.c0.type": "field",
            "r.c0.field": "region", "r.c0.op": "eq", "r.c0.value": "华东"}
    data.update(extra)
    return data


def test_builder_from_a_template_and_edits(marketer_client):
    page = marketer_client.get("/segments/builder/?template=east_bought_a_viewed_b")
    assert page.status_code == 200
    assert 'name="r.c2.prop_value" value="/products/b/accessories"' in page.content.decode()
    added = marketer_client.post("/segments/builder/", {**_form(), "edit": "add:r:event"})
    html = added.content.decode()
    assert 'name="r.c1.type" value="event"' in html and 'name="r.n" value="2"' in html
    assert 'hx-swap-oob="true"' in html
    removed = marketer_client.post("/segments/builder/", {**_form(), "edit": "remove:r.c0"})
    assert 'name="r.n" value="0"' in removed.content.decode()


def test_preview_counts_and_reports_bad_nodes(marketer_client):
    CustomerFactory(region="华东", name="东方客户")
    CustomerFactory(region="华南")
    ok = marketer_client.post("/segments/preview/", _form()).content.decode()
    assert 'data-count="1"' in ok and "东方客户" in ok
    bad = marketer_client.post("/segments/preview/", _form(**{
        "r.c0.field": "quality_score", "r.c0.op": "gt", "r.c0.value": "many"}),
        HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "conditions[0].value" in bad


def test_save_then_page_and_export(marketer_client):
    CustomerFactory(region="华东", name="=CMD()")
    CustomerFactory(region="华南")
    saved = marketer_client.post("/segments/save/", {**_form(), "name": "华东", "dynamic": "on"})
    segment = Segment.objects.get()
    assert saved.status_code == 302 and saved["Location"] == f"/segments/{segment.pk}/"
    assert segment.size == 1 and segment.definition["conditions"][0]["value"] == "华东"
    page = marketer_client.get(f"/segments/{segment.pk}/").content.decode()
    assert 'id="segment-history"' in page and "=CMD()" in page
    export = marketer_client.get(f"/interchange/segments/{segment.pk}/export/?format=csv")
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig"))))
    assert len(rows) == 2 and rows[1][0] == "'=CMD()"


def test_save_errors_keep_the_builder(marketer_client):
    response = marketer_client.post("/segments/save/", {**_form(), "name": ""})
    assert response.status_code == 422 and not Segment.objects.exists()
    assert 'data-testid="save-errors"' in response.content.decode()
