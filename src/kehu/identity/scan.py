"""The batch duplicate scan and the recording of candidates found anywhere (scan, entry,
import). A scan feeds the visible customers (or a filtered set) to the matching engine,
drops pairs someone marked "not the same", clusters the rest with the engine's guarded
clustering and fills the review queue; with an auto-merge threshold set it merges the
surest groups at once, each merge still undoable and audited as automatic, except groups
whose records disagree on a field the survivorship rules leave to the reviewer: those stay
in the queue (counted as held for review).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.actor import Actor
from kehu.core.errors import DomainError, ValidationFailed
from kehu.core.events import Related, emit_many, record_change
from kehu.core.jobs import job_open, job_report
from kehu.core.models import Job
from kehu.customers import duplicates
from kehu.customers.listing import filters_from_query
from kehu.customers.models import Customer
from kehu.customers.selectors import custom_field_list, customer_filtered_queryset
from kehu.identity.choices import default_survivor
from kehu.identity.models import CandidateMember, DedupScan, DuplicateCandidate, NotSameMark
from kehu.identity.services import customer_merge
from kehu.identity.survivorship import propose
from kehu.matching import cluster, predict_pairs, score_pair

DEFAULT_THRESHOLD = 0.9

Progress = Callable[[DedupScan], None]


def auto_merge_threshold() -> float | None:
    """KEHU_DEDUP_AUTO_MERGE (a probability such as 0.995), or None: off (the default)."""
    value = getattr(settings, "KEHU_DEDUP_AUTO_MERGE", None)
    return float(value) if value not in (None, "") else None


def _evidence(pair) -> list[dict[str, Any]]:
    return [{"field": e.field, "label": str(e.label), "weight": round(float(e.weight), 3)}
            for e in pair.explanation]


def candidate_key(ids: Iterable[int]) -> str:
    return "-".join(str(i) for i in sorted(set(int(i) for i in ids)))


def _not_same(ids: set[int]) -> set[tuple[int, int]]:
    marks = NotSameMark.objects.filter(low_id__in=ids, high_id__in=ids).values_list(
        "low_id", "high_id")
    return set(marks)


def candidate_record(*, members: list[int], pairs: list, found_by: str) -> tuple[
        DuplicateCandidate | None, bool]:
    """Create or refresh the pending candidate for this group; (candidate, created).
    A group already merged or dismissed is left alone (None)."""
    key = candidate_key(members)
    probability = min(p.probability for p in pairs)
    explanation = [{"left_id": int(p.left_id), "right_id": int(p.right_id),
                    "probability": round(float(p.probability), 6), "fields": _evidence(p)}
                   for p in pairs]
    with transaction.atomic():
        existing = DuplicateCandidate.objects.select_for_update().filter(key=key).first()
        if existing is not None:
            if existing.status != DuplicateCandidate.PENDING:
                return None, False
            existing.probability, existing.explanation = probability, explanation
            existing.save(update_fields=["probability", "explanation"])
            return existing, False
        candidate = DuplicateCandidate.objects.create(
            key=key, probability=probability, explanation=explanation, found_by=found_by)
        CandidateMember.objects.bulk_create([CandidateMember(candidate=candidate, customer_id=i)
                                             for i in sorted(set(members))])
        emit_many(actor=Actor.system(via="system"), events=[Related(
            type="duplicate.found", object_type="duplicate", object_id=candidate.pk,
            object_repr=key, changes={"customers": {"before": None, "after": sorted(set(members))},
                                      "probability": float(probability),
                                      "found_by": found_by})])
    return candidate, True


def _scan_queryset(actor: Actor, filters: dict[str, Any]):
    if actor.user is None:
        if filters:
            raise ValidationFailed(details={"filters": [
                _("Filters need a user to act as (their scope decides what is scanned).")]})
        return Customer.objects.filter(status=Customer.STATUS_ACTIVE)
    query = QueryDict(mutable=True)
    for key, value in filters.items():
        query.setlist(key, value if isinstance(value, list) else [str(value)])
    parsed = filters_from_query(query, custom_field_list(user=actor.user))
    return customer_filtered_queryset(user=actor.user, filters=parsed)


def dedup_scan_create(*, actor: Actor, threshold: float | None = None,
                      filters: dict[str, Any] | None = None) -> DedupScan:
    """Queue a scan (the caller runs it or hands its id to the Huey task)."""
    actor.require("customer.merge")
    threshold = DEFAULT_THRESHOLD if threshold is None else float(threshold)
    if not 0.0 < threshold < 1.0:
        raise ValidationFailed(details={"threshold": [
            _("The threshold is a probability between 0 and 1, such as 0.9.")]})
    with transaction.atomic():
        scan = DedupScan.objects.create(
            threshold=threshold, filters=dict(filters or {}), created_by=actor.user,
            job=job_open(kind="dedup_scan", label=_("Duplicate scan"), user=actor.user))
        record_change(actor=actor, action="duplicate.scan", event="duplicate.scan_requested",
                      object_type="dedup_scan",
                      object_id=scan.pk, object_repr=f"scan #{scan.pk}",
                      changes={"threshold": threshold, "filters": scan.filters})
    return scan


def _stage(scan: DedupScan, stage: str, progress: Progress | None, **counts) -> None:
    scan.stage = stage
    for name, value in counts.items():
        setattr(scan, name, value)
    scan.save(update_fields=["stage", "status", *counts])
    dedup_scan_sync(scan)
    if progress is not None:
        progress(scan)


def dedup_scan_run(*, actor: Actor, scan_id: int, progress: Progress | None = None) -> DedupScan:
    """Run a queued scan to the end, reporting progress on its row. Idempotent: candidates
    are keyed by their members, so running again refreshes rather than duplicates them."""
    actor.require("customer.merge")
    scan = DedupScan.objects.get(pk=scan_id)
    scan.status, scan.error_message = DedupScan.RUNNING, ""
    try:
        qs = _scan_queryset(actor, scan.filters)
        _stage(scan, "loading", progress, total=qs.count(), done=0)
        records = []
        for record in duplicates.match_records(qs):
            records.append(record)
            if len(records) % 2000 == 0:
                _stage(scan, "loading", progress, done=len(records))
        by_id = {r["id"]: r for r in records}
        _stage(scan, "matching", progress, done=len(records))
        pairs = predict_pairs(records, threshold=scan.threshold) if len(records) > 1 else []
        marked = _not_same(set(by_id))
        pairs = [p for p in pairs
                 if (min(p.left_id, p.right_id), max(p.left_id, p.right_id)) not in marked]
        groups: dict[Any, list[int]] = {}
        for record_id, cluster_id in cluster(pairs, threshold=scan.threshold).items():
            groups.setdefault(cluster_id, []).append(int(record_id))
        _stage(scan, "recording", progress, pairs=len(pairs))
        member_of = {i: cid for cid, ids in groups.items() for i in ids}
        group_pairs: dict[Any, list] = {}
        for pair in pairs:
            cid = member_of.get(int(pair.left_id))
            if cid is not None and member_of.get(int(pair.right_id)) == cid:
                if not pair.explanation:
                    pair = score_pair(by_id[pair.left_id], by_id[pair.right_id])
                group_pairs.setdefault(cid, []).append(pair)
        created = 0
        auto = auto_merge_threshold()
        auto_merged = held = 0
        for cid, members in groups.items():
            if len(members) < 2 or cid not in group_pairs:
                continue
            candidate, new = candidate_record(members=members, pairs=group_pairs[cid],
                                              found_by=DuplicateCandidate.SCAN)
            created += int(new)
            if candidate is not None and auto is not None and candidate.probability >= auto:
                outcome = _auto_merge(actor, candidate)
                auto_merged += int(outcome == MERGED)
                held += int(outcome == HELD)
        scan.candidates_new, scan.auto_merged, scan.held_for_review = created, auto_merged, held
        scan.status, scan.finished_at = DedupScan.DONE, timezone.now()
        _stage(scan, "done", progress, candidates_new=created, auto_merged=auto_merged,
               held_for_review=held, finished_at=scan.finished_at)
    except Exception as exc:
        scan.status, scan.finished_at = DedupScan.FAILED, timezone.now()
        scan.error_message = str(getattr(exc, "message", exc))[:2000]
        scan.save(update_fields=["status", "finished_at", "error_message"])
        dedup_scan_sync(scan)
        raise
    return scan


MERGED, HELD, REFUSED = "merged", "held", "refused"


def _auto_merge(actor: Actor, candidate: DuplicateCandidate) -> str:
    """Merge an auto-merge-sure candidate into its most complete customer. HELD (left
    pending for review) when the survivorship rules leave a field to the reviewer because
    the records disagree (two birthdays, say); REFUSED when the merge is refused (a customer
    changed meanwhile, a relation cannot move …)."""
    customers = list(Customer.objects.filter(pk__in=candidate.member_ids,
                                             status=Customer.STATUS_ACTIVE))
    if len(customers) != len(candidate.member_ids) or len({c.kind for c in customers}) != 1:
        return REFUSED
    survivor = default_survivor(customers)
    others = [c for c in customers if c.pk != survivor.pk]
    if any(p.needs_choice for p in propose(survivor, others).values()):
        return HELD
    try:
        customer_merge(actor=actor, survivor_id=survivor.pk, other_ids=[c.pk for c in others],
                       probability=candidate.probability, automatic=True, candidate=candidate)
    except DomainError:
        return REFUSED
    return MERGED


def duplicates_record_for(*, actor: Actor, customer_ids: Iterable[int],
                          found_by: str = DuplicateCandidate.IMPORT,
                          threshold: float = DEFAULT_THRESHOLD) -> list[DuplicateCandidate]:
    """The import hook (and the at-entry "continue anyway"): check each given customer
    against every existing customer and queue the likely duplicates for review.

    Call it per chunk with the ids the chunk created or updated, inside or after the
    chunk's transaction; returns the candidates created or refreshed.
    """
    actor.require("customer.add")
    ids = [int(i) for i in customer_ids]
    qs = Customer.objects.filter(pk__in=ids, status=Customer.STATUS_ACTIVE)
    found = []
    for record in duplicates.match_records(qs):
        for other, pair in duplicates.possible_duplicates(record, exclude_ids=[record["id"]],
                                                          threshold=threshold):
            low, high = sorted((record["id"], other.pk))
            if NotSameMark.objects.filter(low_id=low, high_id=high).exists():
                continue
            candidate, _new = candidate_record(
                members=[low, high], found_by=found_by,
                pairs=[_Pair(low, high, pair.probability, pair.explanation)])
            if candidate is not None:
                found.append(candidate)
    return found


def candidates_queue_pairs(*, actor: Actor, pairs: Iterable[tuple[int, int]],
                           found_by: str = DuplicateCandidate.IMPORT) -> int:
    """Queue pairs of customers for duplicate review whatever their score (an import row
    that named another person than the customer holding its phone: a person decides).
    Scored and explained like any candidate; a pair marked "not the same", or already
    proposed (pending, merged or dismissed), is left alone. A chunk's pairs in a handful of
    queries; returns how many candidates were created."""
    actor.require("customer.add")
    wanted = {tuple(sorted((int(a), int(b)))) for a, b in pairs if int(a) != int(b)}
    if not wanted:
        return 0
    ids = {i for pair in wanted for i in pair}
    wanted -= set(NotSameMark.objects.filter(low_id__in=ids, high_id__in=ids)
                  .values_list("low_id", "high_id"))
    keys = {candidate_key(pair): pair for pair in wanted}
    keys = {key: pair for key, pair in keys.items() if key not in set(
        DuplicateCandidate.objects.filter(key__in=list(keys)).values_list("key", flat=True))}
    if not keys:
        return 0
    records = {r["id"]: r for r in duplicates.match_records(
        Customer.objects.filter(pk__in={i for pair in keys.values() for i in pair}))}
    new = []
    for key, (low, high) in sorted(keys.items()):
        if low not in records or high not in records:
            continue
        pair = score_pair(records[low], records[high])
        new.append(DuplicateCandidate(
            key=key, probability=pair.probability, found_by=found_by,
            explanation=[{"left_id": low, "right_id": high,
                          "probability": round(float(pair.probability), 6),
                          "fields": _evidence(pair)}]))
    with transaction.atomic():
        DuplicateCandidate.objects.bulk_create(new)
        stored = dict(DuplicateCandidate.objects.filter(key__in=[c.key for c in new])
                      .values_list("key", "pk"))
        CandidateMember.objects.bulk_create([
            CandidateMember(candidate_id=stored[key], customer_id=i)
            for key in stored for i in keys[key]])
        emit_many(actor=actor, events=[Related(
            type="duplicate.found", object_type="duplicate", object_id=stored[c.key], object_repr=c.key,
            changes={"customers": {"before": None, "after": list(keys[c.key])},
                     "probability": float(c.probability), "found_by": found_by})
            for c in new if c.key in stored])
    return len(new)


class _Pair:
    """A scored pair with the ids put in order."""

    def __init__(self, left_id, right_id, probability, explanation):
        self.left_id, self.right_id = left_id, right_id
        self.probability, self.explanation = probability, explanation


def scan_elapsed(scan: DedupScan) -> float | None:
    if scan.finished_at is None:
        return None
    return (scan.finished_at - scan.created_at).total_seconds()


def dedup_scan_interrupted(entry: Job) -> None:
    """The process running a scan is gone: mark it failed (start a new scan to run it again)."""
    message = _("Interrupted: the process running this scan stopped. Start a new scan.")
    DedupScan.objects.filter(job=entry, status=DedupScan.RUNNING).update(
        status=DedupScan.FAILED, finished_at=timezone.now(), error_message=message)
    job_report(entry, status=Job.FAILED, error=message)


def dedup_scan_sync(scan: DedupScan) -> None:
    """Report a scan's state to its entry in the one job system (same status names)."""
    if scan.job_id is None:
        return
    job_report(scan.job_id, status=scan.status, done=scan.done, total=max(scan.total, scan.done),
               error=scan.error_message,
               result={"pairs": scan.pairs, "candidates_new": scan.candidates_new,
                       "auto_merged": scan.auto_merged} if scan.status == DedupScan.DONE else None)
