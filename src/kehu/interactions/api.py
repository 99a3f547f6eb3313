"""API: interactions, follow-ups and batch event ingestion. Thin: schemas in, services and
selectors, schemas out; domain errors become {"code","message","details"} upstream."""

import datetime as dt
from typing import Any, Literal

from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from kehu.accounts import selectors as accounts
from kehu.core.errors import ValidationFailed
from kehu.core.http import ERROR_RESPONSES, actor_of
from kehu.core.schemas import MAX_ID, Day, Days, Flag, Id, Input, Limit, Moment, Page
from kehu.interactions import selectors, services
from kehu.interactions.models import Interaction

router = Router(tags=["interactions"])

InteractionKind = Literal[tuple(code for code, _label in Interaction.KINDS)]  # type: ignore
Direction = Literal[tuple(code for code, _label in Interaction.DIRECTIONS)]  # type: ignore


class InteractionIn(Input):
    kind: InteractionKind
    summary: str = Field(..., min_length=1, max_length=10000)
    direction: Direction = "outbound"
    occurred_at: Moment | None = None
    channel: str = Field("", max_length=30)
    outcome: str = Field("", max_length=200)
    next_follow_up: Day | None = None


class InteractionOut(Schema):
    id: int
    customer_id: int
    kind: str
    direction: str
    occurred_at: dt.datetime
    channel: str
    summary: str
    outcome: str
    next_follow_up: dt.date | None
    by: str | None = None
    created_at: dt.datetime

    @staticmethod
    def resolve_by(interaction):
        return interaction.actor.username if interaction.actor_id else None


class FollowUpOut(Schema):
    id: int
    customer_id: int
    customer_name: str
    interaction_id: int | None
    assignee: str | None
    title: str
    due_date: dt.date
    status: str
    done_at: dt.datetime | None

    @staticmethod
    def resolve_customer_name(task):
        return task.customer.name

    @staticmethod
    def resolve_assignee(task):
        return task.assignee.username if task.assignee_id else None


class FollowUpIn(Input):
    customer_id: Id
    title: str = Field(..., min_length=1, max_length=200)
    due_date: Day
    assignee: str | None = Field(None, description="Username; default the customer's owner.")


class RescheduleIn(Input):
    due_date: Day


class EventBatchIn(Input):
    events: list[dict[str, Any]] = Field(
        ..., description="Each: customer_id or identifier {kind, value[, system]}, event_type, "
                         "occurred_at (ISO 8601 with offset), properties, source.")
    skip_invalid: Flag = Field(False, description="Store the valid items and report the rest "
                                                  "instead of rejecting the whole batch.")


class RejectedItem(Schema):
    index: int
    errors: dict[str, list[str]]


class EventBatchOut(Schema):
    accepted: int
    rejected: list[RejectedItem]


class EventOut(Schema):
    id: int
    event_type: str
    occurred_at: dt.datetime
    properties: dict[str, Any]
    source: str
    received_at: dt.datetime


class EventPage(Schema):
    items: list[EventOut]
    next_cursor: str | None


class EventFilters(Schema):
    type: list[str] = Field(default_factory=list, description="Event types; repeat to OR.")
    since: Moment | None = None
    before: Moment | None = None
    cursor: str | None = Field(None, description="next_cursor of the previous page.")
    limit: Limit = 50


def _cursor(event) -> str:
    return f"{event.occurred_at.isoformat()}~{event.pk}"


def _parse_cursor(cursor: str) -> tuple[dt.datetime, int]:
    at, sep, pk = cursor.rpartition("~")
    try:
        parsed = parse_datetime(at) if sep else None
    except ValueError:  # well formed but not a real moment (month 13, year 0 …)
        parsed = None
    number = int(pk) if pk.isascii() and pk.isdigit() else 0
    if parsed is None or not 1 <= number <= MAX_ID:
        raise ValidationFailed(details={"cursor": [_("This cursor is not valid.")]})
    return parsed, number


@router.post("/customers/{customer_id}/interactions",
             response={201: InteractionOut, **ERROR_RESPONSES}, summary="Log an interaction")
def log_interaction(request, customer_id: Id, payload: InteractionIn):
    customer = selectors.customer_get(request.user, customer_id)
    interaction = services.interaction_log(actor=actor_of(request), customer=customer,
                                           **payload.dict())
    return Status(201, interaction)


@router.get("/customers/{customer_id}/interactions", response=list[InteractionOut],
            summary="A customer's interactions, newest first")
@paginate(Page)
def list_interactions(request, customer_id: Id, kind: str | None = None):
    return selectors.interaction_list(request.user, customer_id,
                                      kinds={kind} if kind else None)


@router.get("/interactions/{interaction_id}", response={200: InteractionOut, **ERROR_RESPONSES},
            summary="One interaction")
def get_interaction(request, interaction_id: Id):
    return selectors.interaction_get(request.user, interaction_id)


class FollowUpFilters(Schema):
    tab: Literal["open", "today", "overdue", "upcoming", "done"] | None = Field(
        None, description="My tasks' tabs: due today, overdue, upcoming (open ones) or done "
                          "(newest first); overrides status.")
    assignee_id: Id | None = Field(None, description="Someone else's tasks (with mine=false).")
    q: str = Field("", max_length=100, description="Text in the title or the customer's name.")


@router.get("/follow-ups", response=list[FollowUpOut], summary="Follow-ups, soonest first")
@paginate(Page)
def list_follow_ups(request, filters: Query[FollowUpFilters],
                    status: Literal["open", "done", "cancelled", "all"] = "open",
                    due_before: Day | None = None, mine: Flag = True,
                    customer_id: Id | None = None):
    assignee_id = None if mine else filters.assignee_id
    if filters.tab is not None:
        tasks = selectors.follow_up_tab(request.user, tab=filters.tab, mine=mine,
                                        assignee_id=assignee_id, search=filters.q,
                                        customer_id=customer_id)
        return tasks.filter(due_date__lt=due_before) if due_before is not None else tasks
    return selectors.follow_up_list(request.user, status=None if status == "all" else status,
                                    due_before=due_before, mine=mine, customer_id=customer_id,
                                    assignee_id=assignee_id, search=filters.q)


@router.post("/follow-ups", response={201: FollowUpOut, **ERROR_RESPONSES},
             summary="Create a follow-up")
def create_follow_up(request, payload: FollowUpIn):
    customer = selectors.customer_get(request.user, payload.customer_id)
    assignee = None
    if payload.assignee:
        assignee = accounts.user_list(user=request.user).filter(
            username=payload.assignee).first()
        if assignee is None:
            raise ValidationFailed(details={"assignee": [_("No such active user.")]})
    task = services.follow_up_create(actor=actor_of(request), customer=customer,
                                     title=payload.title, due_date=payload.due_date,
                                     assignee=assignee)
    return Status(201, selectors.follow_up_get(request.user, task.pk))


@router.post("/follow-ups/{task_id}/complete", response={200: FollowUpOut, **ERROR_RESPONSES},
             summary="Mark a follow-up done")
def complete_follow_up(request, task_id: Id):
    task = selectors.follow_up_get(request.user, task_id)
    services.follow_up_complete(actor=actor_of(request), task=task)
    return selectors.follow_up_get(request.user, task_id)


@router.post("/follow-ups/{task_id}/reschedule", response={200: FollowUpOut, **ERROR_RESPONSES},
             summary="Move a follow-up to another day")
def reschedule_follow_up(request, task_id: Id, payload: RescheduleIn):
    task = selectors.follow_up_get(request.user, task_id)
    services.follow_up_reschedule(actor=actor_of(request), task=task, due_date=payload.due_date)
    return selectors.follow_up_get(request.user, task_id)


class SnoozeIn(Input):
    days: Days | None = Field(
        None, description="Put off by this many days from today (1, 3, 7 …).")
    until: Day | None = Field(None, description="Or to this day (today or later).")


class ReassignIn(Input):
    assignee: str | None = Field(None, max_length=150, description="Username of the new assignee.")
    assignee_id: Id | None = Field(None, description="Or the user's id.")


@router.post("/follow-ups/{task_id}/snooze", response={200: FollowUpOut, **ERROR_RESPONSES},
             summary="Snooze a follow-up (by days or to a day)")
def snooze_follow_up(request, task_id: Id, payload: SnoozeIn):
    task = selectors.follow_up_get(request.user, task_id)
    services.follow_up_snooze(actor=actor_of(request), task=task, days=payload.days,
                              until=payload.until)
    return selectors.follow_up_get(request.user, task_id)


@router.post("/follow-ups/{task_id}/reassign", response={200: FollowUpOut, **ERROR_RESPONSES},
             summary="Hand a follow-up to another user")
def reassign_follow_up(request, task_id: Id, payload: ReassignIn):
    if (payload.assignee is None) == (payload.assignee_id is None):
        raise ValidationFailed(details={"assignee": [_("Give assignee or assignee_id.")]})
    task = selectors.follow_up_get(request.user, task_id)
    users = accounts.user_list(user=request.user)
    assignee = (users.filter(username=payload.assignee) if payload.assignee is not None
                else users.filter(pk=payload.assignee_id)).first()
    if assignee is None:
        raise ValidationFailed(details={"assignee": [_("No such active user.")]})
    services.follow_up_reassign(actor=actor_of(request), task=task, assignee=assignee)
    return selectors.follow_up_get(request.user, task_id)


@router.post("/events/batch", response={200: EventBatchOut, **ERROR_RESPONSES},
             summary="Ingest a batch of events (all or nothing unless skip_invalid)")
def ingest_events(request, payload: EventBatchIn):
    result = services.event_ingest(actor=actor_of(request), events=payload.events,
                                   skip_invalid=payload.skip_invalid)
    return {"accepted": result.accepted, "rejected": result.rejected}


@router.get("/customers/{customer_id}/events", response={200: EventPage, **ERROR_RESPONSES},
            summary="A customer's events, newest first, one page per cursor")
def list_events(request, customer_id: Id, filters: Query[EventFilters]):
    before, before_id = filters.before, None
    if filters.cursor:
        before, before_id = _parse_cursor(filters.cursor)
    events = selectors.event_list(request.user, customer_id, types=filters.type or None,
                                  since=filters.since, before=before, before_id=before_id,
                                  limit=filters.limit + 1)
    page = events[:filters.limit]
    next_cursor = _cursor(page[-1]) if len(events) > filters.limit else None
    return {"items": page, "next_cursor": next_cursor}
