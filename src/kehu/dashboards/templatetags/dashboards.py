"""Formatting a board's figures and cells: money with ¥ and thousands, percentages, links."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma
from django.template.defaultfilters import date as date_filter
from django.utils import timezone
from django.utils.html import format_html

register = template.Library()


def format_value(value, kind: str = "number", unit: str = "") -> str:
    if value is None or value == "":
        return "—"
    if kind == "date" or isinstance(value, dt.date | dt.datetime):
        if isinstance(value, str):
            return value
        day = timezone.localtime(value).date() if isinstance(value, dt.datetime) else value
        # The year only when it is not this year, as everywhere else in kehu.
        return date_filter(day, "n月j日" if day.year == timezone.localdate().year else "Y年n月j日")
    if kind == "percent" or unit == "%":
        return f"{float(value):.1f}%"
    if kind == "money" or unit == "¥":
        return f"¥{intcomma(f'{Decimal(str(value)):.2f}')}"
    if isinstance(value, int | Decimal | float) and kind != "text":
        if isinstance(value, float | Decimal) and value != int(value):
            return f"{intcomma(f'{float(value):.1f}')}{unit}"
        return f"{intcomma(int(value))}{unit}"
    return f"{value}{unit}"


@register.filter
def figure_value(figure) -> str:
    return format_value(figure.value, "number", figure.unit)


@register.simple_tag
def cell(row: dict, column, first: bool = False):
    """A table cell; `<key>_url` links that cell, the row's `url` links its first cell."""
    text = format_value(row.get(column.key), column.kind)
    url = row.get(f"{column.key}_url") or (row.get("url") if first else "")
    if url:
        return format_html('<a href="{}">{}</a>', url, text)
    return text


@register.simple_tag
def action_cell(row: dict, column):
    """A POST button (htmx; the page sends the CSRF header) to the row's `<key>_url`, labelled
    with the row's value; empty when the row has no such URL (not allowed for the viewer)."""
    url = row.get(f"{column.key}_url")
    if not url:
        return ""
    return format_html('<form hx-post="{}" hx-swap="outerHTML"><button type="submit" '
                       'data-testid="action-{}">{}</button></form>', url, column.key,
                       row.get(column.key) or column.label)
