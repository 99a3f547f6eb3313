"""Pages of the behaviour layer: "My follow-ups" and the card's quick interaction log.

Thin: forms in, services do the work, selectors read; htmx requests get partials.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from kehu.core.actor import Actor
from kehu.core.errors import DomainError, NotFound
from kehu.core.pages import requires, show_errors
from kehu.interactions import selectors, services
from kehu.interactions.forms import (
    FollowUpFilterForm,
    InteractionLogForm,
    ReassignForm,
    RescheduleForm,
    SnoozeForm,
)

PAGE_SIZE = 50


def _form_errors(form) -> list[str]:
    if form is None or not form.errors:
        return []
    return [str(error) for errors in form.errors.values() for error in errors]


def _found(read, *args, **kwargs):
    try:
        return read(*args, **kwargs)
    except NotFound as exc:
        raise Http404 from exc


TAB_LABELS = {"open": gettext_lazy("All open"), "today": gettext_lazy("Due today"),
              "overdue": gettext_lazy("Overdue"), "upcoming": gettext_lazy("Upcoming"),
              "done": gettext_lazy("Done")}


def _task_filters(request):
    """The "my tasks" filters from the query string: (form, mine, assignee id, search)."""
    form = FollowUpFilterForm(request.GET or None,
                              assignees=selectors.follow_up_assignee_choices(request.user))
    data = form.cleaned_data if form.is_valid() else {}
    mine = (data.get("show") or "mine") != "all"
    assignee_id = None if mine else data.get("assignee")
    return form, mine, assignee_id, data.get("q") or ""


@requires("customer.view")
def follow_ups(request):
    """My tasks: all open (overdue, today, the next two weeks) or one tab (due today,
    overdue, upcoming, done), mine or all I can see, by assignee and text."""
    form, mine, assignee_id, search = _task_filters(request)
    tab = request.GET.get("tab") if request.GET.get("tab") in selectors.TASK_TABS else "open"
    counts = selectors.follow_up_tab_counts(request.user, mine=mine, assignee_id=assignee_id,
                                            search=search)
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("tab", None)
    context = {"form": form, "show_assignee": not mine, "tab": tab, "today": timezone.localdate(),
               "tabs": [(key, label, counts[key]) for key, label in TAB_LABELS.items()],
               "query": query.urlencode()}
    if tab == "open":
        context["agenda"] = selectors.follow_up_agenda(request.user, mine=mine,
                                                       assignee_id=assignee_id, search=search)
    else:
        page = Paginator(selectors.follow_up_tab(request.user, tab=tab, mine=mine,
                                                 assignee_id=assignee_id, search=search),
                         PAGE_SIZE).get_page(request.GET.get("page"))
        context.update(page=page, tasks=page.object_list,
                       page_query=f"{context['query']}&tab={tab}".lstrip("&"))
    return render(request, "interactions/follow_up_list.html", context)


def _row_response(request, task, *, form=None):
    if request.htmx:
        return render(request, "interactions/_follow_up_row.html", {
            "task": task, "reschedule_form": form, "today": timezone.localdate(),
            "show_assignee": request.POST.get("show_assignee") == "1",
            "row_errors": _form_errors(form),
        })
    if form is not None and form.errors:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    return redirect("interactions:follow_ups")


@requires("customer.view")
@require_POST
def follow_up_complete(request, task_id: int):
    task = _found(selectors.follow_up_get, request.user, task_id)
    try:
        task = services.follow_up_complete(actor=Actor.from_request(request), task=task)
    except NotFound as exc:
        raise Http404 from exc
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        if not request.htmx:
            messages.success(request, _("Follow-up done: %s") % task.title)
    return _row_response(request, _found(selectors.follow_up_get, request.user, task_id))


@requires("customer.view")
@require_POST
def follow_up_reschedule(request, task_id: int):
    task = _found(selectors.follow_up_get, request.user, task_id)
    form = RescheduleForm(request.POST, prefix=f"t{task.pk}")
    if form.is_valid():
        try:
            services.follow_up_reschedule(actor=Actor.from_request(request), task=task,
                                          due_date=form.cleaned_data["due_date"])
        except NotFound as exc:
            raise Http404 from exc
        except DomainError as exc:
            show_errors(form, exc)
        else:
            if not request.htmx:
                messages.success(request, _("Follow-up moved to %s.")
                                 % form.cleaned_data["due_date"].isoformat())
            form = None
    return _row_response(request, _found(selectors.follow_up_get, request.user, task_id),
                         form=form)


@requires("customer.view")
@require_POST
def follow_up_snooze(request, task_id: int):
    """Put a task off by +1/+3/+7 days or to a day."""
    task = _found(selectors.follow_up_get, request.user, task_id)
    form = SnoozeForm(request.POST, prefix=f"s{task.pk}")
    if form.is_valid():
        try:
            task = services.follow_up_snooze(actor=Actor.from_request(request), task=task,
                                             days=form.cleaned_data["days"],
                                             until=form.cleaned_data["until"])
        except NotFound as exc:
            raise Http404 from exc
        except DomainError as exc:
            show_errors(form, exc)
        else:
            if not request.htmx:
                messages.success(request, _("Snoozed until %s.") % task.due_date.isoformat())
            form = None
    return _row_response(request, _found(selectors.follow_up_get, request.user, task_id),
                         form=form)


@requires("customer.view")
def follow_up_reassign(request, task_id: int):
    """GET: the reassign form (loaded when the row's menu opens). POST: hand the task over."""
    task = _found(selectors.follow_up_get, request.user, task_id)
    assignees = selectors.follow_up_assignees(request.user).exclude(pk=task.assignee_id)
    form = ReassignForm(request.POST or None, prefix=f"r{task.pk}", assignees=assignees)
    if request.method == "POST":
        if form.is_valid():
            assignee = assignees.filter(pk=form.cleaned_data["assignee"]).first()
            try:
                services.follow_up_reassign(actor=Actor.from_request(request), task=task,
                                            assignee=assignee)
            except NotFound as exc:
                raise Http404 from exc
            except DomainError as exc:
                show_errors(form, exc)
            else:
                if not request.htmx:
                    messages.success(request, _("Follow-up handed to %s.") % assignee)
                form = None
        return _row_response(request, _found(selectors.follow_up_get, request.user, task_id),
                             form=form)
    template = "interactions/_reassign_form.html" if request.htmx else "interactions/reassign.html"
    return render(request, template, {
        "task": task, "form": form, "show_assignee": request.GET.get("show_assignee") == "1"})


@requires("interaction.add")
def log(request, customer_id: int):
    """GET: the empty quick-log form. POST (htmx): log it, answer with the new timeline item.

    On success the response is `_timeline_item.html` for the new interaction (swapped in
    where the form's hx-target points) plus a fresh form swapped out-of-band; on errors
    it is the form with its errors, retargeted onto the form itself.
    """
    customer = _found(selectors.customer_get, request.user, customer_id)
    target = request.GET.get("target") or request.POST.get("timeline_target") or "#timeline"
    context = {"customer": customer, "timeline_target": target}
    form = InteractionLogForm(request.POST or None, prefix_id=f"log{customer.pk}")
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            interaction = services.interaction_log(
                actor=Actor.from_request(request), customer=customer, kind=data["kind"],
                direction=data["direction"], summary=data["summary"],
                outcome=data["outcome"], occurred_at=data["occurred_at"],
                next_follow_up=data["next_follow_up"],
            )
        except NotFound as exc:
            raise Http404 from exc
        except DomainError as exc:
            show_errors(form, exc)
        else:
            if not request.htmx:
                messages.success(request, _("Interaction logged."))
                return redirect(request.POST.get("next") or "interactions:follow_ups")
            item = selectors.interaction_timeline_item(interaction)
            fresh = InteractionLogForm(prefix_id=f"log{customer.pk}")
            response = render(request, "interactions/_log_result.html",
                              {**context, "item": item, "log_form": fresh, "oob": True})
            if interaction.next_follow_up is not None:
                # Lists of follow-ups on the page (the card's tab) reload themselves.
                response["HX-Trigger"] = "followUpsChanged"
            return response
    response = render(request, "interactions/_log_form.html", {**context, "log_form": form})
    if request.method == "POST" and request.htmx:
        response["HX-Retarget"] = f"#log-form-{customer.pk}"
        response["HX-Reswap"] = "outerHTML"
        response.status_code = 200
    return response
