"""The customer-list filter `report_cell`: the customers behind one number of a report (a
signed drill-down token, reports.query.drill_token). Registered in ReportsConfig.ready, so
the list page, the API, exports and the CLI all understand a report's drill-down link.

The list has already scoped the customers to the reader; the token's spec is validated again
for the reader (`check`), so a field masked for them is refused rather than recovered."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from django.apps import apps
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.core.errors import ValidationFailed

MAX_TOKEN = 8000


@dataclass
class CellRef:
    token: str
    spec: dict | None = None
    chosen: dict[str, Any] = field(default_factory=dict)
    reader: Any = None  # set by `check` for the reader


def _parse(text: str) -> CellRef | None:
    return CellRef(text) if 0 < len(text) <= MAX_TOKEN else None


def _invalid() -> ValidationFailed:
    return ValidationFailed(details={"report_cell": [_("This drill-down link is not valid.")]})


def _check(access, ref: CellRef) -> None:
    from kehu.reports.query import lists_customers, read_drill_token, validate_spec

    access.require("report.view")
    try:
        raw, chosen = read_drill_token(ref.token)
    except ValidationFailed:
        raise _invalid() from None
    reader = SimpleNamespace(pk=access.user_id, access=access)
    try:
        spec = validate_spec(raw, user=reader)
    except ValidationFailed as exc:
        raise ValidationFailed(details={f"report_cell.{k}": v for k, v in exc.details.items()}
                               ) from None
    if not lists_customers(spec):
        raise _invalid()
    ref.spec, ref.chosen, ref.reader = spec, chosen, reader


def _apply(qs, ref: CellRef):
    from kehu.reports.query import in_cell, narrowed
    from kehu.reports.subjects import SUBJECTS

    if ref.spec is None:  # check() always runs first; never apply an unchecked token
        raise _invalid()
    subject = SUBJECTS[ref.spec["subject"]]
    rows = apps.get_model(subject.model).objects.all()
    rows = in_cell(narrowed(rows, ref.spec, user=ref.reader), ref.spec, ref.chosen,
                   user=ref.reader)
    # `qs` is the reader's scoped list: the rows' customers within it.
    return qs.filter(pk__in=rows.values(subject.customer_id_path))


def register_list_filter() -> None:
    from ninja import Field

    from kehu.customers.fields import ListFilter, register_filter

    register_filter(ListFilter(
        "report_cell", gettext_lazy("Report figure"), _parse, _apply, permission="report.view",
        check=_check, widget="hidden",
        api_field=(str, Field("", max_length=MAX_TOKEN,
                              description="The customers behind one figure of a report "
                                          "(a drill-down link's token)"))))
