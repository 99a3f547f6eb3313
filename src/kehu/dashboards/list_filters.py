"""Customer-list filters the sales boards drill down through (customers.fields.register_filter):
industry, company size, gender, age band, first-purchase channel, product bought and segment.

Registered like every app's list filter, so a bar's link opens the same rows on the list page,
the API, exports and the CLI. All are drill-down only (hidden inputs on the list page). The age
band is a condition on the birthday: refused to a caller who may not condition on it
(AccessPolicy.may_condition_on), so a masked birthday cannot be recovered band by band.

The summary boards add:
`reached=customer`: the lifecycle stage shows the customer has bought into a relationship
(customer, loyal or churned: summary_selectors.CONVERTED_STAGES); `reached=order`: at least
one purchase order (Order.PURCHASE_STATUSES); `no_source=1`: no source channel recorded.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Case, CharField, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

MAX_ID = 2**31 - 1
TEXT_MAX = 100

# (code, label, youngest age, oldest age or None)
AGE_BANDS = [
    ("under_25", _("Under 25"), 0, 24),
    ("25_34", _("25–34"), 25, 34),
    ("35_44", _("35–44"), 35, 44),
    ("45_54", _("45–54"), 45, 54),
    ("55_plus", _("55 and over"), 55, None),
]
AGE_BAND_CODES = {code for code, *_rest in AGE_BANDS}


def years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def age_band_condition(code: str, today: dt.date | None = None) -> Q:
    """Persons whose age today falls in the band (by their birthday)."""
    today = today or timezone.localdate()
    _code, _label, youngest, oldest = next(band for band in AGE_BANDS if band[0] == code)
    condition = Q(birthday__lte=years_before(today, youngest))
    if oldest is not None:
        condition &= Q(birthday__gt=years_before(today, oldest + 1))
    return condition


def age_band_expression(today: dt.date | None = None) -> Case:
    """The age band code of each customer ("" without a birthday), for GROUP BY."""
    return Case(*[When(age_band_condition(code, today), then=Value(code))
                  for code, *_rest in AGE_BANDS],
                default=Value(""), output_field=CharField())


def _text(text: str) -> str | None:
    return text if 0 < len(text) <= TEXT_MAX else None


def _id(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_ID else None


def _check_age(access, value) -> None:
    access.require_condition("customer.birthday", path="age_band", label=_("Birthday"))

REACHED = ("customer", "order")


def _reached(text: str) -> str | None:
    return text if text in REACHED else None


def _apply_reached(queryset, value: str):
    from kehu.dashboards.summary_selectors import CONVERTED_STAGES
    from kehu.transactions.models import Order

    if value == "customer":
        return queryset.filter(lifecycle_stage__in=CONVERTED_STAGES)
    return queryset.filter(pk__in=Order.objects.filter(
        status__in=Order.PURCHASE_STATUSES).values("customer_id"))


def register_list_filters() -> None:
    from ninja import Field

    from kehu.customers.fields import LIST_FILTERS, ListFilter, register_filter
    from kehu.customers.models import Customer
    from kehu.segments.selectors import segment_member_ids
    from kehu.transactions.models import Order
    from kehu.transactions.selectors import buyers_of, first_purchase_channel

    def column(name):
        return lambda qs, value: qs.filter(**{name: value})

    text = (str, Field("", max_length=TEXT_MAX))
    register_filter(ListFilter("industry", _("Industry"), _text, column("industry"),
                               widget="hidden", api_field=text))
    register_filter(ListFilter("company_size", _("Company size"), _text,
                               column("company_size"), widget="hidden", api_field=text))
    genders = {code for code, _label in Customer.GENDERS}
    register_filter(ListFilter(
        "gender", _("Gender"), lambda t: t if t in genders else None, column("gender"),
        widget="hidden", choices=lambda: Customer.GENDERS,
        api_field=(str, Field("", description="male, female or unknown"))))
    register_filter(ListFilter(
        "age_band", _("Age band"), lambda t: t if t in AGE_BAND_CODES else None,
        lambda qs, value: qs.filter(age_band_condition(value)), check=_check_age,
        widget="hidden",
        api_field=(str, Field("", description="Age band by birthday: under_25, 25_34, 35_44, "
                                              "45_54, 55_plus (needs the birthday in clear)"))))
    channels = {code for code, _label in Order.SALES_CHANNELS}
    register_filter(ListFilter(
        "first_channel", _("First-purchase channel"),
        lambda t: t if t in channels else None,
        lambda qs, value: qs.annotate(first_channel=first_purchase_channel())
        .filter(first_channel=value),
        widget="hidden", choices=lambda: Order.SALES_CHANNELS,
        api_field=(str, Field("", description="Sales channel of the first purchase"))))
    register_filter(ListFilter(
        "product", _("Bought product"), _id,
        lambda qs, value: qs.filter(pk__in=buyers_of(value)), widget="hidden",
        api_field=(int | None, Field(None, ge=1, le=MAX_ID,
                                     description="Customers who bought this product (id)"))))
    register_filter(ListFilter(
        "segment", _("Segment"), _id,
        lambda qs, value: qs.filter(pk__in=segment_member_ids(value)),
        permission="segment.view", widget="hidden",
        api_field=(int | None, Field(None, ge=1, le=MAX_ID,
                                     description="Members of this segment (id)"))))
    if "reached" not in LIST_FILTERS:
        register_filter(ListFilter(
            "reached", _("Reached"), _reached, _apply_reached, widget="hidden",
            api_field=(str, Field("", max_length=10, description="customer: became a customer; "
                                                               "order: has a purchase order"))))
    if "no_source" not in LIST_FILTERS:
        register_filter(ListFilter(
            "no_source", _("No source channel"), lambda text: True if text == "1" else None,
            lambda queryset, _value: queryset.filter(source=""), widget="hidden",
            api_field=(str, Field("", max_length=1, description="1: no source channel"))))
