"""Reads of the daily summaries and of the people a board reports on, in the viewer's scope.

A summary row carries the customer's owner and team, so it is restricted exactly as the
customers themselves are (AccessPolicy.restrict): a sales rep reads the rows of their own
book, a manager those of their team(s), an administrator all.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.urls import reverse

from kehu.accounts.models import Team, User
from kehu.customers.models import Customer
from kehu.dashboards.models import (
    DailyCustomerSummary,
    DailyInteractionSummary,
    DailyOrderSummary,
    ProfileSummary,
)
from kehu.dashboards.periods import Period
from kehu.scoring.selectors import stages_at_or_after

# Lifecycle stages a customer has reached once it became a customer (a churned customer was
# one): the funnel's own ranking, read from the current stage as the summaries are keyed.
CONVERTED_STAGES = stages_at_or_after("customer")
MAX_PEOPLE = 200  # rows of people a board lists at most


def _scoped(user, model) -> QuerySet:
    user.access.require("customer.view")
    return user.access.restrict(model.objects.all(), owner_field="owner", team_field="team")


def _in(queryset: QuerySet, period: Period) -> QuerySet:
    return queryset.filter(day__gte=period.start, day__lte=period.end)


def customer_summary(user, period: Period) -> QuerySet[DailyCustomerSummary]:
    """New customers (by created day) in the period, in the user's scope."""
    return _in(_scoped(user, DailyCustomerSummary), period)


def order_summary(user, period: Period) -> QuerySet[DailyOrderSummary]:
    """Purchase orders (by order day) in the period, of customers in the user's scope."""
    return _in(_scoped(user, DailyOrderSummary), period)


def interaction_summary(user, period: Period) -> QuerySet[DailyInteractionSummary]:
    """Interactions (by day) in the period, with customers in the user's scope."""
    return _in(_scoped(user, DailyInteractionSummary), period)


def profile_summary(user) -> QuerySet[ProfileSummary]:
    """Today's portrait counts (owner × team × value tier × feature × value) of the customers
    in the user's scope."""
    return _scoped(user, ProfileSummary)


def people(user) -> list[User]:
    """The people a board has a row for: the viewer, and in a wider scope the active users of
    the teams in it (team scope) or everyone who owns customers or belongs to a team (all)."""
    access = user.access
    everyone = User.objects.filter(is_active=True)
    if access.scope == "all":
        everyone = everyone.filter(Q(pk=user.pk) | Q(team__isnull=False) | Exists(
            Customer.objects.filter(owner_id=OuterRef("pk"))))
    elif access.scope == "team":
        everyone = everyone.filter(Q(pk=user.pk) | Q(team_id__in=sorted(access.team_ids)))
    else:
        everyone = everyone.filter(pk=user.pk)
    return list(everyone.select_related("team").order_by("username")[:MAX_PEOPLE])


def teams(user) -> list[Team]:
    access = user.access
    rows = Team.objects.order_by("name")
    if access.scope == "all":
        return list(rows)
    if access.scope == "team":
        return list(rows.filter(pk__in=sorted(access.team_ids)))
    return list(rows.filter(pk=user.team_id)) if user.team_id else []


def person_name(person) -> str:
    return str(getattr(person, "display_name", "") or person.get_full_name() or person.username)


def customers_url(period: Period | None = None, **filters) -> str:
    """The customers list filtered by `filters` (and created in the period when given)."""
    query = {key: value for key, value in filters.items() if value not in (None, "")}
    if period is not None:
        query["created_from"] = period.start.isoformat()
        query["created_to"] = period.end.isoformat()
    return f"{reverse('customers:list')}?{urlencode(query)}"
