"""Next best action: one to three suggestions for a customer, each with its reason, from the
churn risk, the value layer, open complaints, purchase signals and recommendations. Each is
one click from a follow-up task (services.next_action_task_create).

The rules, in priority order:
1. call about the open complaint (an open complaint ticket);
2. renew the contract (a `contract_expiring` signal);
3. win back a customer at risk who is worth it (medium/high churn risk and a high-value,
   champion/loyal/can't-lose/at-risk customer, M score 4+ or spend in the RFM window above
   the high-value threshold; or high risk with a positive 12-month CLV);
4. follow up buying interest (pricing-page views, cart without an order, after-sales terms);
5. cross-sell the product most bought with what they own.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.utils.translation import gettext as _

from kehu.customers.models import Customer
from kehu.insights.models import CustomerChurn, CustomerSignals
from kehu.insights.prediction import predictions_of
from kehu.transactions.models import Ticket

WORTH_KEEPING_TIERS = ("high_value",)
WORTH_KEEPING_SEGMENTS = ("champions", "loyal", "cant_lose", "at_risk")
INTEREST_SIGNALS = ("pricing_views", "cart_abandoned", "after_sales_views")
MAX_ACTIONS = 3


def _value(customer: Customer):
    try:
        return customer.value
    except ObjectDoesNotExist:
        return None


def next_actions(*, user, customer: Customer) -> list[dict[str, Any]]:
    """Up to three actions: {"code", "title", "reason", "due_in_days"} (the caller checked
    the customer is visible)."""
    from kehu.insights.factors import factor_text
    from kehu.insights.selectors import customer_recommendations
    from kehu.insights.signals import signal_text

    actions: list[dict[str, Any]] = []
    name = customer.name
    complaint = (Ticket.objects.filter(customer_id=customer.pk, kind="complaint",
                                       status__in=("open", "in_progress"))
                 .order_by("opened_at").first())
    if complaint is not None:
        actions.append({"code": "complaint", "title": _("Call %(name)s about the open "
                                                        "complaint “%(subject)s”") % {
            "name": name, "subject": complaint.subject},
            "reason": _("Complaint %(number)s is still open.") % {"number": complaint.number},
            "due_in_days": 0})
    signals = CustomerSignals.objects.filter(customer_id=customer.pk).first()
    details = signals.details if signals else {}
    if "contract_expiring" in details:
        actions.append({"code": "renew", "title": _("Renew %(name)s's contract") % {
            "name": name}, "reason": signal_text("contract_expiring",
                                                 details["contract_expiring"]),
            "due_in_days": 3})
    churn = CustomerChurn.objects.filter(customer_id=customer.pk).first()
    if churn is not None and churn.level in ("medium", "high"):
        value = _value(customer)
        clv = (predictions_of([customer.pk]).get(customer.pk) or {}).get("clv_12m")
        from kehu.scoring.services import scoring_settings_get

        threshold = scoring_settings_get().high_spend_threshold
        worth = value is not None and (value.value_tier in WORTH_KEEPING_TIERS
                                       or value.rfm_segment in WORTH_KEEPING_SEGMENTS
                                       or (value.m_score or 0) >= 4
                                       or (threshold is not None
                                           and value.monetary >= threshold))
        if worth or (clv is not None and clv > 0 and churn.level == "high"):
            reasons = [factor_text(f) for f in churn.factors[:2]]
            actions.append({"code": "win_back", "title": _(
                "Win back %(name)s: a valuable customer at %(pct)d%% churn risk") % {
                "name": name, "pct": round(churn.churn_risk * 100)},
                "reason": "; ".join(reasons) or _("High churn risk."),
                "due_in_days": 1 if churn.level == "high" else 3})
    interest = [k for k in INTEREST_SIGNALS if k in details]
    if interest:
        key = interest[0]
        actions.append({"code": "follow_interest", "title": _(
            "Follow up %(name)s's buying interest") % {"name": name},
            "reason": signal_text(key, details[key]), "due_in_days": 1})
    if len(actions) < MAX_ACTIONS:
        picks = [p for p in customer_recommendations(user=user, customer=customer, k=1)
                 if p["because_of"]]
        if picks:
            pick = picks[0]
            actions.append({"code": "cross_sell", "title": _(
                "Offer %(product)s to %(name)s") % {"product": pick["name"], "name": name},
                "reason": _("Customers who bought %(owned)s also bought %(product)s.") % {
                    "owned": pick["because_of"]["name"], "product": pick["name"]},
                "due_in_days": 7, "product_id": pick["product_id"]})
    return actions[:MAX_ACTIONS]
