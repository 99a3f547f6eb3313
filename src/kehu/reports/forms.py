"""The builder page's form: choices for one subject, and the spec it stands for."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from kehu.reports.subjects import SUBJECTS


def group_choices(subject_key: str, user) -> list[tuple[str, list[tuple[str, str]]]]:
    """Grouped <option>s: the subject's own fields and date, then the customer catalogue
    fields the user may group by (masked or hidden ones are not offered)."""
    from kehu.reports.query import DATED, GROUPABLE
    from kehu.segments.definition import Catalogue

    subject = SUBJECTS[subject_key]
    own = [("date", str(subject.date_label))] + [(k, str(f.label))
                                                  for k, f in subject.fields.items()]
    customer = []
    for key, spec in Catalogue.load().fields.items():
        sensitive = getattr(spec, "sensitive", None)
        if sensitive and not user.access.may_condition_on(sensitive):
            continue
        if spec.kind in GROUPABLE or (spec.kind in DATED and not key.startswith("custom.")):
            customer.append((key, str(spec.label)))
    return [(str(subject.label), own), (_("Customer"), customer)]


def filters_from_post(data) -> dict[str, Any] | None:
    """The customer filters the embedded segment condition builder describes (its `r.*`
    fields), or None when it has no condition: the same segment definition the spec stores."""
    from kehu.segments.builder import parse
    from kehu.segments.definition import Catalogue

    definition = parse(data, Catalogue.load().fields)
    return definition if definition.get("conditions") else None


def filters_definition(filters: dict[str, Any] | None) -> dict[str, Any]:
    """The definition the builder starts from: the saved filters, or an empty group."""
    return filters or {"type": "group", "match": "all", "conditions": []}


def spec_from_post(data) -> dict[str, Any]:
    """The spec the builder's fields describe (validated later by query.validate_spec, which
    names the path of anything wrong, `filters.conditions[0].field` …)."""
    measure: dict[str, Any] = {"kind": data.get("measure") or "count"}
    if measure["kind"] in ("sum", "avg"):
        measure["field"] = data.get("amount") or ""
    group_by = []
    for index in (1, 2):
        name = (data.get(f"group{index}") or "").strip()
        if name:
            item = {"field": name}
            bucket = (data.get(f"bucket{index}") or "").strip()
            if bucket:
                item["bucket"] = bucket
            group_by.append(item)
    filters = filters_from_post(data)
    period = None
    if data.get("period"):
        period = {"key": data["period"]}
        if data["period"] == "custom":
            period.update({"from": data.get("from") or "", "to": data.get("to") or ""})
    spec = {"subject": data.get("subject") or "", "measure": measure, "group_by": group_by,
            "filters": filters, "period": period, "chart": data.get("chart") or ""}
    return spec


def form_values(spec: dict[str, Any]) -> dict[str, str]:
    """A saved spec back into the builder's fields."""
    values = {"subject": spec.get("subject", ""), "measure": spec["measure"]["kind"],
              "amount": spec["measure"].get("field", ""), "chart": spec.get("chart", "")}
    for index, item in enumerate(spec.get("group_by") or [], start=1):
        values[f"group{index}"] = item["field"]
        values[f"bucket{index}"] = item.get("bucket", "")
    period = spec.get("period") or {}
    values["period"] = period.get("key", "")
    values["from"], values["to"] = period.get("from", ""), period.get("to", "")
    return values
