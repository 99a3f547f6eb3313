"""Merging and unmerging customers, deciding duplicate candidates.

`customer_merge` moves everything that hangs off the merged customers to the survivor,
applies the chosen field values, marks the others merged (hidden, `merged_into` the
survivor) and writes ONE audit entry. `customer_unmerge` restores every original customer
exactly. Conflict rule: a survivor field (or primary flag) edited after the merge keeps
its later value; everything else returns to what it was before the merge.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.actor import Actor
from kehu.core.errors import Conflict, NotFound, ValidationFailed
from kehu.core.events import record_change
from kehu.customers.models import Customer
from kehu.customers.services import customer_snapshot as snapshot
from kehu.customers.services import customer_version_bump as bump
from kehu.customers.services import identity as customer_identity
from kehu.identity import relations
from kehu.identity.choices import COLUMN_GROUPS, ROW_FIELDS, choosable_fields, primary_row
from kehu.identity.models import (
    CandidateMember,
    DuplicateCandidate,
    Merge,
    MergeSource,
    NotSameMark,
    SurvivorshipRule,
)
from kehu.identity.survivorship import (
    CHOSEN,
    Proposal,
    allowed_rules,
    default_rule,
    propose,
    rules_in_force,
)

MAX_MERGE = 50


class _ExactEncoder(DjangoJSONEncoder):
    """DjangoJSONEncoder drops microseconds; an exact restore needs them."""

    def default(self, o):
        if isinstance(o, dt.datetime):
            return o.isoformat()
        return super().default(o)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, cls=_ExactEncoder, ensure_ascii=False))


def _columns(customer: Customer) -> dict[str, Any]:
    """Every stored column of a customer except its id, as JSON."""
    return _jsonable({f.attname: f.value_from_object(customer)
                      for f in Customer._meta.concrete_fields if not f.primary_key})


def _from_json(values: Mapping[str, Any]) -> dict[str, Any]:
    fields = {f.attname: f for f in Customer._meta.concrete_fields}
    out = {}
    for name, value in values.items():
        field = fields[name]
        out[name] = value if field.get_internal_type() == "JSONField" or value is None else (
            field.to_python(value))
    return out


def _lock_all(actor: Actor, ids: list[int]) -> dict[int, Customer]:
    rows = {c.pk: c for c in Customer.objects.select_for_update().filter(pk__in=ids)
            .order_by("pk")}
    access = actor.access
    for pk in ids:
        row = rows.get(pk)
        if row is None or row.status != Customer.STATUS_ACTIVE or (
                access is not None and not access.may_see_record(owner_id=row.owner_id,
                                                                 team_id=row.team_id)):
            raise NotFound(_("Customer #%d was not found (or is already merged).") % pk,
                           details={"customer_ids": [_("Customer #%d was not found.") % pk]})
    return rows


def _clean_choices(field_choices: Mapping[str, Any] | None, survivor: Customer,
                   others: list[Customer]) -> dict[str, Proposal]:
    """The survivorship proposal per field with the reviewer's choices ({field: customer
    id}) applied over it. A field the rules leave to the reviewer (the records disagree)
    must be chosen."""
    everyone = {c.pk: c for c in [survivor, *others]}
    proposals = propose(survivor, others)
    allowed = set(choosable_fields(survivor.kind, list(everyone.values())))
    errors: dict[str, list[str]] = {}
    for field, chosen in (field_choices or {}).items():
        if field not in allowed:
            errors[field] = [_("This field cannot be chosen in a merge.")]
            continue
        try:
            chosen = int(chosen)
        except (TypeError, ValueError):
            chosen = None
        if chosen not in everyone:
            errors[field] = [_("Choose one of the customers being merged.")]
            continue
        if field in ROW_FIELDS and chosen != survivor.pk and primary_row(
                everyone[chosen], field) is None:
            errors[field] = [_("That customer has no value for this field.")]
            continue
        if proposals[field].source != chosen:  # the proposal itself keeps its rule
            proposals[field] = Proposal(field, CHOSEN, source=chosen)
    for field, proposal in proposals.items():
        if proposal.needs_choice and field not in errors:
            errors[field] = [_("The records disagree on this field; choose the value to keep.")]
    if errors:
        raise ValidationFailed(details=errors)
    return proposals


def _set_primaries(survivor: Customer, flags: dict, choices: dict[str, int],
                   chosen_rows: dict[str, int | None]) -> None:
    """After the move: one primary per group on the survivor. A chosen row wins; else the
    survivor's own primary stays; else the first merged customer's primary."""
    for label, rows in flags.items():
        model = relations.PRIMARY_MODELS[label]
        attname = label.rsplit(".", 1)[1] + "_id"
        current = list(model.objects.filter(**{attname: survivor.pk}).order_by("pk"))
        groups: dict[str, list] = {}
        for row in current:
            groups.setdefault(relations.PRIMARY_GROUPS[label](row), []).append(row)
        for members in groups.values():
            winner = None
            for field, row_id in chosen_rows.items():
                if row_id is not None and any(m.pk == row_id for m in members) and (
                        label == "customers.Address.customer") == (field == "address"):
                    winner = row_id
            if winner is None:
                own = [m for m in members if rows.get(str(m.pk), [None, False, None])[2]
                       == survivor.pk and m.is_primary]
                others = [m for m in members if m.is_primary]
                winner = own[0].pk if own else (others[0].pk if others else None)
            for m in members:
                should = m.pk == winner
                if m.is_primary != should:
                    model.objects.filter(pk=m.pk).update(is_primary=should)


def customer_merge(*, actor: Actor, survivor_id: int, other_ids: Iterable[int],
                   field_choices: Mapping[str, Any] | None = None,
                   probability: float | None = None, automatic: bool = False,
                   candidate: DuplicateCandidate | None = None) -> Merge:
    """Merge `other_ids` into `survivor_id`, keeping the chosen value of each field
    (`field_choices`: {field: customer id}; unnamed fields follow the default rule)."""
    actor.require("customer.merge")
    others_ids = list(dict.fromkeys(int(i) for i in other_ids if int(i) != int(survivor_id)))
    if not others_ids:
        raise ValidationFailed(details={"customer_ids": [
            _("Choose at least two different customers to merge.")]})
    if len(others_ids) + 1 > MAX_MERGE:
        raise ValidationFailed(details={"customer_ids": [
            _("At most %d customers can be merged at once.") % MAX_MERGE]})
    with transaction.atomic():
        rows = _lock_all(actor, [int(survivor_id), *others_ids])
        survivor = rows[int(survivor_id)]
        others = [rows[i] for i in others_ids]
        if any(o.kind != survivor.kind for o in others):
            raise ValidationFailed(details={"customer_ids": [
                _("A person cannot be merged with an organisation.")]})
        proposals = _clean_choices(field_choices, survivor, others)
        choices = {f: p.source for f, p in proposals.items() if p.source is not None}
        everyone = {c.pk: c for c in [survivor, *others]}
        ids = list(everyone)
        before = {str(pk): _columns(c) for pk, c in everyone.items()}
        audit_before = snapshot(survivor)
        flags_before = relations.primary_flags(ids)
        chosen_rows = {}
        for field in ROW_FIELDS:
            chosen = choices.get(field)
            row = primary_row(everyone[chosen], field) if chosen else None
            chosen_rows[field] = row.pk if row is not None else None
        moved = relations.move_rows(survivor_id=survivor.pk, source_ids=others_ids)
        _set_primaries(survivor, flags_before, choices, chosen_rows)

        changed_groups = _apply_proposals(survivor, everyone, proposals)
        latest = max((c.last_activity_at for c in everyone.values() if c.last_activity_at),
                     default=None)
        if latest != survivor.last_activity_at:
            survivor.last_activity_at = latest
            changed_groups.append("last_activity_at")
        survivor.save()  # refresh the row's relations before recomputing its list columns
        customer_identity.refresh_primary_columns(survivor)
        customer_identity.refresh_address_columns(survivor)
        version_before = survivor.version
        bump(survivor)
        survivor.save()
        for other in others:
            other.status = Customer.STATUS_MERGED
            other.merged_into = survivor
            bump(other)
            other.save(update_fields=["status", "merged_into", "version", "updated_at"])

        rules = {f: p.rule for f, p in proposals.items()}
        merge = Merge.objects.create(
            survivor=survivor, field_choices=choices, probability=probability,
            automatic=automatic, created_by=actor.user,
            snapshot={
                "before": before, "after": _columns(survivor), "groups": changed_groups,
                "rules": rules,
                "moved": moved, "flags_before": flags_before,
                "flags_after": relations.primary_flags([survivor.pk]),
            })
        MergeSource.objects.bulk_create([MergeSource(merge=merge, customer=o, name=o.name)
                                         for o in others])
        _close_candidates(actor, ids, merge, candidate)
        moved_counts = {label: sum(len(v) for v in entry["moved"].values())
                        for label, entry in moved.items()}
        record_change(
            actor=actor, action="customer.merge", event="customer.merged", object_type="customer",
            object_id=survivor.pk,
            object_repr=survivor.name,
            changes={**{k: v for k, v in _diff(audit_before, snapshot(survivor)).items()},
                      "merged": {"before": None, "after": [
                         {"id": o.pk, "name": o.name} for o in others]},
                     "merge_id": merge.pk, "automatic": automatic, "moved": moved_counts,
                     "survivorship": {f: r for f, r in rules.items()
                                      if f in changed_groups or r == CHOSEN},
                     "version": {"before": version_before, "after": survivor.version}})
    return merge


def _apply_proposals(survivor: Customer, everyone: dict[int, Customer],
                     proposals: dict[str, Proposal]) -> list[str]:
    """Set the survivor's columns to the proposed values (row fields are handled by the
    primary flags); returns the fields whose value changed, for the undo."""
    changed: list[str] = []
    for field, proposal in proposals.items():
        if field in ROW_FIELDS or proposal.source == survivor.pk:
            continue
        combined = proposal.source is None
        source = None if combined else everyone[proposal.source]
        if field.startswith("custom."):
            key = field[7:]
            custom = dict(survivor.custom or {})
            if combined:
                custom[key] = proposal.combined
            elif key in (source.custom or {}):
                custom[key] = source.custom[key]
            else:
                custom.pop(key, None)
            if custom != (survivor.custom or {}):
                survivor.custom = custom
                changed.append(field)
            continue
        columns = COLUMN_GROUPS[field]
        if combined:
            if getattr(survivor, field) != proposal.combined:
                setattr(survivor, field, proposal.combined)
                changed.append(field)
        elif any(getattr(survivor, c) != getattr(source, c) for c in columns):
            for column in columns:
                setattr(survivor, column, getattr(source, column))
            changed.append(field)
    return changed


def _diff(before: dict, after: dict) -> dict:
    from kehu.core.audit import diff

    return diff(before, after)


def _close_candidates(actor: Actor, ids: list[int], merge: Merge,
                      candidate: DuplicateCandidate | None) -> None:
    """The candidate that led here, and any pending one wholly inside this merge, is merged."""
    inside = set(ids)
    pending = DuplicateCandidate.objects.filter(
        status=DuplicateCandidate.PENDING,
        pk__in=CandidateMember.objects.filter(customer_id__in=ids).values("candidate_id"))
    now = timezone.now()
    for cand in pending:
        if set(cand.member_ids) <= inside or (candidate is not None and cand.pk == candidate.pk):
            cand.status, cand.merge, cand.resolved_at = DuplicateCandidate.MERGED, merge, now
            cand.resolved_by = actor.user
            cand.save(update_fields=["status", "merge", "resolved_at", "resolved_by"])


def customer_unmerge(*, actor: Actor, merge_id: int) -> Merge:
    """Undo a merge: every merged customer comes back exactly as it was, with its own rows;
    the survivor gets back its own values except fields edited after the merge."""
    actor.require("customer.merge")
    with transaction.atomic():
        merge = Merge.objects.select_for_update().filter(pk=merge_id).first()
        if merge is None:
            raise NotFound()
        if merge.undone_at is not None:
            raise Conflict(_("This merge has already been undone."), code="already_undone")
        source_ids = list(merge.sources.values_list("customer_id", flat=True))
        rows = {c.pk: c for c in Customer.objects.select_for_update()
                .filter(pk__in=[merge.survivor_id, *source_ids]).order_by("pk")}
        survivor = rows[merge.survivor_id]
        access = actor.access
        if access is not None and not access.may_see_record(owner_id=survivor.owner_id,
                                                            team_id=survivor.team_id):
            raise NotFound()
        if survivor.status != Customer.STATUS_ACTIVE:
            raise Conflict(_("The surviving customer has since been merged or deleted; undo "
                             "that first."), code="survivor_inactive")
        for pk in source_ids:
            if rows[pk].status != Customer.STATUS_MERGED or rows[pk].merged_into_id != survivor.pk:
                raise Conflict(_("Customer #%d has changed since this merge.") % pk,
                               code="source_changed")
        snap = merge.snapshot
        audit_before = snapshot(survivor)
        relations.move_back(survivor_id=survivor.pk, moved=snap["moved"])
        _restore_flags(survivor.pk, snap["flags_before"], snap["flags_after"])

        before = _from_json(snap["before"][str(survivor.pk)])
        after = _from_json(snap["after"])
        for group in snap["groups"]:
            if group.startswith("custom."):
                key = group[7:]
                now_custom = dict(survivor.custom or {})
                if now_custom.get(key) == (after.get("custom") or {}).get(key):
                    old = before.get("custom") or {}
                    if key in old:
                        now_custom[key] = old[key]
                    else:
                        now_custom.pop(key, None)
                    survivor.custom = now_custom
                continue
            columns = ("last_activity_at",) if group == "last_activity_at" else COLUMN_GROUPS[group]
            if all(getattr(survivor, c) == after[c] for c in columns):
                for column in columns:
                    setattr(survivor, column, before[column])
        survivor.save()
        customer_identity.refresh_primary_columns(survivor)
        customer_identity.refresh_address_columns(survivor)
        version_before = survivor.version
        bump(survivor)
        survivor.save()
        for pk in source_ids:
            values = _from_json(snap["before"][str(pk)])
            values["version"] = rows[pk].version + 1
            Customer.objects.filter(pk=pk).update(**values)
        merge.undone_at, merge.undone_by = timezone.now(), actor.user
        merge.save(update_fields=["undone_at", "undone_by"])
        merge.candidates.filter(status=DuplicateCandidate.MERGED).update(
            status=DuplicateCandidate.PENDING, merge=None, resolved_at=None, resolved_by=None)
        record_change(
            actor=actor, action="customer.unmerge", event="customer.unmerged", object_type="customer",
            object_id=survivor.pk, object_repr=survivor.name,
            changes={**_diff(audit_before, snapshot(survivor)),
                      "restored": {"before": None, "after": [
                         {"id": pk, "name": snap["before"][str(pk)]["name"]}
                         for pk in source_ids]},
                      "merge_id": merge.pk,
                      "version": {"before": version_before, "after": survivor.version}})
    return merge


def _restore_flags(survivor_id: int, flags_before: dict, flags_after: dict) -> None:
    """Rows that went back to their customer get their old primary flag; the survivor's own
    rows too, unless changed since the merge or another row of the group is primary now."""
    for label, rows in flags_before.items():
        model = relations.PRIMARY_MODELS[label]
        attname = label.rsplit(".", 1)[1] + "_id"
        after = flags_after.get(label, {})
        current = {str(r.pk): r for r in model.objects.filter(pk__in=[int(k) for k in rows])}
        for pk, (_group, was_primary, owner_id) in rows.items():
            row = current.get(pk)
            if row is None or owner_id == survivor_id or getattr(row, attname) != owner_id:
                continue
            if row.is_primary != was_primary:
                model.objects.filter(pk=row.pk).update(is_primary=was_primary)
        survivor_rows = list(model.objects.filter(**{attname: survivor_id}))
        primary_groups = {relations.PRIMARY_GROUPS[label](r) for r in survivor_rows
                          if r.is_primary}
        for row in survivor_rows:
            old = rows.get(str(row.pk))
            if old is None or old[2] != survivor_id or row.is_primary == old[1]:
                continue
            if row.is_primary != (after.get(str(row.pk)) or [None, None])[1]:
                continue  # edited after the merge: the later edit stays
            group = relations.PRIMARY_GROUPS[label](row)
            if old[1] and group in primary_groups:
                continue
            model.objects.filter(pk=row.pk).update(is_primary=old[1])
            if old[1]:
                primary_groups.add(group)
            else:
                primary_groups.discard(group)


# Candidates ------------------------------------------------------------------------------


def candidate_merge(*, actor: Actor, candidate: DuplicateCandidate, survivor_id: int,
                    field_choices: Mapping[str, Any] | None = None,
                    member_ids: Iterable[int] | None = None) -> Merge:
    """Merge a pending candidate's customers (or the chosen `member_ids` of it)."""
    if candidate.status != DuplicateCandidate.PENDING:
        raise Conflict(_("This candidate has already been decided."), code="already_decided")
    members = [int(i) for i in (member_ids or candidate.member_ids)]
    if int(survivor_id) not in members or not set(members) <= set(candidate.member_ids):
        raise ValidationFailed(details={"survivor_id": [
            _("Choose the surviving customer among the candidate's customers.")]})
    return customer_merge(actor=actor, survivor_id=int(survivor_id),
                          other_ids=[i for i in members if i != int(survivor_id)],
                          field_choices=field_choices, probability=candidate.probability,
                          candidate=candidate)


def candidate_dismiss(*, actor: Actor, candidate: DuplicateCandidate) -> DuplicateCandidate:
    """"Not the same": every pair of the candidate is marked, so no scan proposes it again."""
    actor.require("customer.merge")
    with transaction.atomic():
        candidate = DuplicateCandidate.objects.select_for_update().get(pk=candidate.pk)
        if candidate.status != DuplicateCandidate.PENDING:
            raise Conflict(_("This candidate has already been decided."), code="already_decided")
        ids = sorted(candidate.member_ids)
        for i, low in enumerate(ids):
            for high in ids[i + 1:]:
                NotSameMark.objects.get_or_create(low_id=low, high_id=high,
                                                  defaults={"marked_by": actor.user})
        candidate.status = DuplicateCandidate.DISMISSED
        candidate.resolved_at, candidate.resolved_by = timezone.now(), actor.user
        candidate.save(update_fields=["status", "resolved_at", "resolved_by"])
        record_change(actor=actor, action="duplicate.dismiss", event="duplicate.dismissed",
                      object_type="duplicate",
                      object_id=candidate.pk, object_repr=candidate.key,
                      changes={"customers": ids, "probability": candidate.probability})
    return candidate


# Survivorship rules ----------------------------------------------------------------------


def _field_label(field: str) -> str:
    from kehu.customers.models import CustomFieldDefinition
    from kehu.identity.choices import LABELS

    if field.startswith("custom."):
        found = CustomFieldDefinition.objects.filter(key=field[7:]).values_list(
            "label", flat=True).first()
        return found or field
    return str(LABELS.get(field, field))


def survivorship_rules_set(*, actor: Actor, rules: Mapping[str, str]) -> dict[str, str]:
    """Make merges keep each field's value by the given rule ({field: rule}; needs
    merge.configure), all or nothing, each change audited. Setting a field's default rule
    removes its override. Returns {field: rule} for the fields that changed."""
    actor.require("merge.configure")
    from kehu.customers.models import CustomFieldDefinition

    known = set(choosable_fields(Customer.KIND_PERSON, [])) | set(
        choosable_fields(Customer.KIND_ORGANISATION, [])) | {
        f"custom.{key}" for key in CustomFieldDefinition.objects.values_list("key", flat=True)}
    errors: dict[str, list[str]] = {}
    for field, rule in rules.items():
        if field not in known:
            errors[field] = [_("This field cannot be chosen in a merge.")]
        elif rule not in allowed_rules(field):
            errors[field] = [_("This rule does not apply to this field.")]
    if errors:
        raise ValidationFailed(details=errors)
    changed: dict[str, str] = {}
    with transaction.atomic():
        existing = {r.field: r for r in SurvivorshipRule.objects.select_for_update()
                    .filter(field__in=list(rules))}
        in_force = rules_in_force(list(rules))
        for field, rule in rules.items():
            before, row = in_force[field], existing.get(field)
            if rule == before:
                continue
            if rule == default_rule(field):
                if row is not None:
                    row.delete()
            elif row is None:
                SurvivorshipRule.objects.create(field=field, rule=rule, updated_by=actor.user)
            else:
                row.rule, row.updated_by = rule, actor.user
                row.save(update_fields=["rule", "updated_by", "updated_at"])
            record_change(actor=actor, action="survivorship.update", event="survivorship.changed",
                          object_type="survivorship", object_id=field, object_repr=_field_label(field),
                          changes={"rule": {"before": before, "after": rule}})
            changed[field] = rule
    return changed
