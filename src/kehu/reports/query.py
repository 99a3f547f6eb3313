"""The report builder's query engine: a ReportSpec in, grouped figures with drill-downs out.

A spec is JSON (docs/reports.md)::

    {"subject": "orders",
     "measure": {"kind": "sum", "field": "total_amount"},
     "group_by": [{"field": "date", "bucket": "month"}, {"field": "region"}],
     "filters": <a segment definition restricting the customers, or null>,
     "where": {"order.status": ["paid", "completed"]},
     "period": {"key": "last_365"} | {"key": "custom", "from": "…", "to": "…"} | null,
     "chart": "bar"}

`validate_spec` checks it strictly for one user (every error names its path, a field masked
or hidden for the user is refused like everywhere else: AccessPolicy.may_condition_on), and
`run_report` answers it with one GROUP BY in the database (date buckets by Trunc*), over the
subject's rows in the user's scope (reports/subjects.py), never a Python loop over rows.
At most MAX_GROUPS groups come back; the rest are summed into one “Other” row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from functools import reduce
from operator import or_
from typing import Any

from django.apps import apps
from django.core import signing
from django.db.models import Avg, Count, DateField, DateTimeField, F, Q, Sum
from django.db.models.functions import Trunc
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.accounts.access import refusal_message
from kehu.core.errors import ValidationFailed
from kehu.dashboards.periods import PeriodError, parse_period
from kehu.reports.subjects import SUBJECTS, OwnField, Subject

MAX_GROUPS = 500
MAX_GROUP_BYS = 2
MAX_WHERE_VALUES = 50
DRILL_SALT = "kehu.reports.drill"

MEASURES = {"count": gettext_lazy("Count"), "distinct_customers": gettext_lazy(
    "Distinct customers"), "sum": gettext_lazy("Sum"), "avg": gettext_lazy("Average")}
BUCKETS = {"day": gettext_lazy("Day"), "week": gettext_lazy("Week"),
           "month": gettext_lazy("Month"), "quarter": gettext_lazy("Quarter"),
           "year": gettext_lazy("Year")}
CHARTS = {"bar": gettext_lazy("Bar"), "stacked_bar": gettext_lazy("Stacked bar"),
          "line": gettext_lazy("Line"), "pie": gettext_lazy("Pie"),
          "funnel": gettext_lazy("Funnel"), "table": gettext_lazy("Table"),
          "pivot": gettext_lazy("Pivot table")}
# chart -> (fewest, most) group-bys it can draw
CHART_GROUPS = {"bar": (1, 2), "stacked_bar": (2, 2), "line": (1, 2), "pie": (1, 1),
                "funnel": (1, 1), "table": (0, 2), "pivot": (2, 2)}
SPEC_KEYS = ("subject", "measure", "group_by", "filters", "where", "period", "chart")
# Customer catalogue kinds a report can group by (dates only in buckets).
GROUPABLE = ("choice", "text", "user", "team", "boolean")
DATED = ("date", "datetime", "anniversary")
OTHER = "__other__"


def _text(value) -> str | None:
    """A spec's name or code: text only; a list or a number where a name belongs becomes a
    name nothing has, so it is refused with the path's message (None stays absent)."""
    if value is None or value == "":
        return None
    return value[:100] if isinstance(value, str) else "<?>"


class _Errors:
    def __init__(self):
        self.details: dict[str, list[str]] = {}

    def add(self, path: str, message: str) -> None:
        self.details.setdefault(path, []).append(str(message))

    def raise_if_any(self) -> None:
        if self.details:
            raise ValidationFailed(details=self.details)


@dataclass(frozen=True)
class Dimension:
    """One resolved group-by: the ORM paths it groups on and how its values read."""

    key: str  # as in the spec
    label: str
    paths: tuple[str, ...]  # the city of the region hierarchy groups on (province, city)
    kind: str  # choice, text, user, team, fk, boolean, bucket
    bucket: str = ""
    date_kind: str = ""  # datetime | date (buckets)
    choices: dict[str, str] = field(default_factory=dict)
    fk_model: str = ""


def _catalogue():
    from kehu.segments.definition import Catalogue

    return Catalogue.load()


def _sensitive_name(spec) -> str | None:
    return getattr(spec, "sensitive", None)


def validate_spec(raw: Any, *, user) -> dict[str, Any]:
    """The spec checked for this user and normalised (defaults filled in); ValidationFailed
    naming each bad path otherwise. Validating a normalised spec gives it back unchanged."""
    errors = _Errors()
    if not isinstance(raw, dict):
        raise ValidationFailed(details={"spec": [_("A report is a JSON object.")]})
    for key in raw:
        if key not in SPEC_KEYS:
            errors.add(str(key)[:40], _("Unknown key (one of: %s).") % ", ".join(SPEC_KEYS))
    subject = SUBJECTS.get(_text(raw.get("subject")))
    if subject is None:
        errors.add("subject", _("Choose a subject (one of: %s).") % ", ".join(SUBJECTS))
        errors.raise_if_any()
    measure = _validate_measure(raw.get("measure") or {"kind": "count"}, subject, errors)
    group_by = _validate_group_by(raw.get("group_by") or [], subject, user, errors)
    where = _validate_where(raw.get("where") or {}, subject, errors)
    period = _validate_period(raw.get("period"), errors)
    chart = _text(raw.get("chart")) or ("table" if not group_by else "bar")
    if chart not in CHARTS:
        errors.add("chart", _("Unknown chart (one of: %s).") % ", ".join(CHARTS))
    elif not any(path.startswith("group_by") for path in errors.details):
        low, high = CHART_GROUPS[chart]
        if not low <= len(group_by) <= high:
            errors.add("chart", _("A %(chart)s chart needs %(low)s to %(high)s group-bys.")
                       % {"chart": CHARTS[chart], "low": low, "high": high})
    filters = raw.get("filters") or None
    if filters is not None:
        from kehu.segments.definition import validate

        try:
            filters = validate(filters, access=user.access, catalogue=_catalogue())
        except ValidationFailed as exc:
            for path, messages in (exc.details or {}).items():
                for message in messages:
                    errors.add(f"filters.{path}", message)
    errors.raise_if_any()
    return {"subject": subject.key, "measure": measure, "group_by": group_by,
            "filters": filters, "where": where, "period": period, "chart": chart}


def _validate_measure(raw, subject: Subject, errors: _Errors) -> dict:
    if not isinstance(raw, dict) or set(raw) - {"kind", "field"}:
        errors.add("measure", _("A measure is {\"kind\": …, \"field\": …}."))
        return {"kind": "count"}
    kind = _text(raw.get("kind")) or "count"
    if kind not in MEASURES:
        errors.add("measure.kind", _("Unknown measure (one of: %s).") % ", ".join(MEASURES))
        return {"kind": "count"}
    if kind in ("sum", "avg"):
        name = _text(raw.get("field"))
        if name not in subject.amounts:
            errors.add("measure.field", _("%(subject)s have no amount “%(field)s” (one of: "
                                          "%(known)s).") % {
                "subject": subject.label, "field": str(name)[:40],
                "known": ", ".join(subject.amounts) or "—"})
        return {"kind": kind, "field": name}
    if raw.get("field"):
        errors.add("measure.field", _("Only a sum or an average names a field."))
    return {"kind": kind}


def _validate_group_by(raw, subject: Subject, user, errors: _Errors) -> list[dict]:
    if not isinstance(raw, list):
        errors.add("group_by", _("Group-bys are a list."))
        return []
    if len(raw) > MAX_GROUP_BYS:
        errors.add("group_by", _("At most %d group-bys.") % MAX_GROUP_BYS)
        return []
    out = []
    for index, item in enumerate(raw):
        path = f"group_by[{index}]"
        if not isinstance(item, dict) or set(item) - {"field", "bucket"}:
            errors.add(path, _("A group-by is {\"field\": …, \"bucket\": …}."))
            continue
        normal = {"field": item.get("field")}
        if item.get("bucket"):
            normal["bucket"] = _text(item["bucket"]) or "?"
        try:
            dimension = resolve_dimension(normal, subject, user)
        except ValidationFailed as exc:
            for message in exc.details.get("field", []):
                errors.add(f"{path}.field", message)
            for message in exc.details.get("bucket", []):
                errors.add(f"{path}.bucket", message)
            continue
        if dimension.bucket:
            normal["bucket"] = dimension.bucket
        if normal in out:
            errors.add(path, _("This group-by is given twice."))
        out.append(normal)
    return out


def resolve_dimension(item: dict, subject: Subject, user) -> Dimension:
    """One group-by resolved for this user; ValidationFailed with "field" or "bucket"."""
    key, bucket = item.get("field"), _text(item.get("bucket")) or ""
    if not isinstance(key, str) or not key:
        raise ValidationFailed(details={"field": [_("Name a field to group by.")]})
    if bucket and bucket not in BUCKETS:
        raise ValidationFailed(details={"bucket": [_("Unknown date bucket (one of: %s).")
                                                   % ", ".join(BUCKETS)]})
    if key == "date":
        return Dimension(key, str(subject.date_label), (subject.date_path,), "bucket",
                         bucket or "month", subject.date_kind)
    own = subject.fields.get(key)
    if own is not None:
        return _own_dimension(key, own, bucket)
    spec = _catalogue().fields.get(key)
    if spec is None:
        raise ValidationFailed(details={"field": [_("Unknown field “%s”.") % key[:60]]})
    sensitive = _sensitive_name(spec)
    if sensitive and not user.access.may_condition_on(sensitive):
        raise ValidationFailed(details={"field": [refusal_message(spec.label)]})
    label = str(spec.label)
    if key == "city":  # the region hierarchy: a city is grouped within its province
        return Dimension(key, label, (subject.customer("province"), subject.customer("city")),
                         "text")
    if spec.kind in DATED and not key.startswith("custom."):
        model_field = _model_field(subject, spec.path)
        date_kind = "datetime" if isinstance(model_field, DateTimeField) else "date"
        return Dimension(key, label, (subject.customer(spec.path),), "bucket",
                         bucket or "month", date_kind)
    if bucket:
        raise ValidationFailed(details={"bucket": [_("Only dates are grouped in buckets.")]})
    if spec.kind not in GROUPABLE:
        raise ValidationFailed(details={"field": [_("“%s” cannot be grouped by.") % label]})
    choices = {str(k): str(v) for k, v in (spec.choices() if spec.choices else [])}
    return Dimension(key, label, (subject.customer(spec.path),), spec.kind, choices=choices)


def _own_dimension(key: str, own: OwnField, bucket: str) -> Dimension:
    if own.kind in ("date", "datetime"):
        return Dimension(key, str(own.label), (own.path,), "bucket", bucket or "month",
                         own.kind)
    if bucket:
        raise ValidationFailed(details={"bucket": [_("Only dates are grouped in buckets.")]})
    choices = {str(k): str(v) for k, v in (own.choices() if own.choices else [])}
    return Dimension(key, str(own.label), (own.path,), own.kind, choices=choices,
                     fk_model=own.fk_model)


def _model_field(subject: Subject, path: str):
    model = apps.get_model("customers.Customer")
    for part in path.split("__"):
        found = model._meta.get_field(part)
        model = found.related_model or model
    return found


def _validate_where(raw, subject: Subject, errors: _Errors) -> dict[str, list]:
    if not isinstance(raw, dict):
        errors.add("where", _("“where” maps a field of the subject to its allowed values."))
        return {}
    out = {}
    for key, values in raw.items():
        path = f"where.{str(key)[:40]}"
        own = subject.fields.get(key)
        if own is None or own.kind in ("date", "datetime"):
            errors.add(path, _("%(subject)s cannot be narrowed by “%(field)s” (one of: "
                               "%(known)s).") % {
                "subject": subject.label, "field": str(key)[:40],
                "known": ", ".join(k for k, f in subject.fields.items()
                                   if f.kind not in ("date", "datetime")) or "—"})
            continue
        if not isinstance(values, list) or not values or len(values) > MAX_WHERE_VALUES:
            errors.add(path, _("Give a list of 1 to %d values.") % MAX_WHERE_VALUES)
            continue
        if own.kind in ("user", "team", "fk"):
            if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values):
                errors.add(path, _("Give ids (whole numbers)."))
                continue
        else:
            values = [str(v)[:200] for v in values]
            if own.choices:
                known = {str(k) for k, _label in own.choices()}
                bad = [v for v in values if v not in known]
                if bad:
                    errors.add(path, _("Unknown value “%(value)s” (one of: %(known)s).") % {
                        "value": bad[0][:40], "known": ", ".join(sorted(known))})
                    continue
        out[key] = values
    return out


def _validate_period(raw, errors: _Errors) -> dict | None:
    if raw in (None, "", {}):
        return None
    if not isinstance(raw, dict) or set(raw) - {"key", "from", "to"}:
        errors.add("period", _("A period is {\"key\": …} (and \"from\"/\"to\" when custom)."))
        return None
    try:
        period = parse_period({"period": _text(raw.get("key")) or "",
                               "from": _text(raw.get("from")) or "",
                               "to": _text(raw.get("to")) or ""})
    except PeriodError as exc:
        errors.add("period", str(exc))
        return None
    if period.key == "custom":
        return {"key": "custom", "from": period.start.isoformat(), "to": period.end.isoformat()}
    return {"key": period.key}


def period_of(spec: dict):
    if not spec.get("period"):
        return None
    raw = spec["period"]
    return parse_period({"period": raw["key"], "from": raw.get("from", ""),
                         "to": raw.get("to", "")})


# Running --------------------------------------------------------------------------------


@dataclass
class Cell:
    keys: tuple  # JSON-able group values (None: empty); OTHER for the rest
    labels: tuple[str, ...]
    value: Any
    url: str = ""


@dataclass
class ReportResult:
    spec: dict[str, Any]
    subject_label: str
    measure_label: str
    dimensions: list[str]
    rows: list[Cell]
    total: Any
    total_url: str
    truncated: bool = False
    first_totals: list[Cell] = field(default_factory=list)  # per value of the first group-by
    second_totals: list[Cell] = field(default_factory=list)  # per value of the second

    def as_json(self) -> dict[str, Any]:
        def cell(c: Cell) -> dict:
            return {"keys": list(c.keys), "labels": list(c.labels), "value": _plain(c.value),
                    "url": c.url}
        return {"spec": self.spec, "subject": self.subject_label, "measure": self.measure_label,
                "dimensions": self.dimensions, "rows": [cell(c) for c in self.rows],
                "total": _plain(self.total), "total_url": self.total_url,
                "truncated": self.truncated,
                "first_totals": [cell(c) for c in self.first_totals],
                "second_totals": [cell(c) for c in self.second_totals]}


def _plain(value):
    if isinstance(value, Decimal):
        return float(value)
    return value


def measure_label(spec: dict) -> str:
    subject = SUBJECTS[spec["subject"]]
    measure = spec["measure"]
    if measure["kind"] == "count":
        return _("Number of %s") % subject.label
    if measure["kind"] == "distinct_customers":
        return str(MEASURES["distinct_customers"])
    return f"{MEASURES[measure['kind']]} · {subject.amounts[measure['field']][0]}"


def scoped_rows(spec: dict, *, user):
    """The subject's rows in the user's scope, narrowed by the spec's customer filters,
    `where` and period (the spec validated already)."""
    return narrowed(SUBJECTS[spec["subject"]].rows(user), spec, user=user)


def narrowed(qs, spec: dict, *, user):
    """`qs` (the subject's rows) narrowed by the spec's filters, `where` and period."""
    subject = SUBJECTS[spec["subject"]]
    if spec.get("filters"):
        from kehu.segments.compiler import compile_tree, context_for

        catalogue = _catalogue()
        condition = compile_tree(spec["filters"], fields=catalogue.fields,
                                 ctx=context_for(user))
        if subject.customer_path:
            customers = apps.get_model("customers.Customer").objects.filter(condition)
            qs = qs.filter(**{f"{subject.customer_path}__in": customers.values("pk")})
        else:
            qs = qs.filter(condition)
    for key, values in (spec.get("where") or {}).items():
        qs = qs.filter(**{f"{subject.fields[key].path}__in": values})
    period = period_of(spec)
    if period is not None:
        if subject.date_kind == "datetime":
            qs = qs.filter(**{f"{subject.date_path}__gte": period.start_dt(),
                              f"{subject.date_path}__lt": period.end_dt()})
        else:
            qs = qs.filter(**{f"{subject.date_path}__gte": period.start,
                              f"{subject.date_path}__lte": period.end})
    return qs


def _aggregate(spec: dict) -> dict[str, Any]:
    subject = SUBJECTS[spec["subject"]]
    measure = spec["measure"]
    if measure["kind"] == "count":
        return {"m": Count("pk")}
    if measure["kind"] == "distinct_customers":
        return {"m": Count(subject.customer_id_path, distinct=True)}
    path = subject.amounts[measure["field"]][1]
    if measure["kind"] == "sum":
        return {"m": Sum(path)}
    return {"m": Avg(path), "n": Count(path), "s": Sum(path)}


def _expression(dimension: Dimension, path: str):
    if dimension.kind != "bucket":
        return F(path)
    if dimension.date_kind == "datetime":
        return Trunc(path, dimension.bucket, output_field=DateTimeField(),
                     tzinfo=timezone.get_current_timezone())
    return Trunc(path, dimension.bucket, output_field=DateField())


def _annotated(qs, dimensions: list[Dimension]):
    names: list[str] = []
    annotations = {}
    for index, dimension in enumerate(dimensions):
        for part, path in enumerate(dimension.paths):
            name = f"g{index}_{part}"
            annotations[name] = _expression(dimension, path)
            names.append(name)
    return qs.annotate(**annotations), names


def _key_of(dimension: Dimension, values: tuple):
    """A group's JSON-able key: one value, or [province, city] for the hierarchy."""
    plain = [v.isoformat() if isinstance(v, dt.date | dt.datetime) else
             (str(v) if isinstance(v, Decimal) else v) for v in values]
    return plain[0] if len(plain) == 1 else plain


def run_report(raw_spec: Any, *, user, validated: bool = False) -> ReportResult:
    """Answer a spec for this user: one GROUP BY (plus the totals) in the database."""
    user.access.require("report.view")
    spec = raw_spec if validated else validate_spec(raw_spec, user=user)
    subject = SUBJECTS[spec["subject"]]
    dimensions = [resolve_dimension(item, subject, user) for item in spec["group_by"]]
    qs = scoped_rows(spec, user=user)
    aggregate = _aggregate(spec)
    result = ReportResult(spec=spec, subject_label=str(subject.label),
                          measure_label=measure_label(spec),
                          dimensions=[d.label for d in dimensions], rows=[], total=None,
                          total_url=drill_url(spec, ()))
    if not dimensions:
        result.total = _measure_value(spec, qs.aggregate(**aggregate))
        return result
    annotated, names = _annotated(qs, dimensions)
    grouped = list(annotated.order_by().values(*names).annotate(**aggregate)
                   .order_by("-m", *names)[:MAX_GROUPS + 1])
    result.truncated = len(grouped) > MAX_GROUPS
    grouped = grouped[:MAX_GROUPS]
    if spec["measure"]["kind"] in ("count", "sum") and not result.truncated:
        # Every group is here: the total is their sum (one query fewer on a big table).
        total_row = {"m": sum((row["m"] or 0) for row in grouped)}
    else:
        total_row = qs.aggregate(**aggregate)
    result.total = _measure_value(spec, total_row)
    labeller = _Labeller(dimensions)
    cells = []
    for row in grouped:
        keys = tuple(_key_of(d, tuple(row[f"g{i}_{p}"] for p in range(len(d.paths))))
                     for i, d in enumerate(dimensions))
        cells.append((keys, row))
    labeller.load([keys for keys, _row in cells])
    result.rows = [Cell(keys, labeller.labels(keys), _measure_value(spec, row),
                        drill_url(spec, keys)) for keys, row in cells]
    result.rows.sort(key=lambda c: _order_key(dimensions, c, labeller))
    if result.truncated:
        result.rows.append(_other(spec, annotated, names, grouped, total_row, dimensions))
    if len(dimensions) == 2 and spec["chart"] == "pivot":
        # The pivot's row and column totals (not sums of cells: a customer may sit in two).
        result.first_totals = _margin(spec, qs, dimensions, 0, labeller)
        result.second_totals = _margin(spec, qs, dimensions, 1, labeller)
    return result


def _measure_value(spec: dict, row: dict):
    value = row.get("m")
    if spec["measure"]["kind"] in ("count", "distinct_customers"):
        return int(value or 0)
    if value is None:
        return None if spec["measure"]["kind"] == "avg" else Decimal("0.00")
    return Decimal(value).quantize(Decimal("0.01"))


def _order_key(dimensions: list[Dimension], cell: Cell, labeller: _Labeller):
    parts = []
    for index, dimension in enumerate(dimensions):
        key = cell.keys[index]
        if dimension.kind == "bucket":
            parts.append((0, key or ""))
        else:
            parts.append((1, -labeller.weight(index, key)))
    return parts


def _other(spec, annotated, names, grouped, total_row, dimensions) -> Cell:
    kind = spec["measure"]["kind"]
    if kind in ("count", "sum"):
        shown = sum((row["m"] or 0) for row in grouped)
        value = _measure_value(spec, {"m": (total_row["m"] or 0) - shown})
    else:
        shown_combos = reduce(or_, (Q(**{name: row[name] for name in names}) for row in grouped))
        rest = annotated.exclude(shown_combos).aggregate(**_aggregate(spec))
        value = _measure_value(spec, rest)
    return Cell((OTHER,) * len(dimensions), (_("Other"),) * len(dimensions), value, "")


def _margin(spec, qs, dimensions, index, labeller) -> list[Cell]:
    dimension = dimensions[index]
    annotated, names = _annotated(qs, [dimension])
    rows = list(annotated.order_by().values(*names).annotate(**_aggregate(spec))
                .order_by("-m", *names)[:MAX_GROUPS])
    keys_list = [_key_of(dimension, tuple(row[f"g0_{p}"] for p in range(len(dimension.paths))))
                 for row in rows]
    labeller.load_one(index, keys_list)
    cells = []
    for row in rows:
        key = _key_of(dimension, tuple(row[f"g0_{p}"] for p in range(len(dimension.paths))))
        keys = (key, None) if index == 0 else (None, key)
        cells.append(Cell((key,), (labeller.label(index, key),), _measure_value(spec, row),
                          drill_url(spec, keys, only=index)))
    return cells


class _Labeller:
    """Labels of group values: choice labels, user and team names, formatted buckets."""

    def __init__(self, dimensions: list[Dimension]):
        self.dimensions = dimensions
        self.names: list[dict] = [{} for _d in dimensions]
        self.weights: list[dict] = [{} for _d in dimensions]

    def load(self, keys_list: list[tuple]) -> None:
        from kehu.accounts.models import Team, User

        for index, dimension in enumerate(self.dimensions):
            model = {"user": User, "team": Team}.get(dimension.kind)
            if dimension.kind == "fk":
                model = apps.get_model(dimension.fk_model)
            ids = {keys[index] for keys in keys_list if keys[index] is not None} \
                if model is not None else set()
            if ids:
                ids -= self.names[index].keys()
                self.names[index].update((o.pk, str(o)) for o in model.objects.filter(pk__in=ids))
            for position, keys in enumerate(keys_list):
                self.weights[index].setdefault(_hashable(keys[index]), -position)

    def load_one(self, index: int, keys: list) -> None:
        self.load([tuple(key if i == index else None for i in range(len(self.dimensions)))
                   for key in keys])

    def weight(self, index: int, key) -> int:
        # Rows arrive by measure, largest first: keep that order of first appearance.
        return self.weights[index].get(_hashable(key), -10**9)

    def label(self, index: int, key) -> str:
        dimension = self.dimensions[index]
        if key is None or key == "" or key == [None, None]:
            return _("(empty)")
        if dimension.kind == "bucket":
            return bucket_label(dimension.bucket, key)
        if dimension.kind in ("user", "team", "fk"):
            return self.names[index].get(key) or f"#{key}"
        if dimension.kind == "boolean":
            return _("Yes") if key in (True, "true") else _("No")
        if isinstance(key, list):
            return " · ".join(str(part) for part in key if part) or _("(empty)")
        return dimension.choices.get(str(key), str(key))

    def labels(self, keys: tuple) -> tuple[str, ...]:
        return tuple(self.label(index, key) for index, key in enumerate(keys))


def _hashable(key):
    return tuple(key) if isinstance(key, list) else key


def bucket_label(bucket: str, key: str) -> str:
    """A bucket's start as people read it; the year only when it is not this year."""
    day = dt.date.fromisoformat(key[:10])
    this_year = day.year == timezone.localdate().year
    if bucket == "year":
        return str(day.year)
    if bucket == "quarter":
        quarter = (day.month - 1) // 3 + 1
        return f"Q{quarter}" if this_year else f"{day.year} Q{quarter}"
    if bucket == "month":
        return f"{day.month}月" if this_year else f"{day.year}年{day.month}月"
    text = f"{day.month}月{day.day}日" if this_year else f"{day.year}年{day.month}月{day.day}日"
    return _("week of %s") % text if bucket == "week" else text


# Drill-down -----------------------------------------------------------------------------


def drill_token(spec: dict, keys: tuple, *, only: int | None = None) -> str:
    """A signed reference to one cell: the spec and the group values it stands for. Signed
    so the link cannot be edited into another question; the drill page validates the spec
    again for whoever opens it (their scope, their masking)."""
    chosen = {str(i): key for i, key in enumerate(keys) if only is None or i == only}
    return signing.dumps({"s": spec, "k": chosen}, salt=DRILL_SALT, compress=True)


def drill_url(spec: dict, keys: tuple, *, only: int | None = None) -> str:
    """The list behind a number: the customer list (filter `report_cell`, registered by this
    app) when the number counts customers, else the report's own list of the rows."""
    token = drill_token(spec, keys, only=only)
    if lists_customers(spec):
        return reverse("customers:list") + "?" + urlencode({"report_cell": token})
    return reverse("reports:drill") + "?" + urlencode({"t": token})


def read_drill_token(token: str) -> tuple[Any, dict[str, Any]]:
    try:
        data = signing.loads(token, salt=DRILL_SALT)
    except signing.BadSignature:
        raise ValidationFailed(details={"t": [_("This drill-down link is not valid.")]}
                               ) from None
    return data.get("s"), dict(data.get("k") or {})


def cell_rows(raw_spec: Any, chosen: dict[str, Any], *, user):
    """The subject's rows behind one cell, in the user's scope (the spec validated again for
    this user, so a masked field cannot be recovered through a link)."""
    user.access.require("report.view")
    spec = validate_spec(raw_spec, user=user)
    return spec, in_cell(scoped_rows(spec, user=user), spec, chosen, user=user)


def in_cell(qs, spec: dict, chosen: dict[str, Any], *, user):
    """`qs` narrowed to one cell's group values (the spec validated for `user`)."""
    subject = SUBJECTS[spec["subject"]]
    for index_text, key in chosen.items():
        index = int(index_text) if str(index_text).isdigit() else MAX_GROUP_BYS
        if index >= len(spec["group_by"]):
            raise ValidationFailed(details={"t": [_("This drill-down link is not valid.")]})
        dimension = resolve_dimension(spec["group_by"][index], subject, user)
        qs = qs.filter(_cell_condition(dimension, key))
    return qs


def lists_customers(spec: dict) -> bool:
    """Whether a cell stands for customers the customer list can show: customers themselves,
    or distinct customers of rows seen through their customer (deals have their own scope)."""
    return spec["subject"] == "customers" or (
        spec["measure"]["kind"] == "distinct_customers" and spec["subject"] != "deals")


def _cell_condition(dimension: Dimension, key) -> Q:
    if dimension.kind == "bucket":
        path = dimension.paths[0]
        if key is None:
            return Q(**{f"{path}__isnull": True})
        start = _parse_start(key, dimension)
        end = _bucket_end(start, dimension.bucket)
        return Q(**{f"{path}__gte": start, f"{path}__lt": end})
    values = key if isinstance(key, list) else [key]
    condition = Q()
    for path, value in zip(dimension.paths, values, strict=True):
        if value is None:
            condition &= Q(**{f"{path}__isnull": True})
        else:
            condition &= Q(**{path: value})
    return condition


def _parse_start(key: str, dimension: Dimension):
    if dimension.date_kind == "datetime":
        value = dt.datetime.fromisoformat(key)
        return value if timezone.is_aware(value) else timezone.make_aware(value)
    return dt.date.fromisoformat(key[:10])


def _bucket_end(start, bucket: str):
    if bucket == "day":
        return start + dt.timedelta(days=1)
    if bucket == "week":
        return start + dt.timedelta(days=7)
    months = {"month": 1, "quarter": 3, "year": 12}[bucket]
    index = start.year * 12 + start.month - 1 + months
    nxt = start.replace(year=index // 12, month=index % 12 + 1, day=1)
    if isinstance(start, dt.datetime):
        # Re-localise: the offset may differ across a daylight-saving change.
        nxt = timezone.make_aware(nxt.replace(tzinfo=None), timezone.get_current_timezone())
    return nxt
