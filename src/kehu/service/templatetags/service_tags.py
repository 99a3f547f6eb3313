"""Template filters of the service desk: moments with the year only when it is not this
year, and business durations."""

from __future__ import annotations

import datetime as dt

from django import template
from django.utils import timezone
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def moment(value) -> str:
    """03-02 11:00 this year, 2025-03-02 11:00 otherwise (local time)."""
    if not isinstance(value, dt.datetime):
        return ""
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    fmt = "%m-%d %H:%M" if local.year == timezone.localdate().year else "%Y-%m-%d %H:%M"
    return local.strftime(fmt)


@register.filter
def hours(seconds) -> str:
    """Business seconds as “3 h 30 min”."""
    if seconds in (None, ""):
        return "—"
    seconds = int(seconds)
    h, m = divmod(abs(seconds) // 60, 60)
    sign = "-" if seconds < 0 else ""
    if h and m:
        return _("%(sign)s%(h)d h %(m)d min") % {"sign": sign, "h": h, "m": m}
    if h:
        return _("%(sign)s%(h)d h") % {"sign": sign, "h": h}
    return _("%(sign)s%(m)d min") % {"sign": sign, "m": m}
