"""Import jobs, the errors they found, and saved header mappings.

An ImportJob is resumable: its counters, `next_row` and the errors of each chunk are
committed in the same transaction as the chunk's customers, so a process killed at any
moment resumes exactly where the last committed chunk ended.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ImportJob(models.Model):
    QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
    STATUSES = [(QUEUED, _("Queued")), (RUNNING, _("Running")), (DONE, _("Done")),
                (FAILED, _("Failed")), (CANCELLED, _("Cancelled"))]
    KINDS = [("customers", _("Customers")), ("orders", _("Orders")),
             ("interactions", _("Interactions")), ("events", _("Events")),
             ("deals", _("Deals")), ("payments", _("Payments received"))]

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    # Relative to MEDIA_ROOT (imports/<name>).
    file = models.CharField(_("file"), max_length=300)
    original_filename = models.CharField(_("file name"), max_length=255)
    sheet = models.CharField(_("sheet"), max_length=100, blank=True)
    kind = models.CharField(_("kind"), max_length=16, choices=KINDS, default="customers")
    # {"<column index>": field key or null}
    mapping = models.JSONField(_("mapping"), default=dict)
    # {"skip_invalid_fields": bool, "dry_run": bool, "precedence": [...]}
    options = models.JSONField(_("options"), default=dict)
    status = models.CharField(_("status"), max_length=10, choices=STATUSES, default=QUEUED)
    total_rows = models.PositiveIntegerField(_("rows"), default=0)
    rows_done = models.PositiveIntegerField(_("rows done"), default=0)
    created = models.PositiveIntegerField(_("created"), default=0)
    updated = models.PositiveIntegerField(_("updated"), default=0)
    unchanged = models.PositiveIntegerField(_("unchanged"), default=0)
    rejected = models.PositiveIntegerField(_("rejected"), default=0)
    # The Excel row number to resume from (0: from the first data row).
    next_row = models.PositiveIntegerField(default=0)
    report_path = models.CharField(_("report"), max_length=500, blank=True)
    error_message = models.TextField(_("error"), blank=True)
    language = models.CharField(max_length=12, blank=True)
    # Its entry in the one job system (progress, rate, process, outcome for every page).
    job = models.OneToOneField("core.Job", null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="import_job")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("import job")
        verbose_name_plural = _("import jobs")

    def __str__(self) -> str:
        return f"import #{self.pk} {self.original_filename} ({self.status})"


class ImportRowError(models.Model):
    """One line of a job's report, committed with the chunk that found it."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="errors")
    row = models.PositiveIntegerField()
    column = models.CharField(max_length=255, blank=True)
    value = models.TextField(blank=True)
    reason = models.TextField()

    class Meta:
        ordering = ["row", "id"]
        indexes = [models.Index(fields=["job", "row"], name="import_error_job_row")]

    def __str__(self) -> str:
        return f"row {self.row} {self.column}: {self.reason}"


class ImportMapTemplate(models.Model):
    """A saved header mapping (mapping.mapping_to_json's text, as JSON)."""

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=16, choices=ImportJob.KINDS, default="customers")
    mapping = models.JSONField(_("mapping"), default=dict)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("import mapping template")
        verbose_name_plural = _("import mapping templates")

    def __str__(self) -> str:
        return self.name
