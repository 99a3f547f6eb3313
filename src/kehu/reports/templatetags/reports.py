"""Formatting report figures as the boards do (thousands, money, dates without this year)."""

from __future__ import annotations

from django import template

from kehu.dashboards.templatetags.dashboards import format_value

register = template.Library()


@register.filter
def report_value(value) -> str:
    return format_value(value, "number")
