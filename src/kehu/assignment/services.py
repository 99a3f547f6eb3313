"""Every write of lead assignment: rules (create, update, delete, reorder), applying them to
customers, and book transfers. Owners change only through the customers services, so every
reassignment is audited and emits `customer.field_changed`; each decision is recorded and
emits `assignment.decided` (docs/assignment.md)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.accounts.models import Team, User
from kehu.assignment.decide import (
    AssignmentDecision,
    condition_validate,
    decide,
)
from kehu.assignment.models import (
    FIXED,
    METHODS,
    Assignment,
    AssignmentRule,
    BookTransfer,
)
from kehu.core.actor import Actor
from kehu.core.audit import diff
from kehu.core.errors import NotFound, PermissionDenied, ValidationFailed
from kehu.core.events import Change, record_change, record_changes_many
from kehu.core.validation import full_clean
from kehu.customers import services as customer_services
from kehu.customers.models import Customer

__all__ = ["AssignmentDecision", "assignment_apply", "assignment_preview",
           "assignment_rule_save", "assignment_rule_delete", "assignment_rules_reorder",
           "book_transfer_create", "book_transfer_start", "book_transfer_run", "user_leave_set"]

MAX_CUSTOMERS = 5000


# Rules ----------------------------------------------------------------------------------------

def _rule_state(rule: AssignmentRule) -> dict[str, Any]:
    return {"name": rule.name, "description": rule.description, "condition": rule.condition,
            "team": rule.team.name if rule.team_id else None, "method": rule.method,
            "fixed_user": rule.fixed_user.get_username() if rule.fixed_user_id else None,
            "capacity": rule.capacity, "priority": rule.priority, "is_active": rule.is_active}


def _check_rule(actor: Actor, rule: AssignmentRule) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not (rule.name or "").strip():
        errors["name"] = [_("Give the rule a name.")]
    if rule.method not in dict(METHODS):
        errors["method"] = [_("Choose round robin, least open items or a fixed user.")]
    if rule.method == FIXED:
        if not rule.fixed_user_id:
            errors["fixed_user"] = [_("Choose the user who receives the customers.")]
        elif not rule.fixed_user.is_active:
            errors["fixed_user"] = [_("This user is no longer active.")]
    elif not rule.team_id:
        errors["team"] = [_("Choose the team whose members receive the customers.")]
    access = actor.access
    if access is not None and access.scope != "all":
        if rule.team_id and rule.team_id not in access.team_ids:
            errors.setdefault("team", []).append(_("You can only use your own teams."))
        if rule.fixed_user_id and rule.fixed_user_id != access.user_id and (
                rule.fixed_user.team_id not in access.team_ids):
            errors.setdefault("fixed_user", []).append(
                _("You can only assign customers to people in your teams."))
    return errors


def assignment_rule_save(*, actor: Actor, rule: AssignmentRule | None = None, name: str,
                         condition: Any, team: Team | None, method: str,
                         fixed_user: User | None = None, capacity: int | None = None,
                         priority: int | None = None, is_active: bool = True,
                         description: str = "") -> AssignmentRule:
    """Create (rule=None) or replace an assignment rule; its condition is validated by the
    segment language for the actor (no condition on a field they may not see)."""
    actor.require("assignment.manage")
    errors: dict[str, list[str]] = {}
    try:
        tree = condition_validate(condition, access=actor.access)
    except ValidationFailed as exc:
        tree = None
        for path, messages in (exc.details or {}).items():
            errors[f"condition.{path}" if path != "definition" else "condition"] = messages
    if capacity is not None and capacity < 1:
        errors["capacity"] = [_("Give a capacity of at least 1, or none.")]
    with transaction.atomic():
        if rule is not None:
            rule = AssignmentRule.objects.select_for_update().filter(pk=rule.pk).first()
            if rule is None:
                raise NotFound()
            before = _rule_state(rule)
        else:
            rule, before = AssignmentRule(created_by=actor.user), {}
            if priority is None:
                last = AssignmentRule.objects.order_by("-priority").values_list(
                    "priority", flat=True).first()
                priority = (last or 0) + 10
        rule.name, rule.description = (name or "").strip(), (description or "").strip()
        rule.condition = tree if tree is not None else condition
        rule.team, rule.method, rule.fixed_user = team, method, fixed_user
        rule.capacity, rule.is_active = capacity, bool(is_active)
        if priority is not None:
            rule.priority = priority
        errors.update({k: v for k, v in _check_rule(actor, rule).items() if k not in errors})
        if errors:
            raise ValidationFailed(details=errors)
        full_clean(rule, exclude=["team", "fixed_user", "last_user", "created_by", "condition"])
        rule.save()
        record_change(actor=actor, action="assignment_rule.save",
                      event="assignment_rule.updated" if before else "assignment_rule.created",
                      object_type="assignment_rule", object_id=rule.pk, object_repr=rule.name,
                      changes=diff(before, _rule_state(rule)))
    return rule


def assignment_rule_delete(*, actor: Actor, rule: AssignmentRule) -> None:
    """Delete a rule; its past decisions stay (with the rule's name)."""
    actor.require("assignment.manage")
    with transaction.atomic():
        state = _rule_state(rule)
        pk = rule.pk
        rule.delete()
        record_change(actor=actor, action="assignment_rule.delete",
                      event="assignment_rule.deleted", object_type="assignment_rule",
                      object_id=pk, object_repr=state["name"], changes=diff(state, {}))


def assignment_rules_reorder(*, actor: Actor, rule_ids: list[int]) -> list[AssignmentRule]:
    """Set priorities 10, 20, 30 … in the given order (rules not listed keep theirs, after)."""
    actor.require("assignment.manage")
    ids = [int(i) for i in rule_ids]
    if len(set(ids)) != len(ids):
        raise ValidationFailed(details={"ids": [_("Each rule once.")]})
    with transaction.atomic():
        rules = {r.pk: r for r in AssignmentRule.objects.select_for_update().filter(pk__in=ids)}
        if len(rules) != len(ids):
            raise NotFound()
        for position, pk in enumerate(ids, start=1):
            rule = rules[pk]
            if rule.priority == position * 10:
                continue
            before = rule.priority
            rule.priority = position * 10
            rule.save(update_fields=["priority", "updated_at"])
            record_change(actor=actor, action="assignment_rule.reorder",
                          event="assignment_rule.updated", object_type="assignment_rule",
                          object_id=rule.pk, object_repr=rule.name,
                          changes={"priority": {"before": before, "after": rule.priority}})
    return list(AssignmentRule.objects.all())


# Applying -------------------------------------------------------------------------------------

def _customer_ids(actor: Actor, customer_ids: list[int]) -> list[int]:
    """The ids, each a live customer inside the actor's scope (else NotFound: no probing)."""
    ids = sorted({int(i) for i in customer_ids})
    if not ids:
        raise ValidationFailed(details={"customer_ids": [_("Select at least one customer.")]})
    if len(ids) > MAX_CUSTOMERS:
        raise ValidationFailed(details={"customer_ids": [
            _("At most %(n)d customers at a time.") % {"n": MAX_CUSTOMERS}]})
    rows = list(Customer.objects.filter(pk__in=ids, status=Customer.STATUS_ACTIVE)
                .values_list("pk", "owner_id", "team_id"))
    if len(rows) != len(ids):
        raise NotFound()
    access = actor.access
    if access is not None and not all(access.may_see_record(owner_id=o, team_id=t)
                                      for _pk, o, t in rows):
        raise NotFound()
    return ids


def _rules(rule_id: int | None, *, lock: bool) -> list[AssignmentRule]:
    qs = AssignmentRule.objects.select_related("team", "fixed_user", "fixed_user__team")
    if lock:
        qs = qs.select_for_update(of=("self",))
    if rule_id is not None:
        rule = qs.filter(pk=rule_id).first()
        if rule is None:
            raise NotFound()
        return [rule]
    return list(qs.filter(is_active=True).order_by("priority", "id"))


def assignment_preview(*, actor: Actor, customer_ids: list[int],
                       rule_id: int | None = None) -> list[AssignmentDecision]:
    """What `assignment_apply` would decide now, without writing or moving any pointer."""
    if actor.user is not None and not (actor.access.can("assignment.manage")
                                       or actor.access.can("customer.assign")):
        raise PermissionDenied(details={"permission": "assignment.manage"})
    ids = _customer_ids(actor, customer_ids)
    decisions, _runs = decide(_rules(rule_id, lock=False), ids,
                              check_conditions=rule_id is None)
    return decisions


def assignment_apply(*, actor: Actor, customer_ids: list[int],
                     rule_id: int | None = None) -> list[AssignmentDecision]:
    """Assign these customers: with `rule_id` None the active rules in priority order, first
    match wins; with a rule id that rule. Every decision naming a rule is recorded and
    audited (`assignment.decided`); chosen owners are set through the customers services
    (`customer.field_changed`). The rules' pointers are locked until commit."""
    actor.require("customer.assign")
    ids = _customer_ids(actor, customer_ids)
    with transaction.atomic():
        rules = _rules(rule_id, lock=True)
        decisions, runs = decide(rules, ids, check_conditions=rule_id is None)
        made = [d for d in decisions if d.rule_id is not None]
        if not made:
            return decisions
        users = {u.pk: u for u in User.objects.select_related("team").filter(
            pk__in={d.user_id for d in made if d.user_id})}
        teams = {t.pk: t for t in Team.objects.filter(pk__in={d.team_id for d in made
                                                                  if d.team_id})}
        groups: dict[tuple[int, int | None], list[int]] = defaultdict(list)
        for d in made:
            if d.user_id is not None:
                groups[(d.user_id, d.team_id)].append(d.customer_id)
        for (user_id, team_id), group in groups.items():
            customer_services.customers_assign_owner(
                actor=actor, customer_ids=group, owner=users[user_id],
                team=teams.get(team_id) if team_id else None)
        for run in runs.values():
            if run.pointer != run.rule.last_user_id:
                run.rule.last_user_id = run.pointer
                run.rule.save(update_fields=["last_user"])
        names = dict(Customer.objects.filter(pk__in=[d.customer_id for d in made])
                     .values_list("pk", "name"))
        Assignment.objects.bulk_create([Assignment(
            customer_id=d.customer_id, rule_id=d.rule_id, rule_name=d.rule[:80],
            team_id=d.team_id, user_id=d.user_id, user_name=d.user[:150], method=d.method,
            reason=d.reason, open_items=d.open_items, explanation=d.explanation[:300],
            actor_label=actor.label[:200]) for d in made])
        record_changes_many(actor=actor, entries=[Change(
            action="assignment.decide", event="assignment.decided", object_type="customer",
            object_id=d.customer_id, object_repr=names.get(d.customer_id, ""),
            changes={"rule": d.rule, "rule_id": d.rule_id, "team": d.team, "user": d.user,
                     "user_id": d.user_id, "method": d.method, "reason": d.reason,
                     "open_items": d.open_items, "explanation": d.explanation})
            for d in made])
    return decisions


def assignment_auto(*, customer_id: int) -> list[AssignmentDecision]:
    """A new customer with no owner, assigned by the first active rule that matches (the
    `customer.created` subscriber); nothing happens when none matches."""
    if not AssignmentRule.objects.filter(is_active=True).exists():
        return []
    if not Customer.objects.filter(pk=customer_id, owner__isnull=True,
                                   status=Customer.STATUS_ACTIVE).exists():
        return []
    return assignment_apply(actor=Actor.system(via="system"), customer_ids=[customer_id])


# Leave ------------------------------------------------------------------------------------------

def user_leave_set(*, actor: Actor, user: User, leave_from, leave_until) -> User:
    """Mark a user on leave for a date range (either end open; both None: not on leave), so
    lead assignment passes them over. Managers may set it for the members of their teams."""
    actor.require("assignment.manage")
    access = actor.access
    if access is not None and access.scope != "all" and user.pk != access.user_id and (
            user.team_id not in access.team_ids):
        raise NotFound()
    if leave_from and leave_until and leave_until < leave_from:
        raise ValidationFailed(details={"leave_until": [
            _("The end of the leave cannot be before its start.")]})
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        before = {"leave_from": user.leave_from, "leave_until": user.leave_until}
        user.leave_from, user.leave_until = leave_from, leave_until
        user.save(update_fields=["leave_from", "leave_until"])
        record_change(actor=actor, action="user.leave", event="user.updated",
                      object_type="user", object_id=user.pk, object_repr=user.username,
                      changes=diff(before, {"leave_from": leave_from,
                                            "leave_until": leave_until}))
    return user


# Book transfer ----------------------------------------------------------------------------------

BOOK_TRANSFER_INLINE = 500
CHUNK = 500


def _transfer_check(actor: Actor, from_user: User, to_user: User) -> None:
    actor.require("customer.assign")
    actor.require("assignment.manage")
    errors: dict[str, list[str]] = {}
    if from_user.pk == to_user.pk:
        errors["to_user"] = [_("Choose someone else to receive the customers.")]
    if not to_user.is_active:
        errors["to_user"] = [_("This user is no longer active.")]
    access = actor.access
    if access is not None and access.scope != "all":
        for name, user in (("from_user", from_user), ("to_user", to_user)):
            if user.pk != access.user_id and user.team_id not in access.team_ids:
                errors.setdefault(name, []).append(
                    _("You can only assign customers to people in your teams."))
    if errors:
        raise ValidationFailed(details=errors)


def book_transfer_create(*, actor: Actor, from_user: User, to_user: User,
                         filters: str = "") -> BookTransfer:
    """Transfer the customers of `from_user` in the actor's scope that match `filters` (the
    customers list's query string; empty: all) and their open follow-ups to `to_user`: at
    once when at most BOOK_TRANSFER_INLINE customers, else as a background job."""
    from kehu.assignment.selectors import book_transfer_customer_ids
    from kehu.core.jobs import job_open

    if actor.user is None:
        raise PermissionDenied(details={"permission": "assignment.manage"})
    _transfer_check(actor, from_user, to_user)
    ids = book_transfer_customer_ids(user=actor.user, from_user=from_user, filters=filters)
    transfer = book_transfer_start(actor=actor, from_user=from_user, to_user=to_user,
                                   customer_ids=ids, filters=filters)
    if len(ids) <= BOOK_TRANSFER_INLINE:
        return book_transfer_run(actor=actor, transfer=transfer, customer_ids=ids)
    from kehu.assignment.tasks import book_transfer_task

    job = job_open(kind="book_transfer", label=str(transfer), user=actor.user, total=len(ids))
    BookTransfer.objects.filter(pk=transfer.pk).update(job=job)
    transfer.job = job
    transaction.on_commit(lambda: book_transfer_task(transfer.pk, ids))
    return transfer


def book_transfer_start(*, actor: Actor, from_user: User, to_user: User, customer_ids: list[int],
                        filters: str = "") -> BookTransfer:
    """Record (and audit) a transfer of these customers, chosen by the selector: owned by
    `from_user`, in the actor's scope, matching `filters`."""
    _transfer_check(actor, from_user, to_user)
    with transaction.atomic():
        transfer = BookTransfer.objects.create(
            from_user=from_user, to_user=to_user, filters=filters[:2000],
            expected=len(customer_ids), created_by=actor.user)
        record_change(actor=actor, action="book.transfer", event="book.transferred",
                      object_type="book_transfer", object_id=transfer.pk,
                      object_repr=str(transfer),
                      changes={"from_user": from_user.get_username(),
                               "to_user": to_user.get_username(), "filters": filters,
                               "customers": len(customer_ids)})
    return transfer


def book_transfer_run(*, actor: Actor, transfer: BookTransfer, customer_ids: list[int],
                      progress=None) -> BookTransfer:
    """Move the customers still owned by the transfer's first user, in chunks each committed
    on its own (a rerun after a crash continues: moved customers are no longer theirs),
    with their open follow-ups."""
    from kehu.interactions import services as interaction_services

    from_user, to_user = transfer.from_user, transfer.to_user
    _transfer_check(actor, from_user, to_user)
    BookTransfer.objects.filter(pk=transfer.pk).update(status=BookTransfer.RUNNING)
    ids = sorted(set(customer_ids))
    try:
        for start in range(0, len(ids), CHUNK):
            chunk = list(Customer.objects.filter(
                pk__in=ids[start:start + CHUNK], owner=from_user,
                status=Customer.STATUS_ACTIVE).values_list("pk", flat=True))
            with transaction.atomic():
                moved = tasks = 0
                if chunk:
                    moved = customer_services.customers_assign_owner(
                        actor=actor, customer_ids=chunk, owner=to_user, team=to_user.team)
                    tasks = interaction_services.follow_ups_reassign(
                        actor=actor, customer_ids=chunk, from_user=from_user, to_user=to_user)
                transfer.customers_moved += moved
                transfer.tasks_moved += tasks
                BookTransfer.objects.filter(pk=transfer.pk).update(
                    customers_moved=transfer.customers_moved, tasks_moved=transfer.tasks_moved)
            if progress is not None:
                progress(min(start + CHUNK, len(ids)), len(ids))
    except Exception:
        BookTransfer.objects.filter(pk=transfer.pk).update(status=BookTransfer.FAILED)
        raise
    transfer.status, transfer.finished_at = BookTransfer.DONE, timezone.now()
    BookTransfer.objects.filter(pk=transfer.pk).update(status=transfer.status,
                                                       finished_at=transfer.finished_at)
    return transfer
