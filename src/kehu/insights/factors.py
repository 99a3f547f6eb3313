"""The factors behind a churn risk: structured as `{"code": …, "value": …, "weight": …}`
(stored on CustomerChurn, returned by the API) and rendered here in the active language
("30 天内 2 次投诉", "访问频次下降 60%")."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

# factor code -> short name (for the model page's coefficient table)
FACTOR_NAMES = {
    "recency": gettext_lazy("Days since last purchase"),
    "low_frequency": gettext_lazy("Purchases in the last year"),
    "low_spend": gettext_lazy("Spend in the last year"),
    "short_tenure": gettext_lazy("Customer for (days)"),
    "few_contacts": gettext_lazy("Contacts in 90 days"),
    "no_contact": gettext_lazy("Days since last contact"),
    "complaints": gettext_lazy("Complaints in 30 days"),
    "tickets": gettext_lazy("Tickets in 90 days"),
    "low_visits": gettext_lazy("Visits in 30 days"),
    "visit_drop": gettext_lazy("Change in visits"),
    "after_sales_views": gettext_lazy("After-sales terms views in 30 days"),
    "pricing_views": gettext_lazy("Pricing page views in 30 days"),
    "p_alive": gettext_lazy("P(alive)"),
}


def _int(value: Any) -> int:
    try:
        return int(round(float(value)))
    except (TypeError, ValueError):
        return 0


def factor_text(factor: dict[str, Any]) -> str:
    """One factor as a sentence in the active language."""
    code, value = factor.get("code"), factor.get("value")
    n = _int(value)
    if code == "recency":
        return ngettext("No purchase for %(n)d day", "No purchase for %(n)d days", n) % {"n": n}
    if code == "low_frequency":
        return ngettext("Only %(n)d purchase in the last year",
                        "Only %(n)d purchases in the last year", n) % {"n": n}
    if code == "low_spend":
        return _("Spent ¥%(n)s in the last year") % {"n": f"{n:,}"}
    if code == "short_tenure":
        return ngettext("Customer for only %(n)d day", "Customer for only %(n)d days",
                        n) % {"n": n}
    if code == "few_contacts":
        return ngettext("%(n)d contact in 90 days", "%(n)d contacts in 90 days", n) % {"n": n}
    if code == "no_contact":
        if value is None:
            return _("Never contacted")
        return ngettext("No contact for %(n)d day", "No contact for %(n)d days", n) % {"n": n}
    if code == "complaints":
        return ngettext("%(n)d complaint in 30 days", "%(n)d complaints in 30 days",
                        n) % {"n": n}
    if code == "tickets":
        return ngettext("%(n)d ticket in 90 days", "%(n)d tickets in 90 days", n) % {"n": n}
    if code == "low_visits":
        return ngettext("%(n)d visit in 30 days", "%(n)d visits in 30 days", n) % {"n": n}
    if code == "visit_drop":
        pct = _int(abs(float(value or 0)) * 100)
        if float(value or 0) >= 0:
            return _("Visits up %(pct)d%%") % {"pct": pct}
        return _("Visits down %(pct)d%%") % {"pct": pct}
    if code == "after_sales_views":
        return ngettext("Viewed the after-sales terms %(n)d time in 30 days",
                        "Viewed the after-sales terms %(n)d times in 30 days", n) % {"n": n}
    if code == "pricing_views":
        return ngettext("Viewed the pricing page %(n)d time in 30 days",
                        "Viewed the pricing page %(n)d times in 30 days", n) % {"n": n}
    if code == "p_alive":
        return _("Still-active probability %(pct)d%%") % {"pct": _int(float(value or 0) * 100)}
    return str(code)


def factors_present(factors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stored factors with their text, for the card, the list and the API."""
    return [{"code": f.get("code", ""), "value": f.get("value"),
             "weight": round(float(f.get("weight") or 0), 4), "text": factor_text(f)}
            for f in factors or []]
