"""Reads of lead assignment: rules, the customers a rule matches, the latest decision on a
card, team members with their load, and the customers a book transfer would move."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from kehu.accounts.models import User
from kehu.assignment.decide import explain
from kehu.assignment.models import Assignment, AssignmentRule, BookTransfer
from kehu.core.errors import NotFound
from kehu.core.workload import open_items
from kehu.customers.listing import filters_from_query
from kehu.customers.selectors import custom_field_list, customer_filtered_queryset


def assignment_rule_list(*, user) -> QuerySet[AssignmentRule]:
    """Every rule, in the order they are evaluated (needs assignment.manage)."""
    user.access.require("assignment.manage")
    return AssignmentRule.objects.select_related("team", "fixed_user").order_by("priority", "id")


def assignment_rule_get(*, user, rule_id: int) -> AssignmentRule:
    rule = assignment_rule_list(user=user).filter(pk=rule_id).first()
    if rule is None:
        raise NotFound()
    return rule


def rule_matching_ids(*, user, rule: AssignmentRule, limit: int = 5000) -> tuple[int, list[int]]:
    """How many customers in the user's scope the rule's condition matches, and the first
    `limit` ids (newest first)."""
    from kehu.assignment.decide import EMPTY_CONDITION
    from kehu.customers.selectors import customer_queryset
    from kehu.segments.selectors import definition_condition

    condition = definition_condition(user=user, definition=rule.condition or EMPTY_CONDITION)
    qs = customer_queryset(user=user).filter(condition)
    return qs.count(), list(qs.order_by("-pk").values_list("pk", flat=True)[:limit])


@dataclass(frozen=True)
class CardAssignment:
    """The latest decision about a customer, explained in the reader's language."""

    explanation: str
    decided_at: Any
    rule: str
    actor: str


def card_assignment(*, user, customer_id: int) -> CardAssignment | None:
    """The card's Assignment section (the caller has already opened the card)."""
    row = (Assignment.objects.filter(customer_id=customer_id).select_related("team")
           .order_by("-id").first())
    if row is None:
        return None
    text = explain(reason=row.reason, method=row.method, rule=row.rule_name,
                   team=row.team.name if row.team_id else "", user=row.user_name,
                   open_items=row.open_items)
    return CardAssignment(explanation=text, decided_at=row.decided_at, rule=row.rule_name,
                          actor=row.actor_label)


@dataclass(frozen=True)
class Member:
    user: User
    open_items: int
    on_leave: bool


def team_members(*, user) -> list[Member]:
    """The users in the caller's teams (everyone for an all-records scope), with their open
    items and whether they are on leave today."""
    user.access.require("assignment.manage")
    qs = User.objects.filter(is_active=True).select_related("team").order_by("team__name", "pk")
    access = user.access
    if access.scope != "all":
        qs = qs.filter(team_id__in=sorted(access.team_ids) or [-1]) | qs.filter(pk=user.pk)
    users = list(qs)
    loads = open_items(u.pk for u in users)
    today = timezone.localdate()
    return [Member(user=u, open_items=loads.get(u.pk, 0), on_leave=u.on_leave(today))
            for u in users]


def book_transfer_customer_ids(*, user, from_user: User, filters: str = "") -> list[int]:
    """The customers a transfer would move: owned by `from_user`, in the caller's scope,
    matching the customers list's filters (its query string)."""
    from django.http import QueryDict

    params = QueryDict(filters or "", mutable=True)
    params.pop("owner", None)
    found = filters_from_query(params, list(custom_field_list(user=user)))
    qs = customer_filtered_queryset(user=user, filters=found).filter(owner=from_user)
    return sorted(qs.values_list("pk", flat=True))


def book_transfer_task_count(*, from_user: User, customer_ids: list[int]) -> int:
    """Open follow-ups of these customers assigned to `from_user` (the preview's count)."""
    from kehu.interactions.selectors import open_follow_ups_for

    return open_follow_ups_for(assignee_id=from_user.pk, customer_ids=customer_ids)


def book_transfer_preview(*, user, from_user: User, filters: str = "") -> dict[str, int]:
    """What a transfer would move now: {"customers": N, "tasks": M}."""
    user.access.require("assignment.manage")
    ids = book_transfer_customer_ids(user=user, from_user=from_user, filters=filters)
    return {"customers": len(ids),
            "tasks": book_transfer_task_count(from_user=from_user, customer_ids=ids)}


def book_transfer_list(*, user, limit: int = 20) -> list[BookTransfer]:
    user.access.require("assignment.manage")
    qs = BookTransfer.objects.select_related("from_user", "to_user", "job").order_by("-id")
    if user.access.scope != "all":
        qs = qs.filter(created_by=user)
    return list(qs[:limit])
