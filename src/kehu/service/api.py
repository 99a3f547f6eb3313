"""API of the service desk: queues, ticket workspace actions (messages, merge, escalation),
SLA clocks and policies, business calendars, satisfaction surveys (and the public answer
endpoint), complaints. Thin: schemas in, services and selectors, schemas out; every read is
scoped by the caller's record scope through the tickets' customers."""


import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal

from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from kehu.core.http import ERROR_RESPONSES, ErrorOut, actor_of
from kehu.core.schemas import ClockTime, Day, Flag, Id, Input, Page, Position, Rating
from kehu.service import selectors
from kehu.service.models import CalendarDay, Complaint
from kehu.service.services import calendars, complaints, sla, surveys
from kehu.transactions import selectors as ticket_selectors
from kehu.transactions import ticket_services
from kehu.transactions.api import TicketHeadOut, TicketKind, TicketOut, TicketPriority
from kehu.transactions.models import TicketMessage

router = Router(tags=["service"])


def _codes(choices):
    return Literal[tuple(code for code, _label in choices)]  # type: ignore[valid-type]


Queue = Literal["mine", "team", "unassigned", "breaching", "breached", "open", "all"]
Category = _codes(Complaint.CATEGORIES)
Severity = _codes(Complaint.SEVERITIES)
MessageKind = _codes(TicketMessage.KINDS)
Channel = _codes(TicketMessage.CHANNELS + [("", "")])


# Schemas -------------------------------------------------------------------------------------


class ClockOut(Schema):
    clock: str
    label: str
    target_seconds: int | None
    elapsed_seconds: int
    started_at: dt.datetime | None
    stopped_at: dt.datetime | None
    due_at: dt.datetime | None
    breached: bool
    state: str


class SLAOut(Schema):
    policy_id: int | None
    policy: str | None
    paused: bool
    due_at: dt.datetime | None
    clocks: list[ClockOut]


def _sla_out(ticket) -> SLAOut | None:
    row = selectors.ticket_sla(ticket)
    if row is None:
        return None
    return SLAOut(policy_id=row.policy_id, policy=row.policy.name if row.policy_id else None,
                  paused=row.paused, due_at=row.due_at,
                  clocks=[ClockOut(**vars(c)) for c in selectors.clocks_of(row)])


class QueueTicketOut(TicketHeadOut):
    sla_due_at: dt.datetime | None
    sla_paused: bool

    @staticmethod
    def resolve_sla_due_at(ticket):
        row = selectors.ticket_sla(ticket)
        return row.due_at if row else None

    @staticmethod
    def resolve_sla_paused(ticket):
        row = selectors.ticket_sla(ticket)
        return bool(row and row.paused)


class MessageOut(Schema):
    id: int
    kind: str
    channel: str
    body: str
    author: str | None
    at: dt.datetime
    moved_from: str | None

    @staticmethod
    def resolve_author(message):
        return message.author.username if message.author_id else None

    @staticmethod
    def resolve_moved_from(message):
        return message.moved_from.number if message.moved_from_id else None


class SurveyOut(Schema):
    id: int
    ticket_id: int
    channel: str
    sent_at: dt.datetime
    expires_at: dt.datetime
    answered_at: dt.datetime | None
    rating: int | None
    nps: int | None
    comment: str
    by_agent: bool
    delivery_error: str


class SentSurveyOut(SurveyOut):
    url: str = Field(..., description="The public link (single use, expires).")


class ComplaintOut(Schema):
    ticket_id: int
    number: str
    customer_id: int
    category: str
    severity: str
    root_cause: str
    corrective_action: str
    routed_to: str | None
    status: str

    @staticmethod
    def resolve_number(complaint):
        return complaint.ticket.number

    @staticmethod
    def resolve_customer_id(complaint):
        return complaint.ticket.customer_id

    @staticmethod
    def resolve_status(complaint):
        return complaint.ticket.status

    @staticmethod
    def resolve_routed_to(complaint):
        return complaint.routed_to.username if complaint.routed_to_id else None


class TicketDetailOut(TicketOut):
    sla: SLAOut | None
    complaint: ComplaintOut | None
    messages: list[MessageOut]
    surveys: list[SurveyOut]

    @staticmethod
    def resolve_sla(ticket):
        return _sla_out(ticket)

    @staticmethod
    def resolve_complaint(ticket):
        return selectors.ticket_complaint(ticket)

    @staticmethod
    def resolve_messages(ticket, context):
        return selectors.ticket_messages(context["request"].user, ticket)

    @staticmethod
    def resolve_surveys(ticket):
        return selectors.ticket_surveys(ticket)


def _detail(request, ticket_id: int):
    """The ticket TicketDetailOut reads (its SLA, complaint, thread and surveys resolved there)."""
    return selectors.ticket_get(request.user, ticket_id)


# Queues and tickets ---------------------------------------------------------------------------


class QueueFilters(Schema):
    queue: Queue = "mine"
    search: str = Field("", max_length=100)
    priority: TicketPriority | None = None
    kind: TicketKind | None = None


@router.get("/service/queue", response=list[QueueTicketOut],
            summary="A ticket queue: mine, team, unassigned, breaching (soonest due first), "
                    "breached, open, all")
@paginate(Page)
def list_queue(request, filters: Query[QueueFilters]):
    return selectors.ticket_queue(request.user, queue=filters.queue, search=filters.search,
                                  priority=filters.priority or "", kind=filters.kind or "")


@router.get("/service/tickets/{ticket_id}", response={200: TicketDetailOut, **ERROR_RESPONSES},
            summary="A ticket with its SLA clocks, complaint, thread and surveys")
def get_ticket(request, ticket_id: Id):
    return _detail(request, ticket_id)


@router.get("/service/tickets/{ticket_id}/sla", response={200: SLAOut | None,
                                                           **ERROR_RESPONSES},
            summary="A ticket's SLA clocks")
def get_ticket_sla(request, ticket_id: Id):
    return _sla_out(selectors.ticket_get(request.user, ticket_id))


class MessageIn(Input):
    kind: MessageKind = Field(..., description="reply (to the customer), customer (the "
                                               "customer's message), note (internal)")
    body: str = Field(..., min_length=1, max_length=20000)
    channel: Channel = ""


@router.post("/service/tickets/{ticket_id}/messages",
             response={201: MessageOut, **ERROR_RESPONSES},
             summary="Add a reply, a customer message or an internal note")
def add_message(request, ticket_id: Id, payload: MessageIn):
    ticket = selectors.ticket_get(request.user, ticket_id)
    message = ticket_services.ticket_message_add(actor=actor_of(request), ticket=ticket,
                                                 kind=payload.kind, body=payload.body,
                                                 channel=payload.channel)
    return Status(201, message)


class TicketMergeIn(Input):
    into_id: Id


@router.post("/service/tickets/{ticket_id}/merge",
             response={200: TicketDetailOut, **ERROR_RESPONSES},
             summary="Merge this duplicate into another ticket of the same customer")
def merge_ticket(request, ticket_id: Id, payload: TicketMergeIn):
    duplicate = selectors.ticket_get(request.user, ticket_id)
    into = selectors.ticket_get(request.user, payload.into_id)
    ticket_services.ticket_merge(actor=actor_of(request), duplicate=duplicate, into=into)
    return _detail(request, ticket_id)


@router.post("/service/tickets/{ticket_id}/unmerge",
             response={200: TicketDetailOut, **ERROR_RESPONSES}, summary="Undo a merge")
def unmerge_ticket(request, ticket_id: Id):
    duplicate = selectors.ticket_get(request.user, ticket_id)
    ticket_services.ticket_unmerge(actor=actor_of(request), duplicate=duplicate)
    return _detail(request, ticket_id)


class EscalateIn(Input):
    reason: str = Field(..., min_length=1, max_length=500)


@router.post("/service/tickets/{ticket_id}/escalate",
             response={200: TicketDetailOut, **ERROR_RESPONSES},
             summary="Raise the priority one step, saying why")
def escalate_ticket(request, ticket_id: Id, payload: EscalateIn):
    ticket = selectors.ticket_get(request.user, ticket_id)
    ticket_services.ticket_escalate(actor=actor_of(request), ticket=ticket,
                                    reason=payload.reason)
    return _detail(request, ticket_id)


# Surveys --------------------------------------------------------------------------------------


class SurveySendIn(Input):
    channel: Literal["email", "sms", "link"]


@router.post("/service/tickets/{ticket_id}/surveys",
             response={201: SentSurveyOut, **ERROR_RESPONSES},
             summary="Send the satisfaction survey of a resolved ticket (or make a link)")
def send_survey(request, ticket_id: Id, payload: SurveySendIn):
    ticket = selectors.ticket_get(request.user, ticket_id)
    survey = surveys.survey_send(actor=actor_of(request), ticket=ticket,
                                 channel=payload.channel)
    out = SentSurveyOut(**SurveyOut.from_orm(survey).dict(), url=surveys.survey_url(survey))
    return Status(201, out)


class PhoneRatingIn(Input):
    rating: Rating
    nps: int | None = Field(None, ge=0, le=10)
    comment: str = Field("", max_length=2000)


@router.post("/service/tickets/{ticket_id}/phone-rating",
             response={201: SurveyOut, **ERROR_RESPONSES},
             summary="Record what the customer said on the phone (marked as entered by the "
                     "agent)")
def phone_rating(request, ticket_id: Id, payload: PhoneRatingIn):
    ticket = selectors.ticket_get(request.user, ticket_id)
    return Status(201, surveys.survey_record_by_agent(actor=actor_of(request), ticket=ticket,
                                                      **payload.dict()))


class SurveyFilters(Schema):
    ticket_id: Id | None = None
    answered: Flag | None = None


@router.get("/service/surveys", response=list[SurveyOut], summary="Satisfaction surveys")
@paginate(Page)
def list_surveys(request, filters: Query[SurveyFilters]):
    return selectors.survey_list(request.user, ticket_id=filters.ticket_id,
                                 answered=filters.answered)


class PublicSurveyOut(Schema):
    ticket_number: str
    subject: str
    expires_at: dt.datetime


class SurveyAnswerIn(Input):
    rating: Rating
    nps: int | None = Field(None, ge=0, le=10)
    comment: str = Field("", max_length=2000)


@router.get("/service/public/surveys/{token}", auth=None,
            response={200: PublicSurveyOut, **ERROR_RESPONSES, 410: ErrorOut},
            summary="The survey a public link names (no sign-in)")
def public_survey(request, token: str):
    survey = surveys.survey_from_token(token)
    return PublicSurveyOut(ticket_number=survey.ticket.number, subject=survey.ticket.subject,
                           expires_at=survey.expires_at)


@router.post("/service/public/surveys/{token}", auth=None,
             response={200: dict, **ERROR_RESPONSES, 410: ErrorOut},
             summary="Answer a survey (no sign-in; once, before it expires)")
def answer_public_survey(request, token: str, payload: SurveyAnswerIn):
    surveys.survey_answer(token=token, **payload.dict())
    return {"answered": True}


# Complaints -----------------------------------------------------------------------------------


class ComplaintFilters(Schema):
    category: Category | None = None
    severity: Severity | None = None
    open_only: Flag = False
    customer_id: Id | None = None


@router.get("/service/complaints", response=list[ComplaintOut], summary="Complaints")
@paginate(Page)
def list_complaints(request, filters: Query[ComplaintFilters]):
    return selectors.complaint_list(request.user, category=filters.category or "",
                                    severity=filters.severity or "",
                                    open_only=filters.open_only, customer_id=filters.customer_id)


@router.get("/service/complaints/{ticket_id}", response={200: ComplaintOut, **ERROR_RESPONSES},
            summary="One complaint")
def get_complaint(request, ticket_id: Id):
    return selectors.complaint_get(request.user, ticket_id)


class ComplaintIn(Input):
    customer_id: Id
    subject: str = Field(..., min_length=1, max_length=200)
    category: Category
    severity: Severity = "medium"
    description: str = Field("", max_length=20000)
    priority: TicketPriority = "normal"


@router.post("/service/complaints", response={201: ComplaintOut, **ERROR_RESPONSES},
             summary="Open a complaint ticket with its category and severity")
def open_complaint(request, payload: ComplaintIn):
    customer = ticket_selectors.customer_get(request.user, payload.customer_id)
    data = payload.dict()
    data.pop("customer_id")
    complaint = complaints.complaint_open(actor=actor_of(request), customer=customer, **data)
    return Status(201, selectors.complaint_get(request.user, complaint.ticket_id))


class ComplaintRecordIn(Input):
    category: Category
    severity: Severity = "medium"


@router.post("/service/tickets/{ticket_id}/complaint",
             response={201: ComplaintOut, **ERROR_RESPONSES},
             summary="Record the complaint details of an existing complaint ticket")
def record_complaint(request, ticket_id: Id, payload: ComplaintRecordIn):
    ticket = selectors.ticket_get(request.user, ticket_id)
    complaints.complaint_record(actor=actor_of(request), ticket=ticket, **payload.dict())
    return Status(201, selectors.complaint_get(request.user, ticket_id))


class ComplaintPatch(Input):
    category: Category | None = None
    severity: Severity | None = None
    root_cause: str | None = Field(None, max_length=20000)
    corrective_action: str | None = Field(None, max_length=20000)


@router.patch("/service/complaints/{ticket_id}", response={200: ComplaintOut,
                                                           **ERROR_RESPONSES},
              summary="Change a complaint; root cause and corrective action are required "
                      "before it closes")
def update_complaint(request, ticket_id: Id, payload: ComplaintPatch):
    complaint = selectors.complaint_get(request.user, ticket_id)
    fields = {"category": complaint.category, "severity": complaint.severity,
              "root_cause": complaint.root_cause,
              "corrective_action": complaint.corrective_action}
    fields.update({k: v for k, v in payload.dict(exclude_unset=True).items() if v is not None})
    complaints.complaint_update(actor=actor_of(request), ticket=complaint.ticket, **fields)
    return selectors.complaint_get(request.user, ticket_id)


# SLA policies ---------------------------------------------------------------------------------


Hours = Field(None, gt=0, le=99999, max_digits=7, decimal_places=2)


class SlaPolicyOut(Schema):
    id: int
    name: str
    is_active: bool
    position: int
    priority: str
    kind: str
    customer_tier: str
    calendar_id: int | None
    first_response_hours: Decimal | None
    next_response_hours: Decimal | None
    resolution_hours: Decimal | None
    pause_statuses: list[str]
    warn_percent: int


class SlaPolicyIn(Input):
    name: str = Field(..., min_length=1, max_length=100)
    is_active: Flag = True
    position: Position = 100
    priority: str = Field("", max_length=8)
    kind: str = Field("", max_length=16)
    customer_tier: str = Field("", max_length=12)
    calendar_id: Id | None = None
    first_response_hours: Decimal | None = Hours
    next_response_hours: Decimal | None = Hours
    resolution_hours: Decimal | None = Hours
    pause_statuses: list[str] = Field(["waiting_customer"], max_length=5)
    warn_percent: int = Field(80, ge=1, le=99)


class PolicyPatch(Input):
    name: str | None = Field(None, min_length=1, max_length=100)
    is_active: Flag | None = None
    position: Position | None = None
    priority: str | None = Field(None, max_length=8)
    kind: str | None = Field(None, max_length=16)
    customer_tier: str | None = Field(None, max_length=12)
    calendar_id: Id | None = None
    first_response_hours: Decimal | None = Hours
    next_response_hours: Decimal | None = Hours
    resolution_hours: Decimal | None = Hours
    pause_statuses: list[str] | None = Field(None, max_length=5)
    warn_percent: int | None = Field(None, ge=1, le=99)


def _policy_data(data: dict) -> dict:
    if "calendar_id" in data:
        data["calendar"] = data.pop("calendar_id")
    return data


@router.get("/service/sla-policies", response=list[SlaPolicyOut], summary="SLA policies")
def list_policies(request):
    return list(selectors.policy_list(request.user))


@router.get("/service/sla-policies/{policy_id}", response={200: SlaPolicyOut, **ERROR_RESPONSES},
            summary="One SLA policy")
def get_policy(request, policy_id: Id):
    return selectors.policy_get(request.user, policy_id)


@router.post("/service/sla-policies", response={201: SlaPolicyOut, **ERROR_RESPONSES},
             summary="Add an SLA policy (every ticket's clocks are recomputed)")
def create_policy(request, payload: SlaPolicyIn):
    return Status(201, sla.sla_policy_create(actor=actor_of(request),
                                             **_policy_data(payload.dict())))


@router.patch("/service/sla-policies/{policy_id}", response={200: SlaPolicyOut, **ERROR_RESPONSES},
              summary="Change an SLA policy (past tickets' clocks are recomputed)")
def update_policy(request, policy_id: Id, payload: PolicyPatch):
    policy = selectors.policy_get(request.user, policy_id)
    data = _policy_data(payload.dict(exclude_unset=True))
    return sla.sla_policy_update(actor=actor_of(request), policy=policy, **data)


@router.delete("/service/sla-policies/{policy_id}", response={204: None, **ERROR_RESPONSES},
               summary="Remove an SLA policy")
def delete_policy(request, policy_id: Id):
    policy = selectors.policy_get(request.user, policy_id)
    sla.sla_policy_delete(actor=actor_of(request), policy=policy)
    return Status(204, None)


# Business calendars ---------------------------------------------------------------------------


class CalendarDayOut(Schema):
    date: dt.date
    kind: str
    name: str
    source: str
    provisional: bool


class CalendarOut(Schema):
    id: int
    name: str
    time_zone: str
    workdays: list[int]
    day_start: ClockTime
    lunch_start: ClockTime | None
    lunch_end: ClockTime | None
    day_end: ClockTime
    is_default: bool


class CalendarPatch(Input):
    name: str | None = Field(None, min_length=1, max_length=80)
    time_zone: str | None = Field(None, max_length=40)
    workdays: list[Annotated[int, Field(ge=0, le=6)]] | None = Field(None, max_length=7)
    day_start: ClockTime | None = None
    lunch_start: ClockTime | None = None
    lunch_end: ClockTime | None = None
    day_end: ClockTime | None = None
    is_default: Flag | None = None


class CalendarDayIn(Input):
    kind: _codes(CalendarDay.KINDS)  # type: ignore[valid-type]
    name: str = Field("", max_length=80)


@router.get("/service/calendars", response=list[CalendarOut], summary="Business calendars")
def list_calendars(request):
    return list(selectors.calendar_list(request.user))


@router.get("/service/calendars/{calendar_id}/days", response={200: list[CalendarDayOut],
                                                                **ERROR_RESPONSES},
            summary="A calendar's holidays and make-up working days")
def list_calendar_days(request, calendar_id: Id, year: int | None = Query(None, ge=1990,
                                                                          le=2100)):
    calendar = selectors.calendar_get(request.user, calendar_id)
    return list(selectors.calendar_days(calendar, year=year))


@router.patch("/service/calendars/{calendar_id}", response={200: CalendarOut,
                                                            **ERROR_RESPONSES},
              summary="Change a calendar's working hours or week")
def update_calendar(request, calendar_id: Id, payload: CalendarPatch):
    calendar = selectors.calendar_get(request.user, calendar_id)
    fields = {"name": calendar.name, "time_zone": calendar.time_zone,
              "workdays": calendar.workdays, "day_start": calendar.day_start,
              "lunch_start": calendar.lunch_start, "lunch_end": calendar.lunch_end,
              "day_end": calendar.day_end, "is_default": None}
    fields.update(payload.dict(exclude_unset=True))
    return calendars.calendar_update(actor=actor_of(request), calendar=calendar, **fields)


@router.put("/service/calendars/{calendar_id}/days/{day}",
            response={200: CalendarDayOut, **ERROR_RESPONSES},
            summary="Make a date a public holiday or a make-up working day")
def set_calendar_day(request, calendar_id: Id, day: Day, payload: CalendarDayIn):
    calendar = selectors.calendar_get(request.user, calendar_id)
    return calendars.calendar_day_set(actor=actor_of(request), calendar=calendar, date=day,
                                      kind=payload.kind, name=payload.name)


@router.delete("/service/calendars/{calendar_id}/days/{day}",
               response={204: None, **ERROR_RESPONSES},
               summary="Make a date an ordinary day of the week again")
def remove_calendar_day(request, calendar_id: Id, day: Day):
    calendar = selectors.calendar_get(request.user, calendar_id)
    calendars.calendar_day_remove(actor=actor_of(request), calendar=calendar, date=day)
    return Status(204, None)


class LoadIn(Input):
    years: list[Annotated[int, Field(ge=1990, le=2100)]] = Field(..., min_length=1,
                                                                 max_length=10)


@router.post("/service/calendars/{calendar_id}/load-prc",
             response={200: dict, **ERROR_RESPONSES},
             summary="Replace those years' days with the bundled PRC holidays")
def load_prc(request, calendar_id: Id, payload: LoadIn):
    calendar = selectors.calendar_get(request.user, calendar_id)
    written = calendars.calendar_load_prc(actor=actor_of(request), calendar=calendar,
                                          years=payload.years)
    return {"written": written}


@router.post("/service/sla/recompute", response={202: dict, **ERROR_RESPONSES},
             summary="Recompute every ticket's SLA clocks in the background")
def recompute(request):
    actor = actor_of(request)
    actor.require("service.configure")
    sla.sla_recompute_later(actor)
    return Status(202, {"queued": True})
