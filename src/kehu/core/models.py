"""The tamper-evident audit log: an append-only hash chain of every change."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditEntry(models.Model):
    """One recorded action, chained to the previous entry by a SHA-256 hash.

    Rows are never updated or deleted by kehu; editing one in the database
    breaks the chain and `kehu audit verify` names it.
    """

    seq = models.PositiveBigIntegerField(_("sequence"), unique=True)
    at = models.DateTimeField(_("time"), db_index=True)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
    )
    actor_label = models.CharField(_("actor"), max_length=200)
    api_key_prefix = models.CharField(_("API key"), max_length=20, blank=True)
    via = models.CharField(_("channel"), max_length=10, default="web")
    action = models.CharField(_("action"), max_length=60, db_index=True)
    object_type = models.CharField(_("object type"), max_length=60, blank=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    object_repr = models.CharField(_("object"), max_length=200, blank=True)
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=400, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["-seq"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        indexes = [
            models.Index(fields=["object_type", "object_id", "-seq"]),
            models.Index(fields=["actor_user", "-seq"]),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.object_type}:{self.object_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise RuntimeError("Audit entries are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("Audit entries are append-only.")


class AuditChainHead(models.Model):
    """The single row that serialises appends: locked while an entry is added.

    It also remembers the last sequence and hash, so deleting the newest
    entries is detected as surely as editing an old one.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_seq = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="0" * 64)

    class Meta:
        verbose_name = _("audit chain head")

    def __str__(self) -> str:
        return f"audit head #{self.last_seq}"


class FieldRule(models.Model):
    """A validation rule for one field of a record (customers today): required, a format
    (regular expression), a range (numbers or dates) or a list of allowed values.

    Rules are data that a data steward edits; `kehu.core.field_rules` is the one place that
    applies them, and every service that writes the field calls it.
    """

    REQUIRED, FORMAT, RANGE, ALLOWED = "required", "format", "range", "allowed"
    CHECKS = [(REQUIRED, _("Required")), (FORMAT, _("Format")), (RANGE, _("Range")),
              (ALLOWED, _("Allowed values"))]
    APPLIES = [("both", _("Both")), ("person", _("Persons")),
               ("organisation", _("Organisations"))]

    field = models.CharField(_("field"), max_length=80, db_index=True)
    rule = models.CharField(_("rule"), max_length=10, choices=CHECKS)
    applies_to = models.CharField(_("applies to"), max_length=12, choices=APPLIES,
                                  default="both")
    pattern = models.CharField(_("pattern"), max_length=300, blank=True)
    min_value = models.CharField(_("minimum"), max_length=40, blank=True)
    max_value = models.CharField(_("maximum"), max_length=40, blank=True)
    allowed_values = models.JSONField(_("allowed values"), default=list, blank=True)
    message = models.CharField(_("error message"), max_length=200, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["field", "id"]
        verbose_name = _("field rule")
        verbose_name_plural = _("field rules")

    def __str__(self) -> str:
        return f"{self.field}:{self.rule}"


class Job(models.Model):
    """One long job of any kind (import, duplicate scan, scoring run …): its progress, rate,
    time left, outcome and the process running it, read alike by the jobs page, the API and
    `kehu jobs`. A kind's own row (ImportJob, DedupScan, ScoringRun) holds what is particular
    to it and points here; kehu.core.jobs is the one writer of these fields."""

    QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
    STATUSES = [(QUEUED, _("Queued")), (RUNNING, _("Running")), (DONE, _("Done")),
                (FAILED, _("Failed")), (CANCELLED, _("Cancelled"))]
    FINISHED = (DONE, FAILED, CANCELLED)

    kind = models.CharField(_("kind"), max_length=40, db_index=True)
    label = models.CharField(_("job"), max_length=200)
    status = models.CharField(_("status"), max_length=10, choices=STATUSES, default=QUEUED)
    done = models.PositiveBigIntegerField(_("done"), default=0)
    total = models.PositiveBigIntegerField(_("total"), default=0)
    rate = models.FloatField(_("per second"), default=0.0)
    error = models.TextField(_("error"), blank=True)
    result = models.JSONField(_("result"), default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    # host:pid of the process running it (/worker for a background worker), and when it last
    # reported: a running job whose process is gone is handed back to its kind.
    runner = models.CharField(max_length=120, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("job")
        verbose_name_plural = _("jobs")
        indexes = [models.Index(fields=["status", "kind"])]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.status})"

    @property
    def percent(self) -> int | None:
        if not self.total:
            return 100 if self.status == self.DONE else None
        return min(100, int(self.done * 100 / self.total))

    @property
    def seconds_left(self) -> float | None:
        if self.status != self.RUNNING or not self.rate or not self.total or self.done >= self.total:
            return None
        return (self.total - self.done) / self.rate
