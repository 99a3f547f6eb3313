"""How assignment rules decide, as docs/assignment.md states it: which rule matches a customer,
which members are eligible, and who receives each customer (round robin, least open items,
fixed user). Reads only; `services` writes what is decided here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from kehu.accounts.models import User
from kehu.assignment.models import (
    ASSIGNED,
    FIXED,
    FIXED_UNAVAILABLE,
    LEAST_LOADED,
    NO_ELIGIBLE,
    NO_MEMBERS,
    NO_RULE_MATCHED,
    AssignmentRule,
)
from kehu.core.errors import ValidationFailed
from kehu.core.workload import open_items
from kehu.customers.models import Customer
from kehu.segments.compiler import compile_tree, context_for
from kehu.segments.definition import Catalogue, validate

log = logging.getLogger(__name__)

EMPTY_CONDITION = {"type": "group", "match": "all", "conditions": []}


@dataclass(frozen=True)
class AssignmentDecision:
    """What a rule decided for one customer: the rule, the team, the user (or none, and why
    in `reason`), the receiver's open items when counted, and the explanation for people."""

    customer_id: int
    rule_id: int | None
    rule: str
    team_id: int | None
    team: str
    user_id: int | None
    user: str
    method: str
    reason: str
    open_items: int | None
    explanation: str

    @property
    def assigned(self) -> bool:
        return self.user_id is not None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def explain(*, reason: str, method: str, rule: str, team: str = "", user: str = "",
            open_items: int | None = None) -> str:
    """The sentence the card shows, in the active language."""
    names = {"rule": rule, "team": team or "—", "user": user, "n": open_items or 0}
    if reason == NO_RULE_MATCHED:
        return _("No assignment rule matched.")
    if reason == NO_MEMBERS:
        return _("Not assigned under rule %(rule)s: team %(team)s has no active member.") % names
    if reason == NO_ELIGIBLE:
        return _("Not assigned under rule %(rule)s: every member of team %(team)s is on leave "
                 "or at capacity.") % names
    if reason == FIXED_UNAVAILABLE:
        return _("Not assigned under rule %(rule)s: %(user)s is inactive, on leave or at "
                 "capacity.") % names
    if method == LEAST_LOADED:
        return _("Assigned to %(user)s, who had the fewest open items (%(n)d), under rule "
                 "%(rule)s.") % names
    if method == FIXED:
        return _("Assigned to %(user)s (fixed user) under rule %(rule)s.") % names
    return _("Assigned to %(user)s by round robin under rule %(rule)s.") % names


def stored_explanation(**kwargs) -> str:
    """The explanation in the site's language, as stored with a decision."""
    with translation.override(settings.LANGUAGE_CODE):
        return explain(**kwargs)


def condition_validate(condition: Any, *, access=None) -> dict[str, Any]:
    """A rule's condition normalised (an empty one matches everyone)."""
    if condition in (None, {}, ""):
        condition = EMPTY_CONDITION
    return validate(condition, access=access)


def matching_ids(rule: AssignmentRule, customer_ids: Iterable[int],
                 catalogue: Catalogue | None = None) -> set[int]:
    """Which of these customers the rule's condition matches (a condition no longer valid,
    e.g. naming a retired custom field, matches nobody and is logged)."""
    ids = list(customer_ids)
    if not ids:
        return set()
    catalogue = catalogue or Catalogue.load()
    try:
        tree = validate(rule.condition or EMPTY_CONDITION, catalogue=catalogue)
    except ValidationFailed as exc:
        log.warning("assignment rule %s has an invalid condition: %s", rule.pk, exc.details)
        return set()
    condition = compile_tree(tree, fields=catalogue.fields, ctx=context_for(None))
    return set(Customer.objects.filter(pk__in=ids).filter(condition)
               .values_list("pk", flat=True).distinct())


def members_of(rule: AssignmentRule) -> list[User]:
    """The users who may receive the rule's customers, by id: the team's active members,
    or the fixed user."""
    if rule.method == FIXED:
        return [rule.fixed_user] if rule.fixed_user_id and rule.fixed_user.is_active else []
    if not rule.team_id:
        return []
    return list(User.objects.filter(team_id=rule.team_id, is_active=True).order_by("pk"))


def _next_after(candidates: list[User], pointer: int | None) -> User:
    """Round robin: the first candidate after the pointer's id, else the first (wrap)."""
    if pointer is not None:
        for user in candidates:
            if user.pk > pointer:
                return user
    return candidates[0]


class RuleRun:
    """One rule deciding for a list of customers, moving its pointer in memory."""

    def __init__(self, rule: AssignmentRule, day):
        self.rule = rule
        self.pointer = rule.last_user_id
        self.members = members_of(rule)
        counted = rule.method == LEAST_LOADED or rule.capacity is not None
        self.loads = open_items(u.pk for u in self.members) if counted else {}
        self.eligible = [u for u in self.members if not u.on_leave(day) and (
            rule.capacity is None or self.loads.get(u.pk, 0) < rule.capacity)]
        if rule.method == FIXED:
            self.team = rule.team if rule.team_id else (
                rule.fixed_user.team if rule.fixed_user_id else None)
        else:
            self.team = rule.team

    def decide(self, customer_id: int) -> AssignmentDecision:
        rule, receiver = self.rule, None
        if not self.members:
            reason = FIXED_UNAVAILABLE if rule.method == FIXED else NO_MEMBERS
        elif not self.eligible:
            reason = FIXED_UNAVAILABLE if rule.method == FIXED else NO_ELIGIBLE
        else:
            reason = ASSIGNED
            candidates = self.eligible
            if rule.method == LEAST_LOADED:
                least = min(self.loads.get(u.pk, 0) for u in candidates)
                candidates = [u for u in candidates if self.loads.get(u.pk, 0) == least]
            receiver = _next_after(candidates, self.pointer)
            self.pointer = receiver.pk
        named = receiver or (rule.fixed_user if rule.method == FIXED and rule.fixed_user_id
                             else None)
        load = self.loads.get(receiver.pk, 0) if receiver is not None and self.loads else None
        words = {"reason": reason, "method": rule.method, "rule": rule.name,
                 "team": self.team.name if self.team else "",
                 "user": str(named) if named else "", "open_items": load}
        return AssignmentDecision(
            customer_id=customer_id, rule_id=rule.pk, rule=rule.name,
            team_id=self.team.pk if self.team else None, team=words["team"],
            user_id=receiver.pk if receiver else None, user=str(receiver) if receiver else "",
            method=rule.method, reason=reason, open_items=load,
            explanation=stored_explanation(**words))


def no_match(customer_id: int) -> AssignmentDecision:
    return AssignmentDecision(
        customer_id=customer_id, rule_id=None, rule="", team_id=None, team="", user_id=None,
        user="", method="", reason=NO_RULE_MATCHED, open_items=None,
        explanation=stored_explanation(reason=NO_RULE_MATCHED, method="", rule=""))


def decide(rules: list[AssignmentRule], customer_ids: list[int], *, check_conditions: bool,
           day=None) -> tuple[list[AssignmentDecision], dict[int, RuleRun]]:
    """The decision for each customer (ascending id) and the runs of the rules that decided
    (their pointers moved in memory). `rules` in priority order."""
    day = day or timezone.localdate()
    remaining = sorted(set(customer_ids))
    chosen: dict[int, AssignmentRule] = {}
    catalogue = Catalogue.load() if check_conditions else None
    for rule in rules:
        if not remaining:
            break
        hits = matching_ids(rule, remaining, catalogue) if check_conditions else set(remaining)
        for customer_id in hits:
            chosen[customer_id] = rule
        remaining = [i for i in remaining if i not in hits]
    runs: dict[int, RuleRun] = {}
    decisions = []
    for customer_id in sorted(set(customer_ids)):
        rule = chosen.get(customer_id)
        if rule is None:
            decisions.append(no_match(customer_id))
            continue
        run = runs.get(rule.pk)
        if run is None:
            run = runs[rule.pk] = RuleRun(rule, day)
        decisions.append(run.decide(customer_id))
    return decisions, runs
