"""Saved segments, their materialised membership and its size over time."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Segment(models.Model):
    """A named definition (JSON, see `definition.py`). Dynamic segments are recomputed on a
    schedule and on demand; `tag`, when set, makes it a rule-based tag: the tag is kept on
    exactly the members."""

    name = models.CharField(_("name"), max_length=80)
    description = models.TextField(_("description"), blank=True)
    definition = models.JSONField(_("definition"))
    dynamic = models.BooleanField(_("dynamic"), default=True,
                                  help_text=_("Recomputed on a schedule."))
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("owner"), null=True,
                              on_delete=models.SET_NULL, related_name="segments")
    tag = models.OneToOneField("customers.Tag", verbose_name=_("rule-based tag"), null=True,
                               blank=True, on_delete=models.SET_NULL, related_name="rule")
    size = models.PositiveIntegerField(_("members"), null=True, blank=True)
    computed_at = models.DateTimeField(_("computed"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("segment")
        verbose_name_plural = _("segments")

    def __str__(self) -> str:
        return self.name


class SegmentMembership(models.Model):
    """A customer in a segment as of its last computation."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="memberships")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE,
                                 related_name="segment_memberships")
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["segment", "customer"],
                                               name="segment_member_unique")]
        indexes = [models.Index(fields=["customer"], name="segment_member_customer")]

    def __str__(self) -> str:
        return f"{self.segment_id}:{self.customer_id}"


class SegmentSizeSnapshot(models.Model):
    """One computation of a segment: its size, and who joined and left."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="snapshots")
    at = models.DateTimeField(_("computed"))
    size = models.PositiveIntegerField(_("members"))
    added = models.PositiveIntegerField(_("joined"), default=0)
    removed = models.PositiveIntegerField(_("left"), default=0)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["segment", "at", "id"]
        indexes = [models.Index(fields=["segment", "at"], name="segment_snapshot_time")]

    def __str__(self) -> str:
        return f"{self.segment_id} {self.at:%Y-%m-%d %H:%M} {self.size}"
