"""Every read of the prediction layer, scoped by the caller: a customer's predictions with
their explanation (record scope: NotFound outside it), the fits and their validation."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from kehu.customers.models import Customer
from kehu.customers.selectors import customer_check_visible, rows_of_visible_customers
from kehu.prediction.models import CustomerPrediction, ModelFit
from kehu.prediction.services import HORIZON_DAYS, p_alive_band, thresholds


def band_label(band: str) -> str:
    return {"high": _("Likely still buying"), "medium": _("Uncertain"),
            "low": _("Likely lapsed")}.get(band, "")


def _day(value: date | None) -> str:
    if value is None:
        return ""
    today = timezone.localdate()
    return value.strftime("%m-%d") if value.year == today.year else value.isoformat()


def explain(row: CustomerPrediction) -> str:
    """One sentence a sales rep can read: the history the score rests on and what it says."""
    fit = row.fit
    peers = fit.customers if fit is not None else 0
    parts = [ngettext("%(n)d purchase, on %(last)s", "%(n)d purchases, the last on %(last)s",
                      row.purchases) % {"n": row.purchases, "last": _day(row.last_purchase_on)}]
    if row.purchases > 1 and row.first_purchase_on:
        parts.append(_("first on %(first)s") % {"first": _day(row.first_purchase_on)})
    head = _("; ").join(parts)
    tail = _("estimated from %(peers)d customers with similar histories: %(pct)d%% likely "
             "still buying, %(exp).1f purchases expected in the next %(days)d days") % {
        "peers": peers, "pct": round(100 * row.p_alive), "exp": row.expected_purchases_90d,
        "days": HORIZON_DAYS}
    if row.clv_12m is not None:
        tail += _(", worth about ¥%(clv)s over 12 months") % {"clv": f"{row.clv_12m:,.0f}"}
    return f"{head}{_('; ')}{tail}."


def prediction_present(row: CustomerPrediction | None) -> dict[str, Any] | None:
    """A prediction row as plain data for the card, the list and the API."""
    if row is None:
        return None
    band = p_alive_band(row.p_alive)
    return {
        "p_alive": row.p_alive, "p_alive_pct": round(100 * row.p_alive),
        "band": band, "band_label": band_label(band),
        "expected_purchases_90d": row.expected_purchases_90d,
        "expected_avg_value": row.expected_avg_value, "clv_12m": row.clv_12m,
        "purchases": row.purchases, "first_purchase_on": row.first_purchase_on,
        "last_purchase_on": row.last_purchase_on,
        "model": row.fit.model if row.fit_id and row.fit else "",
        "fit_id": row.fit_id, "scored_at": row.scored_at, "explanation": explain(row),
    }


def card_prediction(*, user, customer: Customer) -> dict[str, Any] | None:
    """The card's prediction (customer already scoped by the card's own selector); None
    without scoring.view or before the customer is scored."""
    if not user.access.can("scoring.view"):
        return None
    if Customer.prediction.is_cached(customer):  # customers.customer_get joined it
        try:
            row = customer.prediction
        except ObjectDoesNotExist:
            row = None
    else:
        row = (CustomerPrediction.objects.select_related("fit")
               .filter(customer_id=customer.pk).first())
    return prediction_present(row)


def customer_prediction_get(*, user, customer: Customer) -> dict[str, Any] | None:
    """A customer's prediction; scoring.view and record scope required (NotFound outside)."""
    user.access.require("scoring.view")
    customer_check_visible(user=user, customer=customer)
    try:
        row = CustomerPrediction.objects.select_related("fit").get(customer_id=customer.pk)
    except ObjectDoesNotExist:
        return None
    return prediction_present(row)


def predictions_visible(*, user):
    """Prediction rows of the customers the user may see."""
    user.access.require("scoring.view")
    return rows_of_visible_customers(user=user, queryset=CustomerPrediction.objects.all())


def fit_list(*, user, limit: int = 20) -> list[ModelFit]:
    user.access.require("scoring.view")
    return list(ModelFit.objects.all()[:max(1, min(int(limit), 100))])


def fit_present(fit: ModelFit) -> dict[str, Any]:
    v = fit.validation or {}
    return {
        "id": fit.pk, "model": fit.model, "model_label": str(fit.get_model_display()),
        "status": fit.status, "status_label": str(fit.get_status_display()),
        "message": fit.message, "as_of": fit.as_of, "created_at": fit.created_at,
        "params": fit.params, "log_likelihood": fit.log_likelihood,
        "gamma_gamma": {k: fit.gamma_gamma[k] for k in ("p", "q", "v")
                        if k in fit.gamma_gamma} or None,
        "customers": fit.customers, "repeat_customers": fit.repeat_customers,
        "transactions": fit.transactions, "scored": fit.scored, "changed": fit.changed,
        "refitted": fit.refitted, "monthly_discount": fit.monthly_discount,
        "duration_ms": fit.duration_ms, "triggered_by": fit.triggered_by,
        "holdout": {k: v.get(k) for k in (
            "calibration_end", "holdout_end", "holdout_weeks", "correlation",
            "predicted_total", "actual_total", "aggregate_error", "mean_absolute_error")
        } if "correlation" in v else None,
        "validation_message": v.get("message", ""),
        "job_id": fit.job_id,
    }


def validation_page(*, user) -> dict[str, Any]:
    """The validation page: the last fits, the newest usable one with its charts, the
    population of scores the user may see, the thresholds."""
    fits = fit_list(user=user, limit=10)
    latest = fits[0] if fits else None
    usable = next((f for f in fits if f.status == ModelFit.FITTED), None)
    visible = predictions_visible(user=user)
    bands = {"high": visible.filter(p_alive__gte=0.7).count(),
             "medium": visible.filter(p_alive__gte=0.3, p_alive__lt=0.7).count(),
             "low": visible.filter(p_alive__lt=0.3).count()}
    return {"fits": [fit_present(f) for f in fits], "latest": fit_present(latest)
            if latest else None, "usable": fit_present(usable) if usable else None,
            "validation": (usable.validation or {}) if usable else {},
            "bands": [{"band": k, "label": band_label(k), "count": n} for k, n in bands.items()],
            "thresholds": thresholds()}


def clv_total(*, user) -> Decimal:
    from django.db.models import Sum

    return predictions_visible(user=user).aggregate(s=Sum("clv_12m"))["s"] or Decimal("0")


__all__ = ["card_prediction", "clv_total", "customer_prediction_get", "explain",
           "fit_list", "fit_present", "predictions_visible", "prediction_present",
           "validation_page"]
