"""Every read of insights, scoped by the caller's record scope: a customer's churn risk,
signals, recommendations and next best actions; the churn-warning list; the churn model's
fits; "customers who bought X also bought Y"."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.core.paginator import Paginator
from django.db.models import Max, OuterRef, Q, Subquery

from kehu.customers.models import Customer
from kehu.customers.selectors import customer_check_visible, rows_of_visible_customers
from kehu.insights.factors import FACTOR_NAMES, factors_present
from kehu.insights.models import (
    CHURN_LEVELS,
    CHURN_MODELS,
    ChurnModelFit,
    CustomerChurn,
    CustomerSignals,
    ProductAssociation,
    ProductPopularity,
)
from kehu.insights.prediction import predictions_of
from kehu.insights.recommend import recommend
from kehu.insights.services import churn_settings_get, signal_rules_ensure
from kehu.insights.signals import signal_kind, signal_text
from kehu.interactions.models import Interaction
from kehu.transactions.models import Order, OrderLine, Product

LEVEL_LABELS = dict(CHURN_LEVELS)
MODEL_LABELS = dict(CHURN_MODELS)


def churn_present(row: CustomerChurn | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"churn_risk": row.churn_risk, "level": row.level,
            "level_label": str(LEVEL_LABELS.get(row.level, row.level)),
            "factors": factors_present(row.factors), "model": row.model,
            "model_label": str(MODEL_LABELS.get(row.model, row.model)),
            "scored_at": row.scored_at}


def signals_present(row: CustomerSignals | None) -> list[dict[str, Any]]:
    if row is None:
        return []
    out = []
    for key in row.kinds:
        kind = signal_kind(key)
        details = (row.details or {}).get(key, {})
        out.append({"kind": key, "label": str(kind.label) if kind else key,
                    "text": signal_text(key, details), "details": details,
                    "detected_at": row.detected_at})
    return out


def _require(user) -> None:
    user.access.require("scoring.view")


def customer_churn(*, user, customer: Customer) -> dict[str, Any] | None:
    _require(user)
    customer_check_visible(user=user, customer=customer)
    return churn_present(CustomerChurn.objects.filter(customer_id=customer.pk).first())


def owned_products(customer_id: int) -> set[int]:
    return set(OrderLine.objects.filter(order__customer_id=customer_id,
                                        order__status__in=Order.PURCHASE_STATUSES)
               .values_list("product_id", flat=True))


def customer_recommendations(*, user, customer: Customer, k: int = 5) -> list[dict[str, Any]]:
    """Up to k products to offer: co-purchase neighbours of what they own, then the most
    bought; never what they own, never an inactive product."""
    _require(user)
    customer_check_visible(user=user, customer=customer)
    owned = owned_products(customer.pk)
    neighbours: dict[int, list[tuple[int, float]]] = {}
    for a, b, cosine in (ProductAssociation.objects.filter(product_id__in=owned)
                         .values_list("product_id", "related_id", "cosine")):
        neighbours.setdefault(a, []).append((b, cosine))
    popular = list(ProductPopularity.objects.order_by("-buyers", "product_id")
                   .values_list("product_id", flat=True)[:k + len(owned) + 20])
    inactive = set(Product.objects.filter(is_active=False).values_list("pk", flat=True))
    picks = recommend(owned, neighbours, popular, k=k, excluded=inactive)
    products = Product.objects.in_bulk({p for p, _s, _w in picks} | {w for _p, _s, w in picks
                                                                      if w})
    return [{"product_id": p, "sku": products[p].sku, "name": products[p].name,
             "score": score, "because_of": ({"product_id": w, "name": products[w].name}
                                            if w else None),
             "source": "co_purchase" if w else "popular"}
            for p, score, w in picks if p in products]


def customer_insights(*, user, customer: Customer) -> dict[str, Any]:
    """Churn risk with its factors, purchase signals, recommendations, next best actions
    and (when kehu.prediction has scored the customer) P(alive) and CLV."""
    from kehu.insights.nba import next_actions

    _require(user)
    customer_check_visible(user=user, customer=customer)
    signals = CustomerSignals.objects.filter(customer_id=customer.pk).first()
    return {
        "customer_id": customer.pk,
        "churn": churn_present(CustomerChurn.objects.filter(customer_id=customer.pk).first()),
        "signals": signals_present(signals),
        "recommendations": customer_recommendations(user=user, customer=customer),
        "next_actions": next_actions(user=user, customer=customer),
        "prediction": predictions_of([customer.pk]).get(customer.pk),
    }


def churn_list(*, user, level: str = "", owner: int | str | None = None,
               min_risk: float | None = None, page: int = 1,
               per_page: int = 50) -> dict[str, Any]:
    """The churn-warning list: customers in scope at medium or high risk (or one level),
    riskiest first, with their owner, value at stake (CLV, else spend in the RFM window)
    and last contact."""
    _require(user)
    rows = rows_of_visible_customers(user=user, queryset=CustomerChurn.objects.all())
    rows = rows.filter(level=level) if level in LEVEL_LABELS else rows.filter(
        level__in=("medium", "high"))
    if owner == "me":
        rows = rows.filter(customer__owner_id=user.pk)
    elif isinstance(owner, int):
        rows = rows.filter(customer__owner_id=owner)
    if min_risk is not None:
        rows = rows.filter(churn_risk__gte=min_risk)
    last_contact = (Interaction.objects.filter(customer_id=OuterRef("customer_id"))
                    .order_by().values("customer_id").annotate(at=Max("occurred_at"))
                    .values("at"))
    rows = (rows.select_related("customer", "customer__owner", "customer__value")
            .annotate(last_contact=Subquery(last_contact))
            .order_by("-churn_risk", "customer_id"))
    pages = Paginator(rows, per_page)
    current = pages.get_page(page)
    items = list(current.object_list)
    predictions = predictions_of([r.customer_id for r in items])
    out = []
    for row in items:
        c = row.customer
        try:
            spend = c.value.monetary
        except ObjectDoesNotExist:
            spend = None
        clv = (predictions.get(c.pk) or {}).get("clv_12m")
        out.append({
            "customer_id": c.pk, "name": c.name,
            "owner": ({"id": c.owner_id, "name": c.owner.display_name or c.owner.username}
                      if c.owner_id else None),
            **churn_present(row),
            "value_at_stake": Decimal(str(clv)).quantize(Decimal("0.01")) if clv is not None
            else spend,
            "value_source": "clv_12m" if clv is not None else ("spend" if spend is not None
                                                                else ""),
            "last_contact_at": row.last_contact,
        })
    return {"items": out, "count": pages.count, "page": current.number,
            "pages": pages.num_pages}


# RFM segments that mean "slipping away now": 即将沉睡 and 休眠 (asleep), 有流失风险 and 不能失去
# (good customers to win back). With a medium or high churn risk, the churn board's "at risk".
AT_RISK_SEGMENTS = ("about_to_sleep", "hibernating", "at_risk", "cant_lose")
AT_RISK_LEVELS = ("medium", "high")


def at_risk_condition() -> Q:
    """Customers at risk of churning: in an at-risk RFM segment now, or scored at medium or
    high churn risk. The one definition behind the churn board and the list's `at_risk`."""
    return (Q(value__rfm_segment__in=AT_RISK_SEGMENTS)
            | Q(churn__level__in=AT_RISK_LEVELS))


def value_at_stake():
    """A customer's value at stake: the 12-month CLV where kehu.prediction scored them, else
    the spend in the RFM window (as on the churn-warning list)."""
    from django.db.models.functions import Coalesce

    return Coalesce("prediction__clv_12m", "value__monetary")


def last_contact():
    """The customer's latest interaction, as a subquery on Customer rows."""
    return Subquery(Interaction.objects.filter(customer_id=OuterRef("pk")).order_by()
                    .values("customer_id").annotate(at=Max("occurred_at")).values("at"))


def churn_overview(*, user) -> dict[str, Any]:
    """Counts by level in the caller's scope, the latest fits and the settings."""
    _require(user)
    rows = rows_of_visible_customers(user=user, queryset=CustomerChurn.objects.all())
    counts = {code: 0 for code, _l in CHURN_LEVELS}
    at_stake: dict[str, Decimal | None] = {code: None for code, _l in CHURN_LEVELS}
    for level, n, stake in _level_counts(rows):
        counts[level] = n
        at_stake[level] = stake
    fits = list(ChurnModelFit.objects.all()[:5])
    latest = fits[0] if fits else None
    coefficients = []
    if latest is not None and latest.enough_data:
        from kehu.insights.churn import FEATURES

        values = latest.params.get("coef") or latest.params.get("importance") or []
        coefficients = sorted(
            ({"code": code, "name": str(FACTOR_NAMES.get(code, code)), "value": round(v, 4)}
             for (_n, code, _l), v in zip(FEATURES, values, strict=False)),
            key=lambda c: -abs(c["value"]))
    return {"levels": [{"level": code, "label": str(label), "count": counts[code],
                        "value_at_stake": at_stake[code]} for code, label in CHURN_LEVELS],
            "latest": latest, "fits": fits, "coefficients": coefficients,
            "settings": churn_settings_get()}


def _level_counts(rows):
    """(level, customers, value at stake): the 12-month CLV where kehu.prediction scored
    the customer, else the spend in the RFM window."""
    from django.apps import apps
    from django.db.models import Count, Sum
    from django.db.models.functions import Coalesce

    try:
        apps.get_model("prediction", "CustomerPrediction")
        stake = Sum(Coalesce("customer__prediction__clv_12m", "customer__value__monetary"))
    except LookupError:
        stake = Sum("customer__value__monetary")
    return (rows.order_by().values("level").annotate(n=Count("pk"), stake=stake)
            .values_list("level", "n", "stake"))


def signal_rules(*, user) -> list[dict[str, Any]]:
    _require(user)
    out = []
    for rule in signal_rules_ensure():
        kind = signal_kind(rule.kind)
        out.append({"kind": rule.kind, "label": str(kind.label) if kind else rule.kind,
                    "enabled": rule.enabled, "min_count": rule.min_count, "days": rule.days,
                    "uses_count": kind.uses_count if kind else True})
    return out


def also_bought(*, user, product: Product, limit: int = 5) -> list[dict[str, Any]]:
    """"Customers who bought X also bought Y": the strongest active associations."""
    user.access.require("customer.view")
    rows = (ProductAssociation.objects.filter(product_id=product.pk, related__is_active=True)
            .select_related("related").order_by("-cosine", "-together")[:limit])
    return [{"product_id": r.related_id, "sku": r.related.sku, "name": r.related.name,
             "together": r.together, "lift": r.lift, "cosine": r.cosine} for r in rows]
