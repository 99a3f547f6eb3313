"""Validation helpers every service uses, so a rule is written once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.errors import ValidationFailed, validation_details

# Clocks drift: a time up to this far ahead of ours is still "now", not the future.
FUTURE_TOLERANCE = dt.timedelta(hours=1)


def full_clean(instance, exclude: Iterable[str] = (), **options) -> None:
    """Model.full_clean, raising ValidationFailed with {field: [messages]}."""
    try:
        instance.full_clean(exclude=list(exclude), **options)
    except ValidationError as exc:
        raise ValidationFailed(details=validation_details(exc)) from exc


def check_not_future(errors: dict, name: str, value: dt.datetime | None) -> None:
    """Add an error under `name` when a time is naive or lies in the future."""
    if value is None:
        return
    if timezone.is_naive(value):
        errors.setdefault(name, []).append(_("The time must include a time zone."))
    elif value > timezone.now() + FUTURE_TOLERANCE:
        errors.setdefault(name, []).append(_("The time cannot be in the future."))
