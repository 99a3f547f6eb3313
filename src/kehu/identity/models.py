"""Identity resolution: duplicate candidates, "not the same" marks, merges and scan jobs.

A merge keeps a full snapshot of what it changed so `customer_unmerge` can restore every
original customer exactly; nothing about a merged customer is ever deleted.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class DuplicateCandidate(models.Model):
    """Two or more customers that probably are one, waiting for a person's decision.

    `key` is the sorted member ids ("3-17-42"), so the same group is proposed once.
    `explanation` lists, per field, how the records compared and how much it weighed:
    [{"field", "label", "weight", "left_id", "right_id"}, …] for each linked pair.
    """

    PENDING, MERGED, DISMISSED = "pending", "merged", "dismissed"
    STATUSES = [(PENDING, pgettext_lazy("duplicate status", "Pending")),
                (MERGED, pgettext_lazy("duplicate status", "Merged")),
                (DISMISSED, _("Not the same"))]
    SCAN, ENTRY, IMPORT = "scan", "entry", "import"
    SOURCES = [(SCAN, _("Batch scan")), (ENTRY, _("At entry")), (IMPORT, _("Import"))]

    key = models.CharField(max_length=400)
    probability = models.FloatField(_("match probability"))
    explanation = models.JSONField(_("explanation"), default=list, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=STATUSES, default=PENDING)
    found_by = models.CharField(_("found by"), max_length=8, choices=SOURCES, default=SCAN)
    found_at = models.DateTimeField(_("found"), auto_now_add=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    merge = models.ForeignKey("identity.Merge", null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="candidates")

    class Meta:
        ordering = ["-probability", "id"]
        verbose_name = _("duplicate candidate")
        verbose_name_plural = _("duplicate candidates")
        constraints = [models.UniqueConstraint(fields=["key"], name="dupcand_key_unique")]
        indexes = [models.Index(fields=["status", "-probability"], name="dupcand_status_prob")]

    def __str__(self) -> str:
        return f"{self.key} ({self.probability:.3f})"

    @property
    def member_ids(self) -> list[int]:
        return [int(part) for part in self.key.split("-") if part]


class CandidateMember(models.Model):
    """One customer of a candidate group (indexed, so a card can find its candidates)."""

    candidate = models.ForeignKey(DuplicateCandidate, on_delete=models.CASCADE,
                                  related_name="members")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE,
                                 related_name="duplicate_memberships")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["candidate", "customer"],
                                               name="dupmember_unique")]

    def __str__(self) -> str:
        return f"{self.candidate_id}:{self.customer_id}"


class NotSameMark(models.Model):
    """A reviewer decided these two customers are different people: never propose them again."""

    low = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    high = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    marked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="+")
    marked_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("not-the-same mark")
        verbose_name_plural = _("not-the-same marks")
        constraints = [models.UniqueConstraint(fields=["low", "high"], name="notsame_unique")]

    def __str__(self) -> str:
        return f"{self.low_id}≠{self.high_id}"


class Merge(models.Model):
    """One merge of customers into a survivor, with everything needed to undo it exactly.

    `snapshot` holds every involved customer's columns before the merge, the survivor's
    columns right after it (to tell later edits apart), the ids of every row moved per
    relation and original primary flags. `field_choices` maps a field to the customer id
    whose value the survivor kept.
    """

    survivor = models.ForeignKey("customers.Customer", on_delete=models.PROTECT,
                                 related_name="merges_survived")
    field_choices = models.JSONField(_("chosen values"), default=dict, blank=True)
    snapshot = models.JSONField(default=dict)
    probability = models.FloatField(_("match probability"), null=True, blank=True)
    automatic = models.BooleanField(_("automatic"), default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("merged at"), auto_now_add=True, db_index=True)
    undone_at = models.DateTimeField(_("undone at"), null=True, blank=True)
    undone_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("merge")
        verbose_name_plural = _("merges")

    def __str__(self) -> str:
        return f"merge #{self.pk} into {self.survivor_id}"


class MergeSource(models.Model):
    """A customer merged away by a merge (status merged, merged_into the survivor)."""

    merge = models.ForeignKey(Merge, on_delete=models.CASCADE, related_name="sources")
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT,
                                 related_name="merges_absorbed")
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["merge", "customer"],
                                               name="mergesource_unique")]

    def __str__(self) -> str:
        return f"{self.customer_id} -> merge {self.merge_id}"


class DedupScan(models.Model):
    """A batch duplicate scan: its settings and progress, read by the page and the CLI."""

    QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
    STATUSES = [(QUEUED, _("Queued")), (RUNNING, _("Running")), (DONE, _("Done")),
                (FAILED, _("Failed"))]

    status = models.CharField(_("status"), max_length=8, choices=STATUSES, default=QUEUED)
    threshold = models.FloatField(_("threshold"))
    filters = models.JSONField(default=dict, blank=True)
    stage = models.CharField(max_length=20, blank=True)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    pairs = models.PositiveIntegerField(default=0)
    candidates_new = models.PositiveIntegerField(default=0)
    auto_merged = models.PositiveIntegerField(default=0)
    error_message = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    # Its entry in the one job system (progress, rate, process, outcome for every page).
    job = models.OneToOneField("core.Job", null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="dedup_scan")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("duplicate scan")
        verbose_name_plural = _("duplicate scans")

    def __str__(self) -> str:
        return f"scan #{self.pk} ({self.status})"
