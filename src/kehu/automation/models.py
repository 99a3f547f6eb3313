"""Rules: trigger + conditions (the segment language) + actions, their saved versions, the
per-customer entry state of time rules, and the run log (one row per rule, customer and
qualifying change: its unique key is what makes a rule act exactly once)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

DRAFT, ACTIVE, PAUSED = "draft", "active", "paused"


class Rule(models.Model):
    """An automation rule. `trigger` and `actions` are JSON in the shapes of
    `kehu.automation.triggers` and `kehu.automation.actions`; `conditions` is a segment
    definition. Status moves draft → active ⇄ paused; `paused_reason` says why ("limit" when
    the per-hour rate limit stopped it)."""

    STATUSES = [(DRAFT, _("Draft")), (ACTIVE, pgettext_lazy("rule status", "Active")),
                (PAUSED, _("Paused"))]
    PAUSED_BY_USER, PAUSED_BY_LIMIT = "user", "limit"

    name = models.CharField(_("name"), max_length=80)
    description = models.TextField(_("description"), blank=True)
    trigger = models.JSONField(_("trigger"))
    conditions = models.JSONField(_("conditions"))
    actions = models.JSONField(_("actions"))
    status = models.CharField(_("status"), max_length=8, choices=STATUSES, default=DRAFT)
    paused_reason = models.CharField(max_length=8, blank=True)
    version = models.PositiveIntegerField(_("version"), default=1)
    max_runs_per_hour = models.PositiveIntegerField(_("runs per hour at most"), default=1000)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("owner"), null=True,
                              on_delete=models.SET_NULL, related_name="rules")
    template = models.CharField(max_length=40, blank=True)
    activated_at = models.DateTimeField(_("activated"), null=True, blank=True)
    # Schedule rules: the last occurrence handled (so a tick fires each occurrence once).
    last_occurrence = models.DateTimeField(null=True, blank=True)
    # Why the last evaluation of a time rule failed (shown on its pages), empty when it worked.
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("rule")
        verbose_name_plural = _("rules")
        indexes = [models.Index(fields=["status"], name="rule_status")]

    def __str__(self) -> str:
        return self.name


class RuleVersion(models.Model):
    """A saved state of a rule (every save makes one); runs name the version they ran."""

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    snapshot = models.JSONField()
    saved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+")
    saved_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["rule", "-version"]
        constraints = [models.UniqueConstraint(fields=["rule", "version"],
                                               name="rule_version_unique")]

    def __str__(self) -> str:
        return f"{self.rule_id} v{self.version}"


class RuleEntry(models.Model):
    """Whether a customer is inside a time rule's qualifying set, and how many times they
    entered it: each entry qualifies once (the run key is the entry number)."""

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="entries")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE,
                                 related_name="+")
    inside = models.BooleanField(default=True)
    entries = models.PositiveIntegerField(default=1)
    changed_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["rule", "customer"],
                                               name="rule_entry_unique")]
        indexes = [models.Index(fields=["rule", "inside", "customer"], name="rule_entry_inside")]

    def __str__(self) -> str:
        return f"{self.rule_id}:{self.customer_id} {'in' if self.inside else 'out'}"


class RuleRun(models.Model):
    """One firing of a rule for one customer and one qualifying change (`key`: the event,
    the entry number, the schedule occurrence or the backfill). Unique, so a retried or
    replayed trigger never acts twice; `outcome` records each action's result so a retry
    runs only the actions that have not succeeded."""

    PENDING, DONE, RETRY, FAILED, SKIPPED = "pending", "done", "retry", "failed", "skipped"
    STATUSES = [(PENDING, _("Pending")), (DONE, _("Done")), (RETRY, _("Retrying")),
                (FAILED, _("Failed")), (SKIPPED, _("Skipped"))]

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="runs")
    rule_version = models.PositiveIntegerField(default=1)
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE,
                                 related_name="+")
    key = models.CharField(max_length=80)
    trigger = models.CharField(_("trigger"), max_length=200, blank=True)
    event_id = models.BigIntegerField(null=True, blank=True)
    depth = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(_("status"), max_length=8, choices=STATUSES, default=PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    outcome = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(_("time"), auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["rule", "customer", "key"],
                                               name="rule_run_once")]
        indexes = [models.Index(fields=["rule", "-id"], name="rule_run_rule"),
                   models.Index(fields=["status", "next_attempt_at"], name="rule_run_due"),
                   models.Index(fields=["rule", "created_at"], name="rule_run_time")]

    def __str__(self) -> str:
        return f"{self.rule_id}:{self.customer_id}:{self.key}"
