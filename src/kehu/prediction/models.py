"""Stored predictions: one row per model fit (parameters, validation, data sufficiency) and
one row per customer (P(alive), expected purchases, expected order value, CLV).

The storage contract other apps read (kehu.insights): `CustomerPrediction` with `customer`
(one-to-one, related name "prediction"), `p_alive`, `expected_purchases_90d`,
`expected_avg_value`, `clv_12m`, `fit` (the ModelFit it came from) and `scored_at`.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class ModelFit(models.Model):
    """One fit of a customer-base model on the company's orders: its parameters and
    log-likelihood, the Gamma-Gamma value model, the calibration/holdout validation, and how
    many customers it scored. A fit refused for too little data keeps the reason."""

    MODELS = [("bgnbd", _("BG/NBD")), ("pareto", _("Pareto/NBD"))]
    FITTED, INSUFFICIENT, FAILED = "fitted", "insufficient", "failed"
    STATUSES = [(FITTED, _("Fitted")), (INSUFFICIENT, _("Too little data")),
                (FAILED, _("Failed"))]

    model = models.CharField(_("model"), max_length=10, choices=MODELS, default="bgnbd")
    status = models.CharField(_("status"), max_length=12, choices=STATUSES, default=FITTED)
    message = models.TextField(_("message"), blank=True)
    as_of = models.DateField(_("as of"))  # the calibration end of the scoring fit
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    log_likelihood = models.FloatField(_("log-likelihood"), null=True, blank=True)
    gamma_gamma = models.JSONField(_("value model"), default=dict, blank=True)
    customers = models.PositiveIntegerField(_("customers"), default=0)
    repeat_customers = models.PositiveIntegerField(_("repeat customers"), default=0)
    transactions = models.PositiveIntegerField(_("transactions"), default=0)
    # The validation fit: calibration_end, holdout_end, params, correlation, totals, buckets,
    # tracking curve (empty when the history is too short to hold some out).
    validation = models.JSONField(_("validation"), default=dict, blank=True)
    holdout_correlation = models.FloatField(_("holdout correlation"), null=True, blank=True)
    unit_days = models.FloatField(_("time unit (days)"), default=7.0)
    monthly_discount = models.FloatField(_("monthly discount rate"), default=0.01)
    scored = models.PositiveIntegerField(_("customers scored"), default=0)
    changed = models.PositiveIntegerField(_("rows changed"), default=0)
    refitted = models.BooleanField(_("refitted"), default=True)
    duration_ms = models.PositiveIntegerField(default=0)
    triggered_by = models.CharField(_("triggered by"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created"), db_index=True)
    job = models.OneToOneField("core.Job", null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="model_fit")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("model fit")
        verbose_name_plural = _("model fits")

    def __str__(self) -> str:
        return f"{self.model} {self.as_of} ({self.status})"


class CustomerPrediction(models.Model):
    """A customer's predictions from the last scoring run (customer is the primary key);
    filters reach it from customers as `prediction__p_alive`, `prediction__clv_12m` …"""

    customer = models.OneToOneField("customers.Customer", primary_key=True,
                                    on_delete=models.CASCADE, related_name="prediction")
    p_alive = models.FloatField(_("probability still a customer"))
    expected_purchases_90d = models.FloatField(_("expected purchases in 90 days"))
    expected_avg_value = models.DecimalField(_("expected order value (CNY)"), max_digits=16,
                                             decimal_places=2, null=True, blank=True)
    clv_12m = models.DecimalField(_("12-month value (CNY)"), max_digits=16, decimal_places=2,
                                  null=True, blank=True)
    purchases = models.PositiveIntegerField(_("purchases"), default=0)  # days with a purchase
    first_purchase_on = models.DateField(_("first purchase"), null=True, blank=True)
    last_purchase_on = models.DateField(_("last purchase"), null=True, blank=True)
    # No index of its own: nothing looks rows up by fit, and each index slows the nightly
    # rewrite of every row.
    fit = models.ForeignKey(ModelFit, null=True, blank=True, on_delete=models.SET_NULL,
                            related_name="predictions", db_index=False)
    scored_at = models.DateTimeField(_("scored"))

    class Meta:
        verbose_name = _("customer prediction")
        verbose_name_plural = _("customer predictions")
        indexes = [models.Index(fields=["p_alive"], name="pred_p_alive"),
                   models.Index(fields=["clv_12m"], name="pred_clv")]

    def __str__(self) -> str:
        return f"{self.customer_id}: p_alive={self.p_alive:.2f}"
