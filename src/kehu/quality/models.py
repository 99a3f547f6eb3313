"""Data quality: each customer's stored quality score, daily trend snapshots and the
steward's settings (completeness weights, component weights, staleness).

The validation rules themselves are kehu.core.FieldRule, enforced by the customer services.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class QualitySettings(models.Model):
    """The one settings row (id 1). Empty JSON means the defaults in kehu.quality.scoring."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    # {"person": {"mobile": 3, …}, "organisation": {"uscc": 3, …}}
    completeness_weights = models.JSONField(_("completeness weights"), default=dict, blank=True)
    # {"completeness": 40, "validity": 30, "freshness": 20, "duplicates": 10}
    component_weights = models.JSONField(_("component weights"), default=dict, blank=True)
    fresh_days = models.PositiveSmallIntegerField(_("fresh for (days)"), default=30)
    expired_days = models.PositiveSmallIntegerField(_("stale after (days)"), default=365)
    stale_days = models.PositiveSmallIntegerField(_("remind after (days) without contact"),
                                                  default=180)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("data quality settings")

    def __str__(self) -> str:
        return "quality settings"


class CustomerQuality(models.Model):
    """A customer's quality score (0–100) and how it was reached.

    `components` holds the four component scores and the evidence ("missing", "invalid",
    "age_days", "pending_duplicates"); `missing` and `invalid` repeat the field keys as
    ",a,b," so the list can filter on them portably (`quality__invalid__contains=",email,"`).
    """

    customer = models.OneToOneField("customers.Customer", on_delete=models.CASCADE,
                                    primary_key=True, related_name="quality")
    score = models.PositiveSmallIntegerField(_("data quality"), db_index=True)
    components = models.JSONField(_("components"), default=dict)
    missing = models.CharField(max_length=1000, blank=True)
    invalid = models.CharField(max_length=1000, blank=True)
    computed_at = models.DateTimeField(_("computed"), db_index=True)

    class Meta:
        verbose_name = _("customer quality")
        verbose_name_plural = _("customer quality")

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.score}"


class QualitySnapshot(models.Model):
    """The day's quality figures over all live customers, for the trend chart."""

    day = models.DateField(_("day"), unique=True)
    customers = models.PositiveIntegerField(_("customers"))
    average_score = models.FloatField(_("average score"), null=True)
    completeness = models.FloatField(_("completeness"), null=True)
    validity = models.FloatField(_("validity"), null=True)
    freshness = models.FloatField(_("freshness"), null=True)
    invalid_customers = models.PositiveIntegerField(_("customers with invalid values"))
    stale_customers = models.PositiveIntegerField(_("customers without contact"))
    pending_duplicates = models.PositiveIntegerField(_("pending duplicates"))
    taken_at = models.DateTimeField(_("taken"))

    class Meta:
        ordering = ["day"]
        verbose_name = _("quality snapshot")
        verbose_name_plural = _("quality snapshots")

    def __str__(self) -> str:
        return f"{self.day}: {self.average_score}"
