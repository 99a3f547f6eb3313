"""高价值客户画像: the high-value tier (or a segment, ?segment=ID) against the whole base the
viewer may see, by industry, province, company size, source, age band, gender, first-purchase
channel and products bought. Each value shows its share in the group and in the base and the
lift (group share ÷ base share); values at least LIFT_HIGHLIGHT times as common in the group
are "over-represented" and listed. Every bar opens the customer list behind it.

The group is the customer list's own `value_tier` / `segment` filter (customers.fields
LIST_FILTERS), so the bars and the lists they open cannot disagree. For the high-value tier
every count is a sum over the profile summary (ProfileSummary, kept current by the domain
events: dashboards/summaries.py) in the viewer's scope; for a segment they are GROUP BY
queries over its members and the base. Both give the same figures (tests), TOP_VALUES
values per feature. The age band is computed from the birthday only for
a viewer who may condition on it in clear (AccessPolicy.may_condition_on); otherwise it is left
out with a note. Nothing is derived from the ID number.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.db.models import Count, Sum
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.core.errors import NotFound, PermissionDenied
from kehu.customers.fields import LIST_FILTERS
from kehu.customers.labels import SOURCE_CHANNELS
from kehu.customers.models import Customer
from kehu.customers.selectors import customer_queryset
from kehu.dashboards import charts
from kehu.dashboards.boards import Board, BoardData, Chart, Column, Control, Figure, Table, register_board
from kehu.dashboards.list_filters import AGE_BANDS, age_band_expression
from kehu.dashboards.summaries import PROFILE_ALL
from kehu.dashboards.summary_selectors import profile_summary
from kehu.transactions.models import Order, Product
from kehu.transactions.selectors import buyers_of_products, first_purchase_channel, products_bought_by

TOP_VALUES = 10
LIFT_HIGHLIGHT = 1.2
MIN_GROUP_COUNT = 2  # a value held by one group member is not a pattern
HIGH_VALUE = "high_value"


def _group(user, params):
    """(group queryset, its list filter {key: value}, its name, controls, note)."""
    from kehu.segments.selectors import segment_get, segment_list, segment_members_queryset

    base = customer_queryset(user=user)
    controls, note = [], ""
    segments = []
    if user.access.can("segment.view"):
        segments = list(segment_list(user=user).values_list("pk", "name")[:200])
    raw = str(params.get("segment") or "")
    if raw:
        try:
            if not (raw.isascii() and raw.isdigit()):
                raise NotFound()
            segment = segment_get(user=user, segment_id=int(raw))
        except (NotFound, PermissionDenied):
            note = _("segment: no such segment for you; showing the high-value tier.")
        else:
            if segments:
                controls.append(Control("segment", _("Compare"), [("", _("High-value tier"))]
                                        + [(str(pk), name) for pk, name in segments], raw))
            return (segment_members_queryset(user=user, segment=segment).order_by(),
                    {"segment": str(segment.pk)}, segment.name, controls, note)
    if segments:
        controls.append(Control("segment", _("Compare"), [("", _("High-value tier"))]
                                + [(str(pk), name) for pk, name in segments], ""))
    tier = LIST_FILTERS["value_tier"]
    return (tier.apply(base, HIGH_VALUE), {"value_tier": HIGH_VALUE}, _("High-value tier"),
            controls, note)


def _features(user) -> list[tuple[str, str, object, str, dict]]:
    """(key, title, group-by expression or column, list filter key, value labels)."""
    features = [
        ("industry", _("Industry"), "industry", "industry", {}),
        ("province", _("Province"), "province", "province", {}),
        ("company_size", _("Company size"), "company_size", "company_size", {}),
        ("source", _("Source channel"), "source", "source",
         {k: str(v) for k, v in SOURCE_CHANNELS}),
        ("gender", _("Gender"), "gender", "gender", {k: str(v) for k, v in Customer.GENDERS}),
    ]
    if user.access.may_condition_on("customer.birthday"):
        features.append(("age_band", _("Age band"), age_band_expression(), "age_band",
                         {code: str(label) for code, label, *_r in AGE_BANDS}))
    features.append(("first_channel", _("First-purchase channel"), first_purchase_channel(),
                     "first_channel", {k: str(v) for k, v in Order.SALES_CHANNELS}))
    return features


def _counts(queryset, expression, *, only=None, limit=None) -> dict:
    rows = queryset.order_by().annotate(feature=expression) if not isinstance(expression, str) \
        else queryset.order_by().annotate(feature=_column(expression))
    # "not filled in" is not a feature, and no list filter can name it
    rows = rows.exclude(feature__isnull=True).exclude(feature="")
    if only is not None:
        rows = rows.filter(feature__in=only)
    rows = rows.values("feature").annotate(n=Count("pk")).order_by("-n", "feature")
    if limit:
        rows = rows[:limit]
    return {row["feature"]: row["n"] for row in rows}


def _column(name: str):
    from django.db.models import F

    return F(name)


class _Direct:
    """Counts by GROUP BY over the group's members and the base (a segment)."""

    def __init__(self, group, base):
        self.group, self.base = group, base

    def sizes(self) -> tuple[int, int]:
        return self.group.count(), self.base.count()

    def feature(self, key, expression) -> tuple[dict, dict]:
        group_counts = _counts(self.group, expression, limit=TOP_VALUES)
        base_counts = _counts(self.base, expression, only=list(group_counts)) \
            if group_counts else {}
        return group_counts, base_counts

    def products(self) -> tuple[list[tuple[int, str, int]], dict[int, int]]:
        products = products_bought_by(self.group, limit=TOP_VALUES)
        base = buyers_of_products(self.base, [pk for pk, _n, _c in products]) \
            if products else {}
        return products, base


class _Summary:
    """Counts summed from the profile summary in the viewer's scope (the high-value tier)."""

    def __init__(self, user):
        self.rows = profile_summary(user)

    def _sum(self, rows) -> int:
        return rows.aggregate(n=Sum("customers"))["n"] or 0

    def sizes(self) -> tuple[int, int]:
        everyone = self.rows.filter(feature=PROFILE_ALL)
        return self._sum(everyone.filter(value_tier=HIGH_VALUE)), self._sum(everyone)

    def _by_value(self, rows) -> dict[str, int]:
        return {row["value"]: row["n"] for row in rows.order_by().values("value")
                .annotate(n=Sum("customers")).order_by("-n", "value")}

    def feature(self, key, expression) -> tuple[dict, dict]:
        rows = self.rows.filter(feature=key)
        group_counts = dict(list(self._by_value(
            rows.filter(value_tier=HIGH_VALUE)).items())[:TOP_VALUES])
        base_counts = self._by_value(rows.filter(value__in=list(group_counts))) \
            if group_counts else {}
        return group_counts, base_counts

    def products(self) -> tuple[list[tuple[int, str, int]], dict[int, int]]:
        rows = self.rows.filter(feature="product")
        bought = {int(value): n for value, n in self._by_value(
            rows.filter(value_tier=HIGH_VALUE)).items()}
        top = sorted(bought.items(), key=lambda item: (-item[1], item[0]))[:TOP_VALUES]
        if not top:
            return [], {}
        names = dict(Product.objects.filter(pk__in=[pk for pk, _n in top])
                     .values_list("pk", "name"))
        base = {int(value): n for value, n in self._by_value(
            rows.filter(value__in=[str(pk) for pk, _n in top])).items()}
        return [(pk, names.get(pk, ""), n) for pk, n in top], base


def _url(filters: dict) -> str:
    return f"{reverse('customers:list')}?{urlencode(filters)}"


def _rows(feature_key, title, group_counts, base_counts, group_size, base_size, labels,
          group_filter, filter_key):
    rows = []
    for value, n in group_counts.items():
        if value in (None, ""):
            continue  # "not filled in" is not a feature, and no list filter can name it
        share = n / group_size if group_size else 0.0
        base_n = base_counts.get(value, 0)
        base_share = base_n / base_size if base_size else 0.0
        lift = round(share / base_share, 2) if base_share else None
        rows.append({
            "feature": feature_key, "feature_label": title, "value": value,
            "label": labels.get(value, value), "group_count": n, "base_count": base_n,
            "group_share": round(100 * share, 1), "base_share": round(100 * base_share, 1),
            "lift": lift, "over": bool(lift and lift >= LIFT_HIGHLIGHT and n >= MIN_GROUP_COUNT),
            "group_url": _url({**group_filter, filter_key: value}),
            "base_url": _url({filter_key: value})})
    return rows


def _chart(key, title, rows, group_name) -> Chart:
    highlight = {"color": "#dc2626"}
    group = [charts.point(r["group_share"], name=r["label"], url=r["group_url"],
                          code=str(r["value"]), count=r["group_count"], lift=r["lift"],
                          **({"itemStyle": highlight} if r["over"] else {})) for r in rows]
    base = [charts.point(r["base_share"], name=r["label"], url=r["base_url"],
                         code=str(r["value"]), count=r["base_count"]) for r in rows]
    option = charts.bar([r["label"] for r in rows], [
        {"name": _("%(group)s share %%") % {"group": group_name}, "data": group},
        {"name": _("Whole base share %"), "data": base}], horizontal=True)
    return Chart(f"feature-{key}", title, option, height=max(200, 40 + 36 * len(rows)))


def build(*, user, period, params, summary: bool = True) -> BoardData:
    """The board; `summary=False` counts the high-value tier by direct queries too (the
    tests' reference for the summary path)."""
    data = BoardData()
    base = customer_queryset(user=user).order_by()
    group, group_filter, group_name, controls, note = _group(user, params)
    data.controls += controls
    if note:
        data.notes.append(note)
    counts = _Summary(user) if summary and group_filter == {"value_tier": HIGH_VALUE} \
        else _Direct(group, base)
    group_size, base_size = counts.sizes()
    data.figures += [
        Figure("group_size", str(group_name), group_size, url=_url(group_filter)),
        Figure("base_size", _("Whole base"), base_size, url=reverse("customers:list")),
        Figure("group_share", _("Share of the base"),
               round(100 * group_size / base_size, 1) if base_size else None, unit="%"),
    ]
    data.notes.append(_("A snapshot of today: the period does not apply to this board."))
    if not user.access.may_condition_on("customer.birthday"):
        data.notes.append(_("Age bands are left out: birthdays are masked or hidden for your "
                            "role."))
    over = []
    for key, title, expression, filter_key, labels in _features(user):
        group_counts, base_counts = counts.feature(key, expression)
        rows = _rows(key, title, group_counts, base_counts, group_size,
                     base_size, labels, group_filter, filter_key)
        over += [r for r in rows if r["over"]]
        if rows:
            data.charts.append(_chart(key, title, rows, group_name))
    products, base_buyers = counts.products()
    if products:
        rows = _rows("product", _("Products bought"), {pk: n for pk, _name, n in products},
                     base_buyers, group_size, base_size,
                     {pk: name for pk, name, _n in products}, group_filter, "product")
        over += [r for r in rows if r["over"]]
        data.charts.append(_chart("product", _("Products bought"), rows, group_name))
    over.sort(key=lambda r: (-(r["lift"] or 0), -r["group_count"]))
    data.tables.append(Table("over", _("Over-represented features"), [
        Column("label", _("Feature")), Column("feature_label", _("Dimension")),
        Column("group_count", _("In group"), "number"),
        Column("group_share", _("Share in group"), "percent"),
        Column("base_share", _("Share in base"), "percent"),
        Column("lift", _("Lift"), "number")],
        [{**r, "url": r["group_url"], "value": str(r["value"])} for r in over[:20]],
        empty=_("No feature is over-represented in this group.")))
    return data


register_board(Board(
    key="portrait", title=gettext_lazy("High-value customer portrait"),
    description=gettext_lazy("Who the high-value customers (or a segment) are, against the "
                             "whole base: features over-represented by lift"),
    permission="scoring.view", build=build, order=20))
