"""Reads of the service desk, scoped by the acting user's AccessPolicy through the tickets'
customers (kehu.transactions.selectors.ticket_list): queues, the ticket workspace, complaints,
surveys; and the configuration (policies, calendars) for those who may configure it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from kehu.core.errors import NotFound
from kehu.service.models import (
    CLOCK_LABELS,
    CLOCKS,
    BusinessCalendar,
    CalendarDay,
    Complaint,
    SatisfactionSurvey,
    SLAPolicy,
    TicketSLA,
)
from kehu.transactions import selectors as tickets
from kehu.transactions.models import Ticket, TicketMessage, TicketStatusChange

QUEUES = ("mine", "team", "unassigned", "breaching", "breached", "open", "all")
OPEN = ("open", "in_progress", "waiting_customer")
SOON = dt.timedelta(hours=4)


def ticket_queue(user, *, queue: str = "mine", search: str = "", status: str = "",
                 priority: str = "", kind: str = "", now: dt.datetime | None = None
                 ) -> QuerySet[Ticket]:
    """A queue of tickets the user may see: mine (assigned to me, not done), team (assigned
    to my team), unassigned, breaching (a running clock past its warning, or due within four
    hours, most urgent first), breached (a clock missed or running past due), open, all.
    Merged duplicates are left out of the work queues."""
    now = now or timezone.now()
    rows = tickets.ticket_list(user, search=search).select_related("sla", "complaint")
    if queue != "all":
        rows = rows.filter(merged_into__isnull=True)
    if queue in ("mine", "team", "unassigned", "breaching", "breached", "open"):
        rows = rows.filter(status__in=OPEN)
    if queue == "mine":
        rows = rows.filter(assignee_id=user.pk)
    elif queue == "team":
        team_id = getattr(user, "team_id", None)
        rows = rows.filter(assignee__team_id=team_id) if team_id else rows.none()
    elif queue == "unassigned":
        rows = rows.filter(assignee__isnull=True)
    elif queue == "breaching":
        rows = rows.filter(Q(sla__attention_at__lte=now) | Q(sla__due_at__lte=now + SOON))
    elif queue == "breached":
        rows = rows.filter(breached_q(now))
    if status:
        rows = rows.filter(status=status)
    if priority:
        rows = rows.filter(priority=priority)
    if kind:
        rows = rows.filter(kind=kind)
    if queue in ("breaching", "breached"):
        return rows.order_by("sla__due_at", "pk")
    return rows.order_by("-opened_at", "-id")


def breached_q(now: dt.datetime, prefix: str = "sla__") -> Q:
    """A ticket's SLA is breached: a clock was missed, or a running one is past due."""
    return (Q(**{f"{prefix}first_response_breached": True})
            | Q(**{f"{prefix}next_response_breached": True})
            | Q(**{f"{prefix}resolution_breached": True}) | Q(**{f"{prefix}due_at__lte": now}))


def queue_counts(user, *, now: dt.datetime | None = None) -> dict[str, int]:
    return {q: ticket_queue(user, queue=q, now=now).count()
            for q in ("mine", "team", "unassigned", "breaching", "breached")}


@dataclass(frozen=True)
class ClockView:
    """One SLA clock as the workspace and the API show it."""

    clock: str
    label: str
    target_seconds: int | None
    elapsed_seconds: int
    started_at: dt.datetime | None
    stopped_at: dt.datetime | None
    due_at: dt.datetime | None
    breached: bool
    state: str  # none | running | warning | breached | paused | met | missed | waiting

    @property
    def percent(self) -> int | None:
        if not self.target_seconds:
            return None
        return min(999, self.elapsed_seconds * 100 // self.target_seconds)


def clocks_of(sla: TicketSLA | None, *, now: dt.datetime | None = None) -> list[ClockView]:
    now = now or timezone.now()
    if sla is None:
        return []
    labels = dict(CLOCK_LABELS)
    out = []
    for clock in CLOCKS:
        target = getattr(sla, f"{clock}_target")
        started = getattr(sla, f"{clock}_started_at")
        stopped = getattr(sla, f"{clock}_stopped_at")
        due = getattr(sla, f"{clock}_due_at")
        warn = getattr(sla, f"{clock}_warn_at")
        breached = getattr(sla, f"{clock}_breached") or (due is not None and due <= now)
        if target is None:
            state = "none"
        elif started is None:
            state = "waiting"
        elif stopped is not None:
            state = "missed" if breached else "met"
        elif due is None:
            state = "breached" if breached else "paused"
        elif due <= now:
            state = "breached"
        elif warn is not None and warn <= now:
            state = "warning"
        else:
            state = "running"
        out.append(ClockView(clock=clock, label=str(labels[clock]), target_seconds=target,
                             elapsed_seconds=getattr(sla, f"{clock}_elapsed"),
                             started_at=started, stopped_at=stopped, due_at=due,
                             breached=bool(breached), state=state))
    return out


def ticket_get(user, ticket_id: int) -> Ticket:
    """One ticket the user may see (NotFound otherwise), with its clocks and complaint."""
    ticket = tickets.ticket_list(user).select_related("sla", "sla__policy", "merged_into").filter(
        pk=ticket_id).first()
    if ticket is None:
        raise NotFound()
    return ticket


def ticket_sla(ticket: Ticket) -> TicketSLA | None:
    try:
        return ticket.sla
    except TicketSLA.DoesNotExist:
        return None


def ticket_complaint(ticket: Ticket) -> Complaint | None:
    try:
        return ticket.complaint
    except Complaint.DoesNotExist:
        return None


def ticket_messages(user, ticket: Ticket, *, include_notes: bool = True) -> list[TicketMessage]:
    """The ticket's thread, oldest first; internal notes only for those working tickets."""
    rows = TicketMessage.objects.filter(ticket=ticket).select_related("author", "moved_from")
    if not include_notes or not user.access.can("ticket.manage"):
        rows = rows.exclude(kind=TicketMessage.NOTE)
    return list(rows.order_by("at", "id"))


def ticket_history(ticket: Ticket) -> list[TicketStatusChange]:
    return list(TicketStatusChange.objects.filter(ticket=ticket).select_related("by")
                .order_by("at", "id"))


def ticket_surveys(ticket: Ticket) -> list[SatisfactionSurvey]:
    return list(SatisfactionSurvey.objects.filter(ticket=ticket).order_by("-sent_at", "-id"))


def ticket_duplicates(ticket: Ticket) -> list[Ticket]:
    return list(Ticket.objects.filter(merged_into=ticket).order_by("pk"))


def merge_candidates(user, ticket: Ticket) -> QuerySet[Ticket]:
    """Other unmerged tickets of the same customer, the ones a duplicate may go into."""
    return (tickets.ticket_list(user, customer_id=ticket.customer_id)
            .filter(merged_into__isnull=True).exclude(pk=ticket.pk).order_by("-opened_at"))


def ticket_by_number(user, number: str) -> Ticket:
    ticket = tickets.ticket_list(user).filter(number=(number or "").strip()).first()
    if ticket is None:
        raise NotFound()
    return ticket


# Complaints and surveys -----------------------------------------------------------------------


def complaint_list(user, *, category: str = "", severity: str = "", open_only: bool = False,
                   customer_id: int | None = None) -> QuerySet[Complaint]:
    visible = tickets.ticket_list(user, customer_id=customer_id).values("pk")
    rows = Complaint.objects.filter(ticket_id__in=visible).select_related(
        "ticket", "ticket__customer", "ticket__assignee", "routed_to")
    if category:
        rows = rows.filter(category=category)
    if severity:
        rows = rows.filter(severity=severity)
    if open_only:
        rows = rows.filter(ticket__status__in=OPEN)
    return rows.order_by("-ticket__opened_at", "-ticket_id")


def complaint_get(user, ticket_id: int) -> Complaint:
    complaint = complaint_list(user).filter(ticket_id=ticket_id).first()
    if complaint is None:
        raise NotFound()
    return complaint


def survey_list(user, *, ticket_id: int | None = None, answered: bool | None = None
                ) -> QuerySet[SatisfactionSurvey]:
    visible = tickets.ticket_list(user).values("pk")
    rows = SatisfactionSurvey.objects.filter(ticket_id__in=visible).select_related("ticket")
    if ticket_id is not None:
        rows = rows.filter(ticket_id=ticket_id)
    if answered is not None:
        rows = rows.filter(answered_at__isnull=not answered)
    return rows.order_by("-sent_at", "-id")


# Configuration --------------------------------------------------------------------------------


def policy_list(user) -> QuerySet[SLAPolicy]:
    """Every signed-in user who sees tickets may read the policies (the targets they work to)."""
    user.access.require("customer.view")
    return SLAPolicy.objects.select_related("calendar").order_by("position", "id")


def policy_get(user, policy_id: int) -> SLAPolicy:
    policy = policy_list(user).filter(pk=policy_id).first()
    if policy is None:
        raise NotFound()
    return policy


def calendar_list(user) -> QuerySet[BusinessCalendar]:
    user.access.require("customer.view")
    return BusinessCalendar.objects.order_by("-is_default", "name")


def calendar_get(user, calendar_id: int) -> BusinessCalendar:
    calendar = calendar_list(user).filter(pk=calendar_id).first()
    if calendar is None:
        raise NotFound()
    return calendar


def calendar_days(calendar: BusinessCalendar, *, year: int | None = None
                  ) -> QuerySet[CalendarDay]:
    rows = CalendarDay.objects.filter(calendar=calendar)
    if year is not None:
        rows = rows.filter(date__year=year)
    return rows.order_by("date")


def calendar_years(calendar: BusinessCalendar) -> list[dict[str, Any]]:
    """Per year: holidays, make-up days, whether any day is provisional."""
    years: dict[int, dict[str, Any]] = {}
    for date, kind, provisional in CalendarDay.objects.filter(calendar=calendar).values_list(
            "date", "kind", "provisional"):
        entry = years.setdefault(date.year, {"year": date.year, "holidays": 0, "workdays": 0,
                                             "provisional": False})
        entry["holidays" if kind == CalendarDay.HOLIDAY else "workdays"] += 1
        entry["provisional"] = entry["provisional"] or provisional
    return [years[y] for y in sorted(years)]


# The service board ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceStats:
    """The service board's figures over the tickets the user may see (merged duplicates left
    out): the queues now, and for the period [start, end] tickets opened and resolved, SLA
    breaches among those opened, and satisfaction (CSAT: share of ratings 4 or 5) of those
    resolved. `days` holds the same per day, for the trend."""

    open: int
    unassigned: int
    breaching: int
    breached: int
    opened: int
    resolved: int
    with_sla: int
    breached_in_period: int
    ratings: int
    average_rating: float | None
    csat: float | None  # percent
    days: list[dict[str, Any]]
    by_agent: list[dict[str, Any]]


def _day_bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    tz = timezone.get_current_timezone()
    return (dt.datetime.combine(start, dt.time.min, tzinfo=tz),
            dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=tz))


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def service_stats(user, *, start: dt.date, end: dt.date,
                  now: dt.datetime | None = None) -> ServiceStats:
    from django.db.models import Avg, Count, Sum
    from django.db.models.functions import TruncDate

    now = now or timezone.now()
    since, until = _day_bounds(start, end)
    tz = timezone.get_current_timezone()
    counts = queue_counts(user, now=now)
    base = tickets.ticket_list(user).filter(merged_into__isnull=True).order_by()
    opened = base.filter(opened_at__gte=since, opened_at__lt=until)
    resolved = base.filter(resolved_at__gte=since, resolved_at__lt=until)
    head = opened.aggregate(n=Count("pk"), with_sla=Count("sla"),
                            breached=Count("pk", filter=breached_q(now)))
    rated = resolved.filter(satisfaction__isnull=False)
    rating = rated.aggregate(n=Count("pk"), avg=Avg("satisfaction"),
                             good=Count("pk", filter=Q(satisfaction__gte=4)))
    days: dict[dt.date, dict[str, Any]] = {}

    def day(value: dt.date) -> dict[str, Any]:
        return days.setdefault(value, {"day": value, "opened": 0, "resolved": 0, "breached": 0,
                                       "ratings": 0, "good": 0, "rating_sum": 0})

    for row in (opened.annotate(d=TruncDate("opened_at", tzinfo=tz)).values("d")
                .annotate(n=Count("pk"), b=Count("pk", filter=breached_q(now)))):
        entry = day(row["d"])
        entry["opened"], entry["breached"] = row["n"], row["b"]
    for row in resolved.annotate(d=TruncDate("resolved_at", tzinfo=tz)).values("d").annotate(
            n=Count("pk"), r=Count("satisfaction"),
            good=Count("pk", filter=Q(satisfaction__gte=4)),
            total=Sum("satisfaction")):
        entry = day(row["d"])
        entry.update(resolved=row["n"], ratings=row["r"], good=row["good"],
                     rating_sum=row["total"] or 0)
    open_rows = base.filter(status__in=OPEN)
    agents = (open_rows.values("assignee_id", "assignee__username", "assignee__display_name")
              .annotate(n=Count("pk"), b=Count("pk", filter=breached_q(now)))
              .order_by("-n", "assignee__username"))
    by_agent = [{"assignee_id": row["assignee_id"],
                 "name": row["assignee__display_name"] or row["assignee__username"] or "",
                 "open": row["n"], "breached": row["b"]} for row in agents[:20]]
    return ServiceStats(
        open=ticket_queue(user, queue="open", now=now).count(), unassigned=counts["unassigned"],
        breaching=counts["breaching"], breached=counts["breached"], opened=head["n"],
        resolved=resolved.count(), with_sla=head["with_sla"],
        breached_in_period=head["breached"], ratings=rating["n"],
        average_rating=None if rating["avg"] is None else round(float(rating["avg"]), 2),
        csat=_percent(rating["good"], rating["n"]),
        days=[days[d] for d in sorted(days)], by_agent=by_agent)
