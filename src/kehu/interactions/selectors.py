"""Reads of the behaviour layer, scoped by the acting user's AccessPolicy.

Every read goes through the customer it belongs to: only live customers count,
and a customer outside the user's scope looks exactly like one that does not exist.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core import labels
from kehu.core.errors import NotFound
from kehu.core.timeline import TimelineCursor, TimelineItem, timeline_sort_key
from kehu.customers.models import Customer
from kehu.customers.selectors import (
    customer_check_visible,
    customer_get_plain,
    rows_of_visible_customers,
)
from kehu.interactions.models import Event, FollowUpTask, Interaction

TIMELINE_KINDS = frozenset({"interaction", "event"})
EVENT_LABELS = dict(Event.TYPES)
# (customer, time) pairs per query of `_rows_at`: three parameters each, well under
# SQLite's 32,766.
_MOMENTS_PER_QUERY = 2000




# Recorded at given moments (imports) -------------------------------------------


def _rows_at(model, moments: Sequence[tuple[int, dt.datetime]], columns: Sequence[str]
             ) -> Iterator[tuple]:
    """(position in `moments`, *columns) of every row of `model` whose customer and time are
    one of the (customer id, time) `moments`.

    The pairs are joined as a VALUES list, so each costs one probe of the model's
    (customer, -occurred_at) index; `customer_id IN (…) AND occurred_at IN (…)` made SQLite
    probe every customer at every time of a chunk. Fixed parameterised SQL for both
    databases; names from `_meta`.
    """
    qn = connection.ops.quote_name
    table = qn(model._meta.db_table)
    customer = qn(model._meta.get_field("customer").column)
    at = qn(model._meta.get_field("occurred_at").column)
    selected = ", ".join(f"t.{qn(model._meta.get_field(name).column)}" for name in columns)
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        for start in range(0, len(moments), _MOMENTS_PER_QUERY):
            batch = moments[start:start + _MOMENTS_PER_QUERY]
            marks = ", ".join(["(%s, %s, %s)"] * len(batch))
            params = []
            for position, (customer_id, moment) in enumerate(batch, start):
                params += [customer_id, adapt(moment), position]
            cursor.execute(
                f"SELECT k.column3, {selected} FROM (VALUES {marks}) AS k "  # noqa: S608
                f"JOIN {table} AS t ON t.{customer} = k.column1 AND t.{at} = k.column2",
                params)
            yield from cursor.fetchall()


def interactions_recorded_at(*, moments: Sequence[tuple[int, dt.datetime]]
                             ) -> list[tuple[int, dt.datetime, str, str]]:
    """(customer id, time, kind, summary) of the interactions recorded for these customers
    at exactly these times, the time as given in `moments`: what an import compares its
    rows with. The customers were found in the importing user's scope by the caller."""
    return [(*moments[position][:2], kind, summary)
            for position, kind, summary in _rows_at(Interaction, moments, ("kind", "summary"))]


def events_recorded_at(*, moments: Sequence[tuple[int, dt.datetime]]
                       ) -> list[tuple[int, dt.datetime, str, str, dict]]:
    """(customer id, time, event type, source, properties) of the events recorded for these
    customers at exactly these times, as `interactions_recorded_at`."""
    properties = Event._meta.get_field("properties")
    return [(*moments[position][:2], event_type, source,
             properties.from_db_value(bag, None, connection))
            for position, event_type, source, bag in _rows_at(
                Event, moments, ("event_type", "source", "properties"))]


# Interactions ------------------------------------------------------------------


def interaction_list(
    user,
    customer_id: int,
    *,
    kinds: set[str] | None = None,
    before: dt.datetime | None = None,
) -> QuerySet[Interaction]:
    """One customer's interactions, newest first, with who logged each."""
    customer = customer_get(user, customer_id)
    interactions = Interaction.objects.filter(customer=customer).select_related("actor")
    if kinds:
        interactions = interactions.filter(kind__in=sorted(kinds))
    if before is not None:
        interactions = interactions.filter(occurred_at__lt=before)
    return interactions.order_by("-occurred_at", "-id")


def interaction_get(user, interaction_id: int) -> Interaction:
    interaction = (rows_of_visible_customers(user=user, queryset=Interaction.objects.all())
                   .select_related("actor", "customer").filter(pk=interaction_id).first())
    if interaction is None:
        raise NotFound()
    return interaction


# Events --------------------------------------------------------------------------


def event_list(
    user,
    customer_id: int,
    *,
    types: set[str] | list[str] | None = None,
    before: dt.datetime | None = None,
    before_id: int | None = None,
    since: dt.datetime | None = None,
    limit: int = 50,
) -> list[Event]:
    """A page of one customer's events, newest first.

    `before` (with `before_id` to break ties between events of the same instant)
    is the cursor: pass the last item's time and id to get the next page.
    """
    customer = customer_get(user, customer_id)
    events = Event.objects.filter(customer=customer)
    if types:
        events = events.filter(event_type__in=sorted(types))
    if since is not None:
        events = events.filter(occurred_at__gte=since)
    if before is not None:
        if before_id is not None:
            events = events.filter(Q(occurred_at__lt=before)
                                   | Q(occurred_at=before, id__lt=before_id))
        else:
            events = events.filter(occurred_at__lt=before)
    limit = max(1, min(int(limit), 1000))
    return list(events.order_by("-occurred_at", "-id")[:limit])


def event_label(event_type: str) -> str:
    label = EVENT_LABELS.get(event_type)
    return str(label) if label is not None else event_type


# Follow-ups ----------------------------------------------------------------------


def _follow_ups_visible(user) -> QuerySet[FollowUpTask]:
    """Tasks assigned to the user, plus those of customers in their scope."""
    user.access.require("customer.view")
    tasks = FollowUpTask.objects.filter(customer__status=Customer.STATUS_ACTIVE)
    if user.access.user_id is None:
        return tasks.none()
    scope = user.access.record_filter(owner_field="customer__owner", team_field="customer__team")
    if not scope:  # every record (Q(assignee) | Q() would narrow it to the user's own)
        return tasks
    return tasks.filter(Q(assignee_id=user.pk) | scope)


def follow_up_list(
    user,
    *,
    status: str | None = "open",
    due_before: dt.date | None = None,
    assignee_id: int | None = None,
    customer_id: int | None = None,
    mine: bool = False,
    search: str = "",
) -> QuerySet[FollowUpTask]:
    """Follow-ups the user may see, soonest first; `mine` keeps only theirs; `search` matches
    the title or the customer's name."""
    tasks = _follow_ups_visible(user).select_related("customer", "assignee")
    if mine:
        tasks = tasks.filter(assignee_id=user.pk)
    elif assignee_id is not None:
        tasks = tasks.filter(assignee_id=assignee_id)
    if status:
        tasks = tasks.filter(status=status)
    if due_before is not None:
        tasks = tasks.filter(due_date__lt=due_before)
    if customer_id is not None:
        tasks = tasks.filter(customer_id=customer_id)
    search = (search or "").strip()[:100]
    if search:
        tasks = tasks.filter(Q(title__icontains=search) | Q(customer__name__icontains=search))
    return tasks.order_by("due_date", "id")


def follow_up_get(user, task_id: int) -> FollowUpTask:
    task = (_follow_ups_visible(user).select_related("customer", "assignee")
            .filter(pk=task_id).first())
    if task is None:
        raise NotFound()
    return task


TASK_TABS = ("open", "today", "overdue", "upcoming", "done")


def follow_up_tab(user, *, tab: str = "open", mine: bool = True, assignee_id: int | None = None,
                  search: str = "", customer_id: int | None = None) -> QuerySet[FollowUpTask]:
    """The follow-ups of one "my tasks" tab: open (all open), today (due today), overdue,
    upcoming (due after today) or done (newest first); `search` matches the title or the
    customer's name."""
    if tab not in TASK_TABS:
        tab = "open"
    today = timezone.localdate()
    tasks = follow_up_list(user, status="done" if tab == "done" else "open", mine=mine,
                           assignee_id=assignee_id, customer_id=customer_id, search=search)
    if tab == "today":
        tasks = tasks.filter(due_date=today)
    elif tab == "overdue":
        tasks = tasks.filter(due_date__lt=today)
    elif tab == "upcoming":
        tasks = tasks.filter(due_date__gt=today)
    if tab == "done":
        return tasks.order_by("-done_at", "-id")
    return tasks


def follow_up_tab_counts(user, *, mine: bool = True, assignee_id: int | None = None,
                         search: str = "", customer_id: int | None = None) -> dict[str, int]:
    """How many follow-ups each tab holds (one query)."""
    from django.db.models import Count

    today = timezone.localdate()
    base = follow_up_list(user, status=None, mine=mine, assignee_id=assignee_id,
                          customer_id=customer_id, search=search).order_by()
    open_q = Q(status="open")
    counts = base.aggregate(
        open=Count("id", filter=open_q),
        today=Count("id", filter=open_q & Q(due_date=today)),
        overdue=Count("id", filter=open_q & Q(due_date__lt=today)),
        upcoming=Count("id", filter=open_q & Q(due_date__gt=today)),
        done=Count("id", filter=Q(status="done")),
    )
    return {key: counts[key] or 0 for key in TASK_TABS}


def follow_up_assignees(user):
    """The active users `user` may hand follow-ups to: anyone with `customer.assign`;
    otherwise themselves and the members of their team (and of the teams in their scope)."""
    from kehu.accounts.selectors import user_list

    users = user_list(user=user)
    if user.access.can("customer.assign"):
        return users
    teams = set(user.access.team_ids)
    if user.team_id:
        teams.add(user.team_id)
    return users.filter(Q(pk=user.pk) | Q(team_id__in=sorted(teams)))


def follow_up_assignee_choices(user) -> list:
    """Who the "my tasks" assignee filter offers: the active users (at most 500)."""
    from kehu.accounts.selectors import user_list

    return list(user_list(user=user)[:500])


def follow_up_may_assign_to(user, assignee) -> bool:
    return follow_up_assignees(user).filter(pk=assignee.pk).exists()


@dataclass(frozen=True)
class FollowUpAgenda:
    """A user's open follow-ups split the way the "My follow-ups" page shows them."""

    overdue: list[FollowUpTask]
    today: list[FollowUpTask]
    upcoming: list[FollowUpTask]
    date: dt.date


def follow_up_agenda(user, *, mine: bool = True, upcoming_days: int = 14,
                     assignee_id: int | None = None, search: str = "") -> FollowUpAgenda:
    """Open follow-ups: overdue, due today, and due in the next `upcoming_days` (one query)."""
    today = timezone.localdate()
    horizon = today + dt.timedelta(days=upcoming_days + 1)
    tasks = list(follow_up_tab(user, tab="open", mine=mine, assignee_id=assignee_id,
                               search=search).filter(due_date__lt=horizon))
    return FollowUpAgenda(
        overdue=[t for t in tasks if t.due_date < today],
        today=[t for t in tasks if t.due_date == today],
        upcoming=[t for t in tasks if t.due_date > today],
        date=today,
    )


def follow_up_digest_items(user, day: dt.date) -> list:
    """The daily digest's lines for `user`: their open follow-ups due on `day` or before
    (overdue first), soonest first."""
    from django.urls import reverse

    from kehu.notifications.digest import DigestItem

    if not user.access.can("customer.view"):
        return []
    tasks = (FollowUpTask.objects.filter(assignee_id=user.pk, status="open",
                                         due_date__lte=day,
                                         customer__status=Customer.STATUS_ACTIVE)
             .select_related("customer").order_by("due_date", "id")[:30])
    link = reverse("interactions:follow_ups")
    items = []
    for task in tasks:
        overdue = task.due_date < day
        note = (_("overdue since %s") % task.due_date.isoformat()) if overdue else _("due today")
        items.append(DigestItem(text=f"{task.title} · {task.customer.name}", link=link,
                                note=note, overdue=overdue))
    return items


# Timeline ------------------------------------------------------------------------


def _person(user) -> str:
    return str(user) if user is not None else ""


def interaction_timeline_item(interaction: Interaction) -> TimelineItem:
    """How one interaction reads on the card's timeline."""
    return TimelineItem(
        kind="interaction",
        at=interaction.occurred_at,
        title=f"{interaction.get_kind_display()} · {interaction.get_direction_display()}",
        body=interaction.summary,
        meta={
            "type": interaction.kind,
            "direction": interaction.direction,
            "channel": interaction.channel,
            "outcome": interaction.outcome,
            "by": _person(interaction.actor),
            "next_follow_up": interaction.next_follow_up.isoformat()
            if interaction.next_follow_up else None,
        },
        object_id=interaction.pk,
    )


_EVENT_SUMMARY_KEYS = ("title", "name", "product", "url", "path", "campaign", "query",
                       "subject", "form")


def _event_products(event: Event) -> list[str]:
    props = event.properties if isinstance(event.properties, dict) else {}
    product = props.get("product")
    return [product] if isinstance(product, str) and product else []


def event_timeline_item(event: Event, product_names: Mapping[str, str] | None = None
                        ) -> TimelineItem:
    """How one event reads on the timeline: its label and its most telling properties, each
    named in the reader's language (商品: the product's name, not its code)."""
    props = event.properties if isinstance(event.properties, dict) else {}
    names = product_names or {}
    shown = [f"{labels.choice_label('event.property', key)}: "
             f"{names.get(props[key], props[key]) if key == 'product' else props[key]}"
             for key in _EVENT_SUMMARY_KEYS if props.get(key)][:3]
    return TimelineItem(
        kind="event",
        at=event.occurred_at,
        title=event_label(event.event_type),
        body=" · ".join(str(part) for part in shown),
        meta={"type": event.event_type, "source": event.source, "properties": props},
        object_id=event.pk,
    )


def timeline_items(
    user,
    customer: Customer,
    *,
    kinds: set[str] | None = None,
    cursor: TimelineCursor | None = None,
    limit: int = 20,
    product_names: Callable[[set[str]], Mapping[str, str]] | None = None,
) -> list[TimelineItem]:
    """The newest `limit` interactions and events of a customer after `cursor`, newest first.

    One query per kind asked for (two at most), plus one for `product_names` (product code
    -> name, given by the caller that may read products) when events name products. The
    card merges this list with kehu.transactions.selectors.timeline_items and cuts the
    result to its limit.
    """
    customer_check_visible(user=user, customer=customer)
    wanted = TIMELINE_KINDS if kinds is None else TIMELINE_KINDS & set(kinds)
    limit = max(0, int(limit))
    if not wanted or limit == 0:
        return []
    items: list[TimelineItem] = []
    if "interaction" in wanted:
        interactions = Interaction.objects.filter(customer_id=customer.pk).select_related("actor")
        if cursor is not None:
            interactions = interactions.filter(cursor.older_q(kind="interaction", time_field="occurred_at"))
        items += [interaction_timeline_item(i)
                  for i in interactions.order_by("-occurred_at", "-id")[:limit]]
    if "event" in wanted:
        events = Event.objects.filter(customer_id=customer.pk)
        if cursor is not None:
            events = events.filter(cursor.older_q(kind="event", time_field="occurred_at"))
        events = list(events.order_by("-occurred_at", "-id")[:limit])
        codes = {code for event in events for code in _event_products(event)}
        names = product_names(codes) if codes and product_names is not None else {}
        items += [event_timeline_item(e, names) for e in events]
    items.sort(key=timeline_sort_key, reverse=True)
    return items[:limit]


def timeline_kind_labels() -> dict[str, str]:
    return {"interaction": _("Interactions"), "event": _("Events")}


def customer_get(user, customer_id: int) -> Customer:
    """The live customer if the user may see it, else NotFound (existence never revealed)."""
    return customer_get_plain(user=user, customer_id=customer_id)


def open_follow_ups_by_assignee(user_ids: list[int]) -> dict[int, int]:
    """Open follow-ups per assignee (a workload count for lead assignment; no scope: it
    counts work, it shows no task)."""
    from django.db.models import Count

    rows = (FollowUpTask.objects.filter(assignee_id__in=list(user_ids), status="open",
                                        customer__status="active")
            .values("assignee_id").annotate(n=Count("id")).values_list("assignee_id", "n"))
    return dict(rows)


def open_follow_ups_for(*, assignee_id: int, customer_ids: list[int]) -> int:
    """How many open follow-ups of these customers are assigned to one user (a book
    transfer's preview; the caller chose the customers within its scope)."""
    total = 0
    ids = list(customer_ids)
    for start in range(0, len(ids), 5000):
        total += FollowUpTask.objects.filter(assignee_id=assignee_id, status="open",
                                             customer_id__in=ids[start:start + 5000]).count()
    return total


def interaction_counts_by_actor(user, *, actor_ids: Sequence[int], since: dt.datetime,
                                until: dt.datetime) -> dict[int, int]:
    """Interactions each of these users logged in [since, until) on customers `user` may see
    (a team's follow-up activity for its manager)."""
    from django.db.models import Count

    rows = (rows_of_visible_customers(user=user, queryset=Interaction.objects.all())
            .filter(actor_id__in=list(actor_ids), occurred_at__gte=since, occurred_at__lt=until)
            .order_by().values("actor_id").annotate(n=Count("id")).values_list("actor_id", "n"))
    return dict(rows)
