"""The value layer of the card: RFM scores, value tiers, their history, lifecycle history
and the scoring settings."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from kehu.scoring.labels import RFM_SEGMENTS, VALUE_TIERS

_SCORE = [MinValueValidator(1), MaxValueValidator(5)]


class CustomerValue(models.Model):
    """A customer's RFM figures, scores, segment and business tier as of the last scoring run.

    One row per customer (the customer is the primary key); filters reach it from customers as
    `value__rfm_segment`, `value__value_tier`, `value__r_score` …
    """

    customer = models.OneToOneField("customers.Customer", primary_key=True,
                                    on_delete=models.CASCADE, related_name="value")
    last_order_at = models.DateTimeField(_("last purchase"), null=True, blank=True)
    recency_days = models.PositiveIntegerField(_("days since last purchase"), null=True,
                                               blank=True)
    frequency = models.PositiveIntegerField(_("purchases in window"), default=0)
    monetary = models.DecimalField(_("spend in window (CNY)"), max_digits=16, decimal_places=2,
                                   default=Decimal("0"))
    r_score = models.PositiveSmallIntegerField(_("R score"), null=True, blank=True,
                                               validators=_SCORE)
    f_score = models.PositiveSmallIntegerField(_("F score"), null=True, blank=True,
                                               validators=_SCORE)
    m_score = models.PositiveSmallIntegerField(_("M score"), null=True, blank=True,
                                               validators=_SCORE)
    rfm_segment = models.CharField(_("RFM segment"), max_length=20, choices=RFM_SEGMENTS,
                                   blank=True)
    value_tier = models.CharField(_("value tier"), max_length=12, choices=VALUE_TIERS,
                                  blank=True)
    last_activity_at = models.DateTimeField(_("last purchase or interaction"), null=True,
                                            blank=True)
    window_days = models.PositiveIntegerField(_("window (days)"), default=365)
    scored_at = models.DateTimeField(_("scored"))

    class Meta:
        verbose_name = _("customer value")
        verbose_name_plural = _("customer values")
        indexes = [
            models.Index(fields=["rfm_segment"], name="value_segment"),
            models.Index(fields=["value_tier"], name="value_tier"),
            models.Index(fields=["r_score", "f_score"], name="value_rf"),
            models.Index(fields=["m_score"], name="value_m"),
            models.Index(fields=["recency_days"], name="value_recency"),
            models.Index(fields=["monetary"], name="value_monetary"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.r_score}{self.f_score}{self.m_score} {self.value_tier}"

    @property
    def rfm_code(self) -> str:
        """"543" style code, or "" when unscored."""
        if self.r_score is None:
            return ""
        return f"{self.r_score}{self.f_score}{self.m_score}"


class CustomerValueChange(models.Model):
    """A change of RFM segment or value tier, kept so "moved from 高价值 to 沉睡" can drive rules."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE,
                                 related_name="value_changes")
    changed_at = models.DateTimeField(_("changed"), db_index=True)
    old_segment = models.CharField(_("previous segment"), max_length=20, choices=RFM_SEGMENTS,
                                   blank=True)
    new_segment = models.CharField(_("segment"), max_length=20, choices=RFM_SEGMENTS,
                                   blank=True)
    old_tier = models.CharField(_("previous tier"), max_length=12, choices=VALUE_TIERS,
                                blank=True)
    new_tier = models.CharField(_("tier"), max_length=12, choices=VALUE_TIERS, blank=True)

    class Meta:
        ordering = ["-changed_at", "-id"]
        verbose_name = _("value change")
        verbose_name_plural = _("value changes")
        indexes = [models.Index(fields=["customer", "-changed_at"], name="valuechg_cust"),
                   models.Index(fields=["new_tier", "-changed_at"], name="valuechg_tier")]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.old_tier}->{self.new_tier}"


class LifecycleStageChange(models.Model):
    """One change of a customer's lifecycle stage, by a person or by a named transition rule."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE,
                                 related_name="lifecycle_changes")
    changed_at = models.DateTimeField(_("changed"), db_index=True)
    from_stage = models.CharField(_("from"), max_length=12, blank=True)
    to_stage = models.CharField(_("to"), max_length=12)
    by_user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("by"), null=True,
                                blank=True, on_delete=models.SET_NULL, related_name="+")
    rule = models.CharField(_("rule"), max_length=40, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        ordering = ["-changed_at", "-id"]
        verbose_name = _("lifecycle change")
        verbose_name_plural = _("lifecycle changes")
        indexes = [models.Index(fields=["customer", "-changed_at"], name="lifechg_cust")]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.from_stage}->{self.to_stage}"


class ScoringSettings(models.Model):
    """The one row of scoring settings an administrator edits: window, tier thresholds and
    lifecycle transition rules."""

    window_days = models.PositiveIntegerField(
        _("scoring window (days)"), default=365,
        validators=[MinValueValidator(1), MaxValueValidator(3650)])
    high_min_score = models.PositiveSmallIntegerField(
        _("high-value: minimum R, F and M score"), default=4, validators=_SCORE)
    high_spend_threshold = models.DecimalField(
        _("high-value: spend in window at least (CNY)"), max_digits=16, decimal_places=2,
        null=True, blank=True, default=Decimal("50000"))
    potential_min_r = models.PositiveSmallIntegerField(
        _("potential: minimum R score"), default=4, validators=_SCORE)
    potential_max_fm = models.PositiveSmallIntegerField(
        _("potential: maximum F and M score"), default=2, validators=_SCORE)
    dormant_days = models.PositiveIntegerField(
        _("dormant: no purchase or interaction for (days)"), default=180,
        validators=[MinValueValidator(1)])
    lifecycle_rules_enabled = models.BooleanField(_("apply lifecycle rules"), default=True)
    loyal_min_orders = models.PositiveIntegerField(
        _("loyal: at least this many orders in 12 months"), default=3,
        validators=[MinValueValidator(1)])
    churn_days = models.PositiveIntegerField(
        _("churned: no order for (days)"), default=365, validators=[MinValueValidator(1)])
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("scoring settings")
        verbose_name_plural = _("scoring settings")

    def __str__(self) -> str:
        return "scoring settings"


class ScoringRun(models.Model):
    """One scoring run: what it covered, when, how long, and the quintile boundaries it used."""

    MODES = [("full", _("Full")), ("incremental", _("Incremental"))]

    mode = models.CharField(_("mode"), max_length=12, choices=MODES)
    as_of = models.DateField(_("as of"))
    started_at = models.DateTimeField(_("started"), db_index=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    window_days = models.PositiveIntegerField(_("window (days)"))
    scored = models.PositiveIntegerField(_("customers scored"), default=0)
    recomputed = models.PositiveIntegerField(_("customers recomputed"), default=0)
    changed = models.PositiveIntegerField(_("rows changed"), default=0)
    segment_changes = models.PositiveIntegerField(_("segment or tier changes"), default=0)
    lifecycle_changes = models.PositiveIntegerField(_("lifecycle changes"), default=0)
    boundaries = models.JSONField(_("quintile boundaries"), default=dict, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    triggered_by = models.CharField(_("triggered by"), max_length=200, blank=True)
    # Its entry in the one job system (progress, rate, process, outcome for every page).
    job = models.OneToOneField("core.Job", null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="scoring_run")

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("scoring run")
        verbose_name_plural = _("scoring runs")

    def __str__(self) -> str:
        return f"{self.mode} {self.started_at:%Y-%m-%d %H:%M}"
