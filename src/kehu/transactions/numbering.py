"""Helpers the order and ticket services share: choice checks and readable numbers."""

from __future__ import annotations

import datetime as dt
import uuid

from django.utils import timezone
from django.utils.translation import gettext as _


def _choice(errors: dict, name: str, value: str, choices, *, blank: bool = False) -> None:
    if blank and not value:
        return
    if value not in {code for code, _label in choices}:
        errors.setdefault(name, []).append(_("“%s” is not a valid choice.") % value)


def _numbered(prefix: str, at: dt.datetime) -> str:
    """A unique placeholder number; _final_number swaps in the row id once the row exists."""
    return f"{prefix}{timezone.localtime(at):%Y%m%d}-TMP{uuid.uuid4().hex[:12]}"


def _final_number(prefix: str, model, row) -> str:
    """A readable number such as SO20261123-000123: prefix, local date, row id."""
    at = row.ordered_at if hasattr(row, "ordered_at") else row.opened_at
    number = f"{prefix}{timezone.localtime(at):%Y%m%d}-{row.pk:06d}"
    if model.objects.filter(number=number).exclude(pk=row.pk).exists():
        number = f"{number}-{uuid.uuid4().hex[:4]}"
    return number


