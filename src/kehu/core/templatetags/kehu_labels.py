"""Template filters that turn stored codes into what people read (see kehu.core.labels)."""

from __future__ import annotations

import datetime as dt

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format

from kehu.core import labels

register = template.Library()


@register.filter
def label(code, domain: str) -> str:
    """{{ identifier.kind|label:"identifier.kind" }} reads 微信 for "wechat"."""
    return labels.choice_label(domain, code)


@register.filter
def field_label(field: str, object_type: str = "customer") -> str:
    return labels.field_label(object_type, field)


@register.filter
def action_label(action: str) -> str:
    return labels.action_label(action)


@register.filter
def object_label(object_type: str) -> str:
    return labels.object_label(object_type)


@register.filter
def changes_of(changes, object_type: str = "customer"):
    """An audit entry's changes as rows: {label, is_change, before, after | value}."""
    return labels.present_changes(object_type, changes)


@register.filter
def shortdate(value) -> str:
    """A date (or datetime, in local time) as 11-03 this year and 2025-11-03 otherwise, so a
    date never loses its year where it matters."""
    if value in (None, ""):
        return ""
    if isinstance(value, dt.datetime):
        value = timezone.localtime(value) if timezone.is_aware(value) else value
        day = value.date()
    else:
        day = value
    return date_format(day, "m-d" if day.year == timezone.localdate().year else "Y-m-d")
