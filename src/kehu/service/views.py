"""Pages of the service desk: queues, the ticket workspace, complaints, and the public survey.

Thin: forms in, services do the work, selectors read; htmx requests get partials.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.accounts import selectors as accounts
from kehu.core.actor import Actor
from kehu.core.errors import DomainError, NotFound
from kehu.core.pages import requires, show_errors
from kehu.service import selectors
from kehu.service.forms import (
    ComplaintForm,
    ComplaintOpenForm,
    EscalateForm,
    MergeForm,
    MessageForm,
    PhoneRatingForm,
    PublicSurveyForm,
    QueueFilterForm,
    SurveySendForm,
    TicketWorkForm,
)
from kehu.service.services import complaints, surveys
from kehu.transactions import selectors as transactions
from kehu.transactions import ticket_services

PAGE_SIZE = 50
QUEUE_LABELS = {"mine": _("Mine"), "team": _("My team"), "unassigned": _("Unassigned"),
                "breaching": _("Breaching soon"), "breached": _("SLA breached"),
                "open": _("All open"), "all": _("All")}


def _found(read, *args, **kwargs):
    try:
        return read(*args, **kwargs)
    except NotFound as exc:
        raise Http404 from exc


@requires("customer.view")
def queue(request):
    """The ticket queues: mine, my team's, unassigned, breaching soon, all open, all."""
    name = request.GET.get("queue", "mine")
    if name not in selectors.QUEUES:
        name = "mine"
    form = QueueFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    rows = selectors.ticket_queue(request.user, queue=name, search=data.get("q", ""),
                                  priority=data.get("priority", ""), kind=data.get("kind", ""))
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    context = {
        "form": form, "page": page, "queue": name, "now": now,
        "rows": [(t, selectors.clocks_of(selectors.ticket_sla(t), now=now)) for t in page],
        "queues": [(q, QUEUE_LABELS[q]) for q in selectors.QUEUES],
        "counts": selectors.queue_counts(request.user, now=now),
        "query": request.GET.urlencode(),
        # The service board (kehu.dashboards, key "service") is embedded for those who work
        # tickets; its page checks the same permission.
        "can_board": request.user.access.can("ticket.manage"),
    }
    template = "service/_queue_results.html" if request.htmx else "service/queue.html"
    return render(request, template, context)


@require_POST
@requires("ticket.manage")
def ticket_quick(request):
    """One click from the caller lookup (the card it lands on): a ticket for this call."""
    raw = request.POST.get("customer", "")
    if not raw.isdigit():
        raise Http404
    customer = _found(transactions.customer_get, request.user, int(raw))
    now = timezone.localtime()
    try:
        ticket = ticket_services.ticket_open(
            actor=Actor.from_request(request), customer=customer,
            kind=request.POST.get("kind") or "service_request",
            subject=_("Phone call %s") % now.strftime("%Y-%m-%d %H:%M"))
    except NotFound as exc:
        raise Http404 from exc
    except DomainError as exc:
        messages.error(request, str(exc.message))
        return redirect("cards:card", customer.pk)
    messages.success(request, _("Ticket %s opened; write down what the caller needs.")
                     % ticket.number)
    return redirect("service:ticket", ticket_id=ticket.pk)


def _users(request):
    return accounts.user_list(user=request.user)


def _allowed(ticket) -> list[str]:
    return [ticket.status, *sorted(ticket_services.TICKET_TRANSITIONS.get(ticket.status, ()))]


def _forms(request, ticket, action):
    posted = request.POST if request.method == "POST" else None

    def data(name):
        return posted if action == name else None

    complaint = selectors.ticket_complaint(ticket)
    return {
        "work": TicketWorkForm(data("work"), users=_users(request), allowed=_allowed(ticket),
                               initial={"subject": ticket.subject, "status": ticket.status,
                                        "priority": ticket.priority,
                                        "assignee": ticket.assignee,
                                        "resolution": ticket.resolution}),
        "message": MessageForm(data("message")),
        "complaint": ComplaintForm(data("complaint"), initial={
            "category": complaint.category, "severity": complaint.severity,
            "root_cause": complaint.root_cause,
            "corrective_action": complaint.corrective_action} if complaint else None),
        "survey": SurveySendForm(data("survey")),
        "phone_rating": PhoneRatingForm(data("phone_rating")),
        "merge": MergeForm(data("merge"), candidates=selectors.merge_candidates(
            request.user, ticket)),
        "escalate": EscalateForm(data("escalate")),
    }


def _act(request, ticket, action, form):
    actor = Actor.from_request(request)
    data = form.cleaned_data if form is not None else {}
    if action == "work":
        ticket_services.ticket_update(actor=actor, ticket=ticket, **data)
        return _("Ticket saved.")
    if action == "message":
        ticket_services.ticket_message_add(actor=actor, ticket=ticket, kind=data["kind"],
                                           body=data["body"], channel=data["channel"])
        return _("Internal note added.") if data["kind"] == "note" else _("Message added.")
    if action == "complaint":
        if selectors.ticket_complaint(ticket) is None:
            complaints.complaint_record(actor=actor, ticket=ticket, category=data["category"],
                                        severity=data["severity"])
            if data["root_cause"] or data["corrective_action"]:
                complaints.complaint_update(actor=actor, ticket=ticket, **data)
        else:
            complaints.complaint_update(actor=actor, ticket=ticket, **data)
        return _("Complaint saved.")
    if action == "survey":
        survey = surveys.survey_send(actor=actor, ticket=ticket, channel=data["channel"])
        if survey.channel == "link":
            return _("Survey link ready: copy it from the survey panel.")
        return _("Survey sent.")
    if action == "phone_rating":
        surveys.survey_record_by_agent(actor=actor, ticket=ticket, **data)
        return _("Rating recorded as entered by you on the phone.")
    if action == "merge":
        ticket_services.ticket_merge(actor=actor, duplicate=ticket, into=data["into"])
        return _("Ticket merged into %s.") % data["into"].number
    if action == "unmerge":
        ticket_services.ticket_unmerge(actor=actor, duplicate=ticket)
        return _("Merge undone.")
    if action == "escalate":
        ticket_services.ticket_escalate(actor=actor, ticket=ticket, reason=data["reason"])
        return _("Ticket escalated.")
    raise Http404


@requires("customer.view")
def ticket(request, ticket_id: int):
    """The ticket workspace: facts, SLA clocks, the thread (replies and internal notes), and
    the forms that work it."""
    current = _found(selectors.ticket_get, request.user, ticket_id)
    can_manage = request.user.access.can("ticket.manage")
    action = request.POST.get("action", "") if request.method == "POST" else ""
    forms = _forms(request, current, action) if can_manage else {}
    if request.method == "POST":
        if not can_manage:
            raise Http404
        form = forms.get(action)
        if form is None and action != "unmerge":
            raise Http404
        if form is None or form.is_valid():
            try:
                message = _act(request, current, action, form)
            except NotFound as exc:
                raise Http404 from exc
            except DomainError as exc:
                if form is not None:
                    show_errors(form, exc)
                else:
                    messages.error(request, str(exc.message))
            else:
                messages.success(request, message)
                return redirect("service:ticket", ticket_id=current.pk)
    sla = selectors.ticket_sla(current)
    survey_list = selectors.ticket_surveys(current)
    live = next((s for s in survey_list if s.answered_at is None
                 and s.expires_at > timezone.now() and s.channel != "phone"), None)
    return render(request, "service/ticket.html", {
        "ticket": current, "sla": sla, "clocks": selectors.clocks_of(sla),
        "thread": selectors.ticket_messages(request.user, current),
        "history": selectors.ticket_history(current),
        "surveys": survey_list, "live_survey": live,
        "live_survey_url": surveys.survey_url(live) if live else "",
        "complaint": selectors.ticket_complaint(current),
        "duplicates": selectors.ticket_duplicates(current),
        "forms": forms, "can_manage": can_manage, "action": action,
        "is_done": current.status in ticket_services.TICKET_DONE,
    })


@requires("customer.view")
def complaint_list(request):
    category = request.GET.get("category", "")
    rows = selectors.complaint_list(request.user, category=category,
                                    open_only=request.GET.get("open") == "1")
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    from kehu.service.models import Complaint

    return render(request, "service/complaints.html", {
        "page": page, "complaints": page.object_list, "category": category,
        "categories": Complaint.CATEGORIES, "open_only": request.GET.get("open") == "1",
        "query": request.GET.urlencode()})


@requires("ticket.manage")
def complaint_new(request):
    raw = request.GET.get("customer") or request.POST.get("customer") or ""
    if not raw.isdigit():
        raise Http404
    customer = _found(transactions.customer_get, request.user, int(raw))
    form = ComplaintOpenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            complaint = complaints.complaint_open(actor=Actor.from_request(request),
                                                  customer=customer, **form.cleaned_data)
        except NotFound as exc:
            raise Http404 from exc
        except DomainError as exc:
            show_errors(form, exc)
        else:
            messages.success(request, _("Complaint %s recorded.") % complaint.ticket.number)
            return redirect("service:ticket", ticket_id=complaint.ticket_id)
    return render(request, "service/form.html", {
        "form": form, "title": _("New complaint from %s") % customer.name,
        "back": "service:complaints", "hidden": {"customer": customer.pk}})


def survey_public(request, token: str):
    """The customer's survey page: public, mobile-first, answered once before it expires."""
    try:
        survey = surveys.survey_from_token(token)
    except surveys.SurveyUnavailable as exc:
        return render(request, "service/survey_public.html", {
            "unavailable": str(exc.message), "code": exc.code}, status=410
            if exc.code != "survey_invalid" else 404)
    form = PublicSurveyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            surveys.survey_answer(token=token, **form.cleaned_data)
        except surveys.SurveyUnavailable as exc:
            return render(request, "service/survey_public.html", {
                "unavailable": str(exc.message), "code": exc.code}, status=410)
        except DomainError as exc:
            show_errors(form, exc)
        else:
            return render(request, "service/survey_public.html", {"thanks": True})
    return render(request, "service/survey_public.html", {
        "form": form, "ticket": survey.ticket, "expires_at": survey.expires_at})
