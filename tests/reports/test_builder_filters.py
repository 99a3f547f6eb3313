"""The builder's customer filters are the embedded segment condition builder: a saved report
reopens with the same conditions (the form the page shows posts back the same spec) and the
same numbers; masked fields are neither offered nor accepted; the report page reads the
filters out as sentences."""

from __future__ import annotations

from html.parser import HTMLParser

from django.urls import reverse

from kehu.reports import selectors, services
from kehu.reports.query import run_report

FILTERS = {"type": "group", "match": "all", "conditions": [
    {"type": "field", "field": "region", "op": "eq", "value": "华东"},
    {"type": "group", "match": "any", "conditions": [
        {"type": "field", "field": "city", "op": "in", "value": ["上海市", "广州市"]},
        {"type": "not", "condition": {"type": "field", "field": "lifecycle_stage",
                                      "op": "eq", "value": "lead"}}]}]}
SPEC = {"subject": "orders", "measure": {"kind": "sum", "field": "total_amount"},
        "group_by": [{"field": "region"}], "filters": FILTERS, "chart": "bar"}


class _FormFields(HTMLParser):
    """The name → value pairs a browser would post for the form with id `segment-form`."""

    def __init__(self):
        super().__init__()
        self.fields: dict[str, str] = {}
        self._in_form = False
        self._select: str | None = None
        self._first: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self._in_form = attrs.get("id") == "segment-form"
        if not self._in_form:
            return
        name = attrs.get("name")
        if tag == "input" and name and attrs.get("type") not in ("submit", "button"):
            if attrs.get("type") != "checkbox" or "checked" in attrs:
                self.fields[name] = attrs.get("value") or ("on" if attrs.get(
                    "type") == "checkbox" else "")
        elif tag == "select" and name:
            self._select, self._first = name, None
        elif tag == "option" and self._select:
            value = attrs.get("value", "")
            if self._first is None:
                self._first = value
            if "selected" in attrs:
                self.fields[self._select] = value
        elif tag == "textarea" and name:
            self._textarea = name
            self.fields[name] = ""

    def handle_data(self, data):
        if self._textarea:
            self.fields[self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._in_form = False
        elif tag == "select" and self._select:
            self.fields.setdefault(self._select, self._first or "")
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def _form_of(page: str) -> dict[str, str]:
    parser = _FormFields()
    parser.feed(page)
    return parser.fields


def _figures(result):
    return [(c.keys, c.value) for c in result.rows], result.total


def test_saved_filters_reopen_in_the_builder_and_resave_unchanged(book, client):
    manager = book["manager"]
    report = services.report_save(user=manager, name="华东订单", spec=SPEC)
    stored = selectors.report_get(user=manager, report_id=report.pk).spec
    client.force_login(manager)
    page = client.get(reverse("reports:edit", args=[report.pk])).content.decode()
    form = _form_of(page)
    assert form["r.c0.field"] == "region" and form["r.c0.value"] == "华东"
    assert form["r.c1.match"] == "any" and form["r.c1.c1.not"] == "on"
    assert "filters" not in form  # no JSON box any more

    response = client.post(reverse("reports:resave", args=[report.pk]), form)
    assert response.status_code == 302, response.content[:800]
    again = selectors.report_get(user=manager, report_id=report.pk).spec
    assert again["filters"] == stored["filters"]
    assert again == stored

    # The same numbers, equal to an independent count over the small fixture.
    result = run_report(again, user=manager)
    assert _figures(result) == _figures(run_report(SPEC, user=manager))
    team = {manager.pk, book["rep_a"].pk, book["rep_b"].pk}
    expected = sum(o.total_amount for o in book["orders"]
                   if o.customer.owner_id in team and o.customer.region == "华东"
                   and (o.customer.city in ("上海市", "广州市")
                        or o.customer.lifecycle_stage != "lead"))
    assert result.total == expected and expected > 0


def test_conditions_picked_in_the_builder_are_the_spec_filters(book, client):
    manager = book["manager"]
    client.force_login(manager)
    form = _form_of(client.get(reverse("reports:new") + "?subject=orders").content.decode())
    assert form["r.type"] == "group" and form["r.n"] == "0"
    # What the builder's “+ Customer field” edit renders: one field condition.
    added = client.post(reverse("segments:builder"), dict(form, edit="add:r:field"))
    fields = _form_of(f'<form id="segment-form">{added.content.decode()}</form>')
    assert fields["r.n"] == "1" and fields["r.c0.field"] == "region"
    form.update(fields)
    form.update({"r.c0.op": "eq", "r.c0.value": "华南", "group1": "", "bucket1": "",
                 "chart": "table", "period": "", "name": "华南订单数"})
    preview = client.post(reverse("reports:preview"), form)
    assert preview.status_code == 200, preview.content[:800]
    saved = client.post(reverse("reports:save"), form)
    assert saved.status_code == 302, saved.content[:800]
    page = client.get(saved["Location"])
    spec = page.context["report"].spec
    assert spec["filters"] == {"type": "group", "match": "all", "conditions": [
        {"type": "field", "field": "region", "op": "eq", "value": "华南"}]}
    team = {manager.pk, book["rep_a"].pk, book["rep_b"].pk}
    assert page.context["result"].total == sum(
        1 for o in book["orders"] if o.customer.owner_id in team and o.customer.region == "华南")
    # Read out as a sentence, not JSON.
    described = page.content.decode()
    assert 'data-testid="report-filters-described"' in described
    assert "华南" in described and '"type"' not in described


def test_no_condition_stores_no_filters(book, client):
    client.force_login(book["manager"])
    form = _form_of(client.get(reverse("reports:new") + "?subject=orders").content.decode())
    form["name"] = "全部"
    saved = client.post(reverse("reports:save"), form)
    assert saved.status_code == 302, saved.content[:800]
    assert client.get(saved["Location"]).context["report"].spec["filters"] is None


def test_masked_field_is_not_offered_and_is_refused_naming_it(book, client, make_user):
    from kehu.accounts.models import Role

    role = Role.objects.get(code="read_only")
    role.permissions = [*role.permissions, "report.view"]
    role.field_permissions = {"customer.birthday": "masked"}
    role.save()
    client.force_login(make_user("read_only"))
    page = client.get(reverse("reports:new") + "?subject=customers").content.decode()
    form = _form_of(page)
    added = client.post(reverse("segments:builder"), dict(form, edit="add:r:field"))
    assert 'value="region"' in added.content.decode()
    assert 'value="birthday"' not in added.content.decode()
    form.update({"r.n": "1", "r.c0.type": "field", "r.c0.field": "birthday",
                 "r.c0.op": "eq", "r.c0.value": "1990-01-05", "chart": "table",
                 "group1": "", "bucket1": "", "name": "生日"})
    refused = client.post(reverse("reports:save"), form)
    assert refused.status_code == 422
    text = refused.content.decode()
    assert "filters.conditions[0].field" in text and "生日" in text
    preview = client.post(reverse("reports:preview"), form)
    assert preview.status_code == 422 and "filters.conditions[0].field" in preview.content.decode()
