"""Seams the pipeline offers to the apps above it.

The pipeline sits beside transactions and interactions in the layers, so it may not call
them. Creating the order of a won deal and the follow-up task of a renewal reminder are
therefore done by functions an app above all three registers (kehu.cards does, in its
ready()). Each is called inside the pipeline service's transaction, so the order or the task
and the deal's link to it commit together.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils.translation import gettext_lazy as _

from kehu.core.errors import DomainError

# (actor, deal) -> the order (an object with pk and number)
_ORDER_MAKER: list[Callable[..., Any]] = []
# (actor, contract, title, due_date, assignee) -> the follow-up task
_REMINDER_MAKER: list[Callable[..., Any]] = []


class NotConnected(DomainError):
    code = "not_connected"
    status = 503
    default_message = _("This installation cannot create that record: the app that does is "
                        "not installed.")


def register_order_maker(maker: Callable[..., Any]) -> None:
    """Register the function that turns a won deal into an order."""
    _ORDER_MAKER[:] = [maker]


def register_reminder_maker(maker: Callable[..., Any]) -> None:
    """Register the function that creates a follow-up task for a contract's renewal."""
    _REMINDER_MAKER[:] = [maker]


def make_order(**kwargs: Any) -> Any:
    if not _ORDER_MAKER:
        raise NotConnected()
    return _ORDER_MAKER[0](**kwargs)


def make_reminder(**kwargs: Any) -> Any:
    if not _REMINDER_MAKER:
        raise NotConnected()
    return _REMINDER_MAKER[0](**kwargs)
