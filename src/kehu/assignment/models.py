"""Assignment rules, the decisions they make, and book transfers (docs/assignment.md)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

ROUND_ROBIN, LEAST_LOADED, FIXED = "round_robin", "least_loaded", "fixed"
METHODS = [(ROUND_ROBIN, _("Round robin")), (LEAST_LOADED, _("Least open items")),
           (FIXED, _("Fixed user"))]

ASSIGNED = "assigned"
NO_RULE_MATCHED = "no_rule_matched"
NO_MEMBERS = "no_members"
NO_ELIGIBLE = "no_eligible_member"
FIXED_UNAVAILABLE = "fixed_user_unavailable"
REASONS = [(ASSIGNED, _("Assigned")), (NO_RULE_MATCHED, _("No rule matched")),
           (NO_MEMBERS, _("The team has no active member")),
           (NO_ELIGIBLE, _("Every member is on leave or at capacity")),
           (FIXED_UNAVAILABLE, _("The fixed user is inactive, on leave or at capacity"))]


class AssignmentRule(models.Model):
    """Customers matching `condition` (a segment definition) go to a member of `team` chosen
    by `method`. `last_user` is the durable round-robin pointer."""

    name = models.CharField(_("name"), max_length=80)
    description = models.CharField(_("description"), max_length=200, blank=True)
    condition = models.JSONField(_("condition"), default=dict, blank=True)
    team = models.ForeignKey("accounts.Team", verbose_name=_("team"), null=True, blank=True,
                             on_delete=models.PROTECT, related_name="assignment_rules")
    method = models.CharField(_("method"), max_length=20, choices=METHODS, default=ROUND_ROBIN)
    fixed_user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("fixed user"),
                                   null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    capacity = models.PositiveIntegerField(_("capacity (open items)"), null=True, blank=True)
    priority = models.PositiveIntegerField(_("priority"), default=100)
    is_active = models.BooleanField(_("active"), default=True)
    last_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["priority", "id"]
        verbose_name = _("assignment rule")
        verbose_name_plural = _("assignment rules")

    def __str__(self) -> str:
        return self.name


class Assignment(models.Model):
    """One decision of a rule about one customer, with its explanation (shown on the card)."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE,
                                 related_name="assignments")
    rule = models.ForeignKey(AssignmentRule, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="decisions")
    rule_name = models.CharField(max_length=80)
    team = models.ForeignKey("accounts.Team", null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="+")
    user_name = models.CharField(max_length=150, blank=True)
    method = models.CharField(max_length=20, choices=METHODS)
    reason = models.CharField(max_length=30, choices=REASONS)
    open_items = models.IntegerField(null=True, blank=True)
    explanation = models.CharField(max_length=300)
    actor_label = models.CharField(max_length=200, blank=True)
    decided_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-decided_at", "-id"]
        indexes = [models.Index(fields=["customer", "-id"], name="assignment_customer")]
        verbose_name = _("assignment decision")
        verbose_name_plural = _("assignment decisions")

    def __str__(self) -> str:
        return self.explanation


class BookTransfer(models.Model):
    """Every customer of `from_user` (matching `filters`, a customers-list query string) and
    their open tasks handed to `to_user`."""

    QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
    STATUSES = [(QUEUED, _("Queued")), (RUNNING, _("Running")), (DONE, _("Done")),
                (FAILED, _("Failed"))]

    from_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                  related_name="+")
    to_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                related_name="+")
    filters = models.CharField(max_length=2000, blank=True)
    status = models.CharField(max_length=10, choices=STATUSES, default=QUEUED)
    customers_moved = models.IntegerField(default=0)
    tasks_moved = models.IntegerField(default=0)
    expected = models.IntegerField(default=0)
    job = models.ForeignKey("core.Job", null=True, blank=True, on_delete=models.SET_NULL,
                            related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("book transfer")
        verbose_name_plural = _("book transfers")

    def __str__(self) -> str:
        return f"{self.from_user} → {self.to_user}"
