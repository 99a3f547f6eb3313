"""Purchase signals: a registry of signal kinds, each a detector over recent behaviour
configured by its SignalRule row (on/off, at least N times within D days).

kehu.insights registers the behavioural kinds below; another app adds its own in its
AppConfig.ready() without insights importing it — e.g. the pipeline app's "contract expires
within 30 days":

    register_signal_kind(SignalKind(key="contract_expiring", label=_("Contract expiring"),
                                    detect=detect_contracts, default_days=30))

A detector gets the as-of moment, the rule and the loaded `Book` (it may ignore it and query
its own tables) and returns {customer id: details}, details a small JSON dict ("count",
"days", …) that `signal_text` renders.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from kehu.insights.behaviour import Book


@dataclass(frozen=True)
class RuleConfig:
    min_count: int
    days: int


@dataclass(frozen=True)
class SignalKind:
    key: str
    label: Any
    detect: Callable[..., dict[int, dict[str, Any]]]
    default_min_count: int = 1
    default_days: int = 7
    uses_count: bool = True
    # details -> sentence; default: "<label> (N times in D days)"
    text: Callable[[dict[str, Any]], str] | None = None


_KINDS: dict[str, SignalKind] = {}


def register_signal_kind(kind: SignalKind) -> SignalKind:
    _KINDS[kind.key] = kind
    return kind


def signal_kinds() -> list[SignalKind]:
    return list(_KINDS.values())


def signal_kind(key: str) -> SignalKind | None:
    return _KINDS.get(key)


def signal_choices() -> list[tuple[str, str]]:
    return [(k.key, str(k.label)) for k in _KINDS.values()]


def signal_text(key: str, details: dict[str, Any]) -> str:
    kind = _KINDS.get(key)
    if kind is None:
        return key
    if kind.text is not None:
        return kind.text(details)
    n, days = int(details.get("count", 0) or 0), int(details.get("days", 0) or 0)
    if not n:
        return str(kind.label)
    return ngettext("%(label)s: %(n)d time in %(days)d days",
                    "%(label)s: %(n)d times in %(days)d days", n) % {
        "label": kind.label, "n": n, "days": days}


def _event_counts(book: Book, as_of: dt.datetime, rule: RuleConfig,
                  klass: str) -> dict[int, dict[str, Any]]:
    since = as_of - dt.timedelta(days=rule.days)
    out = {}
    for pk, events in book.events.items():
        n = sum(1 for at, k in events if k == klass and since < at <= as_of)
        if n >= rule.min_count:
            out[pk] = {"count": n, "days": rule.days}
    return out


def detect_pricing(*, as_of: dt.datetime, rule: RuleConfig, book: Book):
    return _event_counts(book, as_of, rule, "pricing")


def detect_after_sales(*, as_of: dt.datetime, rule: RuleConfig, book: Book):
    return _event_counts(book, as_of, rule, "after_sales")


def detect_cart_abandoned(*, as_of: dt.datetime, rule: RuleConfig, book: Book):
    """Added to cart within the window and no purchase on or after that day."""
    since = as_of - dt.timedelta(days=rule.days)
    out = {}
    for pk, events in book.events.items():
        carts = [at for at, k in events if k == "cart" and since < at <= as_of]
        if len(carts) < rule.min_count:
            continue
        first_day = carts[0].date()
        if not any(d >= first_day for d, _m in book.purchases.get(pk, ())):
            out[pk] = {"count": len(carts), "days": rule.days}
    return out


def _pricing_text(d: dict[str, Any]) -> str:
    n, days = int(d.get("count", 0)), int(d.get("days", 0))
    if days == 7:
        return ngettext("Viewed the pricing page %(n)d time this week",
                        "Viewed the pricing page %(n)d times this week", n) % {"n": n}
    return ngettext("Viewed the pricing page %(n)d time in %(days)d days",
                    "Viewed the pricing page %(n)d times in %(days)d days", n) % {
        "n": n, "days": days}


def _after_sales_text(d: dict[str, Any]) -> str:
    n = int(d.get("count", 0))
    return ngettext("Viewed the after-sales terms %(n)d time",
                    "Viewed the after-sales terms %(n)d times", n) % {"n": n}


def _cart_text(d: dict[str, Any]) -> str:
    return _("Added to cart without ordering")


register_signal_kind(SignalKind(
    key="pricing_views", label=gettext_lazy("Viewing the pricing page"), detect=detect_pricing,
    default_min_count=3, default_days=7, text=_pricing_text))
register_signal_kind(SignalKind(
    key="after_sales_views", label=gettext_lazy("Viewing the after-sales terms"),
    detect=detect_after_sales, default_min_count=1, default_days=14, text=_after_sales_text))
register_signal_kind(SignalKind(
    key="cart_abandoned", label=gettext_lazy("Cart without an order"),
    detect=detect_cart_abandoned, default_min_count=1, default_days=7, text=_cart_text))


# Contracts (kehu.pipeline, a lower app reached by lookup, never imported) ----------------

CONTRACT_LIVE = ("signed", "executing")


def detect_contracts(*, as_of: dt.datetime, rule: RuleConfig, book: Book):
    """A live contract (signed or in progress) ending within the rule's days; the soonest
    per customer."""
    from django.apps import apps
    from django.utils import timezone

    contract = apps.get_model("pipeline", "Contract")
    today = timezone.localtime(as_of).date()
    rows = (contract.objects.filter(status__in=CONTRACT_LIVE, end_date__gte=today,
                                    end_date__lte=today + dt.timedelta(days=rule.days))
            .order_by("customer_id", "end_date")
            .values_list("customer_id", "number", "end_date"))
    out: dict[int, dict[str, Any]] = {}
    for pk, number, end in rows:
        if pk not in out:
            out[pk] = {"days": rule.days, "number": number, "end_date": end.isoformat(),
                       "days_left": (end - today).days}
    return out


def _contract_text(d: dict[str, Any]) -> str:
    n = int(d.get("days_left", 0) or 0)
    return ngettext("Contract %(number)s ends in %(n)d day",
                    "Contract %(number)s ends in %(n)d days", n) % {
        "number": d.get("number", ""), "n": n}


def register_contract_signal() -> bool:
    """"合同 30 天内到期", when the pipeline app keeps contracts (called from ready())."""
    from django.apps import apps

    try:
        apps.get_model("pipeline", "Contract")
    except LookupError:
        return False
    register_signal_kind(SignalKind(
        key="contract_expiring", label=gettext_lazy("Contract expiring"),
        detect=detect_contracts, default_min_count=1, default_days=30, uses_count=False,
        text=_contract_text))
    return True
