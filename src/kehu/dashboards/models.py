"""Daily summary tables the boards read instead of scanning millions of rows.

Each row counts the live (active) customers' records of one day under one combination of
keys; `owner_id` and `team_id` are the customer's owner and team (0 for none), so a board
restricts a summary exactly as the customers list is restricted (AccessPolicy.restrict with
owner_field="owner", team_field="team"). Rows never hold zero: a count that drops to nothing
is deleted, so the incremental tables and a full rebuild are comparable row for row.

`SummaryLedger` remembers, per customer, what that customer currently contributes; the
domain-event subscriber (dashboards/summaries.py) recomputes a changed customer's
contribution, applies the difference to the tables and stores the new one.
"""

from __future__ import annotations

from django.db import models


class DailyCustomerSummary(models.Model):
    """New customers per created day × source × owner × team × lifecycle stage × has ordered."""

    day = models.DateField()
    owner_id = models.IntegerField(default=0)
    team_id = models.IntegerField(default=0)
    source = models.CharField(max_length=60, blank=True)
    lifecycle_stage = models.CharField(max_length=12, blank=True)
    ordered = models.BooleanField(default=False)  # has at least one purchase order
    customers = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["day", "owner_id", "team_id", "source", "lifecycle_stage", "ordered"],
            name="dash_cust_sum_key")]
        indexes = [models.Index(fields=["owner_id", "day"], name="dash_cust_sum_owner"),
                   models.Index(fields=["team_id", "day"], name="dash_cust_sum_team")]

    def __str__(self) -> str:
        return f"{self.day} {self.owner_id} {self.source}: {self.customers}"



class DailyOrderSummary(models.Model):
    """Purchase orders (Order.PURCHASE_STATUSES) per order day × owner × team × sales channel ×
    the customer's source: how many and their amount."""

    day = models.DateField()
    owner_id = models.IntegerField(default=0)
    team_id = models.IntegerField(default=0)
    sales_channel = models.CharField(max_length=16, blank=True)
    source = models.CharField(max_length=60, blank=True)
    orders = models.IntegerField(default=0)
    amount = models.DecimalField(max_digits=18, decimal_places=2, default=0)

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["day", "owner_id", "team_id", "sales_channel", "source"],
            name="dash_order_sum_key")]
        indexes = [models.Index(fields=["owner_id", "day"], name="dash_order_sum_owner"),
                   models.Index(fields=["team_id", "day"], name="dash_order_sum_team")]

    def __str__(self) -> str:
        return f"{self.day} {self.owner_id} {self.sales_channel}: {self.orders} / {self.amount}"



class DailyInteractionSummary(models.Model):
    """Interactions logged per day × the user who logged them × the customer's owner and team."""

    day = models.DateField()
    actor_id = models.IntegerField(default=0)
    owner_id = models.IntegerField(default=0)
    team_id = models.IntegerField(default=0)
    interactions = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["day", "actor_id", "owner_id", "team_id"], name="dash_inter_sum_key")]
        indexes = [models.Index(fields=["owner_id", "day"], name="dash_inter_sum_owner"),
                   models.Index(fields=["team_id", "day"], name="dash_inter_sum_team")]

    def __str__(self) -> str:
        return f"{self.day} {self.actor_id}: {self.interactions}"



class ProfileSummary(models.Model):
    """Live customers per owner × team × value tier × portrait feature × value: each customer
    counts once under "customers" (no value) and once per feature it has a value for (industry,
    province, company size, source, gender, age band today, first-purchase channel) and once
    per distinct product it bought (dashboards/summaries.py, PROFILE_COLUMNS). Not by day: a
    snapshot of today, as the portrait board shows it."""

    owner_id = models.IntegerField(default=0)
    team_id = models.IntegerField(default=0)
    value_tier = models.CharField(max_length=12, blank=True)
    feature = models.CharField(max_length=16)
    value = models.CharField(max_length=100, blank=True)
    customers = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["owner_id", "team_id", "value_tier", "feature", "value"],
            name="dash_profile_sum_key")]
        indexes = [models.Index(fields=["feature", "value_tier"], name="dash_profile_sum_feat"),
                   models.Index(fields=["owner_id", "feature"], name="dash_profile_sum_owner"),
                   models.Index(fields=["team_id", "feature"], name="dash_profile_sum_team")]

    def __str__(self) -> str:
        return f"{self.owner_id} {self.value_tier} {self.feature}={self.value}: {self.customers}"


class SummaryLedger(models.Model):
    """What one customer contributes to the summaries now (keys and amounts as JSON)."""

    customer_id = models.BigIntegerField(primary_key=True)
    contribution = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"customer {self.customer_id}"
