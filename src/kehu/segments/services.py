"""Writes of segments: create, update, delete, and recompute membership (and rule tags).

Membership is computed as the segment's owner sees customers (their record scope); readers
are further limited to their own scope by the selectors. A rule-based tag is global, so only
someone who sees every record may bind one, and its recompute is audited as one entry with
the counts (and the first ids) of customers tagged and untagged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.actor import Actor
from kehu.core.audit import diff
from kehu.core.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from kehu.core.events import Related, record_change
from kehu.core.jobs import job_open, job_report
from kehu.core.models import Job
from kehu.core.permissions import SCOPE_ALL
from kehu.customers.models import CustomerTag, Tag
from kehu.segments.definition import referenced_tags, validate
from kehu.segments.models import Segment, SegmentMembership, SegmentSizeSnapshot
from kehu.segments.selectors import segment_queryset

log = logging.getLogger(__name__)
AUDITED_IDS = 200  # customer ids listed in a rule tag's audit entry (the counts are complete)
_CHUNK = 500


def _clean(actor: Actor, *, name: str, description: str, definition: Any,
           tag_name: str | None, segment: Segment | None) -> tuple[str, dict, Tag | None]:
    details: dict[str, list[str]] = {}
    name = (name or "").strip()
    if not name or len(name) > 80:
        details["name"] = [_("A segment needs a name of 1 to 80 characters.")]
    if len(description or "") > 2000:
        details["description"] = [_("At most 2000 characters.")]
    try:
        tree = validate(definition, access=actor.access)
    except ValidationFailed as exc:
        details.update({f"definition.{k}" if k != "definition" else k: v
                        for k, v in exc.details.items()})
        tree = None
    tag = None
    if tag_name and tag_name.strip():
        if actor.access is not None and actor.access.scope != SCOPE_ALL:
            raise PermissionDenied(_("A rule-based tag applies to every customer; only someone "
                                     "who sees all records may define one."),
                                   details={"tag": [_("Needs the all-records scope.")]})
        clean = tag_name.strip()
        if len(clean) > 60:
            details["tag"] = [_("A tag needs a name of 1 to 60 characters.")]
        else:
            tag = Tag.objects.filter(name__iexact=clean).first() or Tag(name=clean)
            bound = Segment.objects.filter(tag=tag).exclude(
                pk=segment.pk if segment else None).first() if tag.pk else None
            if bound is not None:
                details["tag"] = [_("The tag “%(tag)s” is already kept by the segment "
                                    "“%(segment)s”.") % {"tag": tag.name, "segment": bound.name}]
            if tree is not None and clean.lower() in referenced_tags(tree):
                details["tag"] = [_("A rule-based tag cannot depend on itself.")]
    if details:
        raise ValidationFailed(details=details)
    return name, tree, tag


def _state(segment: Segment) -> dict[str, Any]:
    return {"name": segment.name, "description": segment.description,
            "definition": segment.definition, "dynamic": segment.dynamic,
            "tag": segment.tag.name if segment.tag_id else None}


def segment_create(*, actor: Actor, name: str, definition: Any, description: str = "",
                   dynamic: bool = True, tag_name: str | None = None,
                   compute: bool = True) -> Segment:
    """Save a definition as a segment owned by the actor, then compute its members."""
    actor.require("segment.manage")
    with transaction.atomic():
        name, tree, tag = _clean(actor, name=name, description=description,
                                 definition=definition, tag_name=tag_name, segment=None)
        if tag is not None and tag.pk is None:
            tag.save()
        segment = Segment.objects.create(name=name, description=description or "",
                                         definition=tree, dynamic=dynamic, owner=actor.user,
                                         tag=tag)
        record_change(actor=actor, action="segment.create", event="segment.created",
                      object_type="segment",
                      object_id=segment.pk, object_repr=segment.name,
                      changes=diff({}, _state(segment)))
    if compute:
        segment = segment_refresh(actor=actor, segment=segment)
    return segment


def segment_update(*, actor: Actor, segment: Segment, name: str, definition: Any,
                   description: str = "", dynamic: bool = True, tag_name: str | None = None,
                   compute: bool = True) -> Segment:
    """Change a segment (its owner, or anyone holding segment.manage with all-records scope);
    members are recomputed. Unbinding a tag leaves the tag on whoever has it."""
    actor.require("segment.manage")
    with transaction.atomic():
        segment = _locked(actor, segment)
        before = _state(segment)
        name, tree, tag = _clean(actor, name=name, description=description,
                                 definition=definition, tag_name=tag_name, segment=segment)
        if tag is not None and tag.pk is None:
            tag.save()
        segment.name, segment.description, segment.definition = name, description or "", tree
        segment.dynamic, segment.tag = dynamic, tag
        segment.save(update_fields=["name", "description", "definition", "dynamic", "tag",
                                    "updated_at"])
        record_change(actor=actor, action="segment.update", event="segment.updated",
                      object_type="segment",
                      object_id=segment.pk, object_repr=segment.name,
                      changes=diff(before, _state(segment)))
    if compute:
        segment = segment_refresh(actor=actor, segment=segment)
    return segment


def segment_delete(*, actor: Actor, segment: Segment) -> None:
    """Delete a segment with its membership and history; a bound tag stays on its customers."""
    actor.require("segment.manage")
    with transaction.atomic():
        segment = _locked(actor, segment)
        before = _state(segment)
        record_change(actor=actor, action="segment.delete", event="segment.deleted",
                      object_type="segment",
                      object_id=segment.pk, object_repr=segment.name, changes=diff(before, {}))
        segment.delete()


def _locked(actor: Actor, segment: Segment) -> Segment:
    found = Segment.objects.select_for_update(of=("self",)).select_related("owner", "tag").filter(
        pk=segment.pk).first()
    if found is None:
        raise NotFound()
    access = actor.access
    if access is not None and found.owner_id != actor.user.pk and access.scope != SCOPE_ALL:
        raise PermissionDenied(_("Only the segment's owner can change it."))
    return found


def segment_refresh(*, actor: Actor, segment: Segment, job: Job | None = None) -> Segment:
    """Recompute the members as the segment's owner sees customers; record the size and who
    joined and left; keep the rule-based tag (if any) on exactly the members. Shown on the
    jobs page as a `segment_refresh` job (its own, or the batch `job` it is part of)."""
    actor.require("segment.manage")
    own_job = job is None
    if own_job:
        job = job_open(kind="segment_refresh", label=segment.name, user=actor.user, total=1)
        job_report(job, status=Job.RUNNING)
    try:
        refreshed = _segment_recompute(actor, segment)
    except Exception as exc:
        if own_job:
            job_report(job, status=Job.FAILED, error=_failure(exc))
        raise
    if own_job:
        job_report(job, status=Job.DONE, done=1, result={
            "segment_id": refreshed.pk, "size": refreshed.size})
    return refreshed


def _failure(exc: BaseException) -> str:
    """What a failed job shows: the domain error's own messages, else the exception's name."""
    if not isinstance(exc, DomainError):
        return type(exc).__name__
    details = exc.details if isinstance(exc.details, dict) else {}
    found = [str(m) for messages in details.values() if isinstance(messages, list)
             for m in messages]
    return "; ".join(found) or str(exc.message)


def _segment_recompute(actor: Actor, segment: Segment) -> Segment:
    started = time.monotonic()
    with transaction.atomic():
        segment = Segment.objects.select_for_update(of=("self",)).select_related("owner", "tag").filter(
            pk=segment.pk).first()
        if segment is None:
            raise NotFound()
        owner = segment.owner
        if owner is None or not owner.is_active:
            raise ValidationFailed(details={"owner": [
                _("The segment's owner is gone; give it to someone (save it again).")]})
        wanted = set(segment_queryset(user=owner, definition=segment.definition)
                     .values_list("pk", flat=True))
        current = set(SegmentMembership.objects.filter(segment=segment)
                      .values_list("customer_id", flat=True))
        added, removed = sorted(wanted - current), sorted(current - wanted)
        for chunk in _chunks(removed):
            SegmentMembership.objects.filter(segment=segment, customer_id__in=chunk).delete()
        SegmentMembership.objects.bulk_create(
            [SegmentMembership(segment=segment, customer_id=pk) for pk in added],
            batch_size=_CHUNK)
        now = timezone.now()
        segment.size, segment.computed_at = len(wanted), now
        segment.save(update_fields=["size", "computed_at"])
        SegmentSizeSnapshot.objects.create(
            segment=segment, at=now, size=len(wanted), added=len(added), removed=len(removed),
            duration_ms=int((time.monotonic() - started) * 1000))
        record_change(actor=actor, action="segment.refresh", event="segment.refreshed",
                      object_type="segment", object_id=segment.pk, object_repr=segment.name,
                      changes={"size": len(wanted), "joined": len(added), "left": len(removed)},
                      related=_membership_events(segment, added, removed))
        if segment.tag_id:
            _sync_rule_tag(actor, segment, wanted)
    return segment


def _sync_rule_tag(actor: Actor, segment: Segment, wanted: set[int]) -> None:
    tag = segment.tag
    tagged = set(CustomerTag.objects.filter(tag=tag).values_list("customer_id", flat=True))
    add, drop = sorted(wanted - tagged), sorted(tagged - wanted)
    if not add and not drop:
        return
    for chunk in _chunks(drop):
        CustomerTag.objects.filter(tag=tag, customer_id__in=chunk).delete()
    CustomerTag.objects.bulk_create([CustomerTag(customer_id=pk, tag=tag) for pk in add],
                                    batch_size=_CHUNK)
    record_change(actor=actor, action="tag.rule_sync", event=None, object_type="tag",
                  object_id=tag.pk, object_repr=tag.name,
                  related=_tag_events(tag, add, drop),
                  changes={"segment": segment.pk, "tagged": len(add), "untagged": len(drop),
                          "tagged_ids": add[:AUDITED_IDS], "untagged_ids": drop[:AUDITED_IDS]})


def _membership_events(segment: Segment, added: list[int], removed: list[int]) -> list[Related]:
    """segment.entered / segment.left, one per customer who joined or left."""
    ref = {"id": segment.pk, "name": segment.name}
    return ([Related(type="segment.entered", object_type="customer", object_id=pk,
                     changes={"segment": {"before": None, "after": ref}}) for pk in added]
            + [Related(type="segment.left", object_type="customer", object_id=pk,
                       changes={"segment": {"before": ref, "after": None}}) for pk in removed])


def _tag_events(tag: Tag, add: list[int], drop: list[int]) -> list[Related]:
    """tag.added / tag.removed for each customer a rule-based tag was put on or taken off."""
    return ([Related(type="tag.added", object_type="customer", object_id=pk,
                     changes={"tag": {"before": None, "after": tag.name}}) for pk in add]
            + [Related(type="tag.removed", object_type="customer", object_id=pk,
                       changes={"tag": {"before": tag.name, "after": None}}) for pk in drop])


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start:start + _CHUNK]


def segments_refresh_due(*, actor: Actor | None = None) -> dict[str, int]:
    """Recompute every dynamic (or never computed) segment (the periodic job); one failing
    segment is logged and skipped, never stops the others."""
    from kehu.segments.selectors import segments_due

    actor = actor or Actor.system(via="system")
    due = list(segments_due())
    done = failed = 0
    if not due:
        return {"refreshed": 0, "failed": 0}
    job = job_open(kind="segment_refresh", label=_("Scheduled segment refresh"),
                   user=actor.user, total=len(due))
    job_report(job, status=Job.RUNNING)
    try:
        for segment in due:
            try:
                segment_refresh(actor=actor, segment=segment, job=job)
                done += 1
            except (ValidationFailed, NotFound, PermissionDenied) as exc:
                failed += 1
                log.warning("segment %s not refreshed: %s %s", segment.pk, exc.message,
                            exc.details)
            job_report(job, done=done + failed)
    except BaseException as exc:
        job_report(job, status=Job.FAILED, error=type(exc).__name__)
        raise
    outcome = {"refreshed": done, "failed": failed}
    job_report(job, status=Job.DONE, result=outcome)
    return outcome
