"""Insights: churn risk per customer with its factors, the churn model's fits and their
backtests, purchase signals, product associations for recommendations, and their settings."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

CHURN_LEVELS = [("low", _("Low risk")), ("medium", _("Medium risk")), ("high", _("High risk"))]
CHURN_MODELS = [
    ("logistic", _("Logistic regression on this company's history")),
    ("gbm", _("Gradient boosting on this company's history")),
    ("p_alive", _("1 − P(alive) from the BG/NBD model")),
    ("recency", _("Recency against the churn window (too little data for a model)")),
]
MODEL_KINDS = [("logistic", _("Logistic regression")), ("gbm", _("Gradient boosting"))]


class CustomerChurn(models.Model):
    """A customer's churn risk (0–1), its level, the top three factors behind it (structured:
    `[{"code": …, "value": …, "weight": …}]`, rendered by kehu.insights.factors) and the model
    that scored it. One row per purchasing customer; filters reach it as `churn__…`."""

    customer = models.OneToOneField("customers.Customer", primary_key=True,
                                    on_delete=models.CASCADE, related_name="churn")
    churn_risk = models.FloatField(_("churn risk"), validators=[MinValueValidator(0.0),
                                                                 MaxValueValidator(1.0)])
    level = models.CharField(_("churn risk level"), max_length=8, choices=CHURN_LEVELS)
    factors = models.JSONField(_("factors"), default=list, blank=True)
    model = models.CharField(_("model"), max_length=10, choices=CHURN_MODELS)
    scored_at = models.DateTimeField(_("scored"))

    class Meta:
        verbose_name = _("churn risk")
        verbose_name_plural = _("churn risks")
        indexes = [models.Index(fields=["level", "-churn_risk"], name="churn_level_risk"),
                   models.Index(fields=["-churn_risk"], name="churn_risk")]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.churn_risk:.2f} {self.level}"


class ChurnSettings(models.Model):
    """The one row of churn settings: what counts as churn (no purchase for `window_days`
    after a cut-off), which supervised model, how much history it needs, the level cut-offs."""

    window_days = models.PositiveIntegerField(
        _("churn window (days without a purchase)"), default=180,
        validators=[MinValueValidator(14), MaxValueValidator(1095)])
    model_kind = models.CharField(_("supervised model"), max_length=10, choices=MODEL_KINDS,
                                  default="logistic")
    min_labelled = models.PositiveIntegerField(
        _("minimum labelled customers to train"), default=200,
        validators=[MinValueValidator(20)])
    min_each_class = models.PositiveIntegerField(
        _("minimum churned and retained customers each"), default=20,
        validators=[MinValueValidator(5)])
    medium_threshold = models.FloatField(_("medium risk from"), default=0.4,
                                         validators=[MinValueValidator(0.01),
                                                     MaxValueValidator(0.99)])
    high_threshold = models.FloatField(_("high risk from"), default=0.7,
                                       validators=[MinValueValidator(0.01),
                                                   MaxValueValidator(0.99)])
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("churn settings")
        verbose_name_plural = _("churn settings")

    def __str__(self) -> str:
        return f"churn settings ({self.window_days} days, {self.model_kind})"

    def level_of(self, risk: float) -> str:
        if risk >= self.high_threshold:
            return "high"
        if risk >= self.medium_threshold:
            return "medium"
        return "low"


class ChurnModelFit(models.Model):
    """One fit of the supervised churn model: the cut-off, how many customers it learnt from,
    the backtest on a held-out part (AUC, precision in the top decile, against the RFM
    baseline), the parameters (logistic: coefficients on standardised features) or why it
    could not fit (too little data)."""

    fitted_at = models.DateTimeField(_("fitted"), db_index=True)
    model_kind = models.CharField(_("model"), max_length=10, choices=MODEL_KINDS)
    window_days = models.PositiveIntegerField(_("churn window (days)"))
    cutoff = models.DateField(_("cut-off"))
    labelled = models.PositiveIntegerField(_("labelled customers"), default=0)
    churned = models.PositiveIntegerField(_("churned"), default=0)
    enough_data = models.BooleanField(_("enough data"), default=False)
    message = models.CharField(_("message"), max_length=300, blank=True)
    metrics = models.JSONField(_("backtest"), default=dict, blank=True)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    job = models.ForeignKey("core.Job", null=True, blank=True, on_delete=models.SET_NULL,
                            related_name="+")
    triggered_by = models.CharField(_("by"), max_length=200, blank=True)

    class Meta:
        ordering = ["-fitted_at", "-id"]
        verbose_name = _("churn model fit")
        verbose_name_plural = _("churn model fits")

    def __str__(self) -> str:
        return f"{self.model_kind} {self.cutoff} ({self.labelled})"

    def explanation(self) -> str:
        """Why there was too little data, in the reader's language ("" for a good fit)."""
        if self.enough_data:
            return ""
        from django.utils.translation import gettext

        need = self.params.get("requirements") or {}
        if not need:
            return self.message
        return gettext("Too little history to train: %(n)d customers had bought before the "
                       "cut-off and %(c)d of them churned; the model needs %(min)d, with at "
                       "least %(each)d churned and %(each)d retained.") % {
            "n": self.labelled, "c": self.churned, "min": need.get("min_labelled", 0),
            "each": need.get("min_each_class", 0)}


class CustomerSignals(models.Model):
    """A customer's active purchase signals: `kinds` (a JSON list of signal kind codes, what
    segments filter on) and `details` ({kind: {"count": …, "days": …, …}}) as of the last
    detection run."""

    customer = models.OneToOneField("customers.Customer", primary_key=True,
                                    on_delete=models.CASCADE, related_name="signal_set")
    kinds = models.JSONField(_("signals"), default=list, blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True)
    detected_at = models.DateTimeField(_("detected"))

    class Meta:
        verbose_name = _("purchase signals")
        verbose_name_plural = _("purchase signals")

    def __str__(self) -> str:
        return f"{self.customer_id}: {','.join(self.kinds)}"


class SignalRule(models.Model):
    """The configuration of one signal kind: on or off, how many occurrences within how many
    days make the signal (a kind that needs no count ignores `min_count`)."""

    kind = models.CharField(_("signal"), max_length=40, unique=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    min_count = models.PositiveIntegerField(_("at least (times)"), default=1,
                                            validators=[MinValueValidator(1)])
    days = models.PositiveIntegerField(_("within (days)"), default=7,
                                       validators=[MinValueValidator(1),
                                                   MaxValueValidator(365)])
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind"]
        verbose_name = _("signal rule")
        verbose_name_plural = _("signal rules")

    def __str__(self) -> str:
        return f"{self.kind}: {self.min_count} in {self.days}d"


class ProductAssociation(models.Model):
    """"Customers who bought X also bought Y": co-purchase counts between two products with
    lift and cosine, rebuilt by the recommendations job."""

    product = models.ForeignKey("transactions.Product", on_delete=models.CASCADE,
                                related_name="+")
    related = models.ForeignKey("transactions.Product", on_delete=models.CASCADE,
                                related_name="+")
    together = models.PositiveIntegerField(_("bought by both"))
    lift = models.FloatField(_("lift"))
    cosine = models.FloatField(_("cosine"))
    built_at = models.DateTimeField(_("built"))

    class Meta:
        verbose_name = _("product association")
        verbose_name_plural = _("product associations")
        constraints = [models.UniqueConstraint(fields=["product", "related"],
                                               name="assoc_pair")]
        indexes = [models.Index(fields=["product", "-cosine"], name="assoc_product")]

    def __str__(self) -> str:
        return f"{self.product_id}->{self.related_id} {self.cosine:.2f}"


class ProductPopularity(models.Model):
    """Distinct buyers of a product in the last year: the fallback when a customer has no
    co-purchase neighbours."""

    product = models.OneToOneField("transactions.Product", primary_key=True,
                                   on_delete=models.CASCADE, related_name="+")
    buyers = models.PositiveIntegerField(_("buyers"))
    built_at = models.DateTimeField(_("built"))

    class Meta:
        verbose_name = _("product popularity")
        verbose_name_plural = _("product popularity")
        indexes = [models.Index(fields=["-buyers"], name="popularity_buyers")]

    def __str__(self) -> str:
        return f"{self.product_id}: {self.buyers}"
