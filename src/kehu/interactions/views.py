"""Pages of the behaviour layer: "My follow-ups" and the card's quick interaction log.

Thin: forms in, services do the work, selectors read; htmx requests get partials.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.core.actor import Actor
from kehu.core.errors import DomainError, NotFound
from kehu.core.pages import requires, show_errors
from kehu.interactions import selectors, services
from kehu.interactions.forms import FollowUpFilterForm, InteractionLogForm, RescheduleForm


def _found(read, *args, **kwargs):
    try:
        return read(*args, **kwargs)
    except NotFound as exc:
        raise Http404 from exc


@requires("customer.view")
def follow_ups(request):
    form = FollowUpFilterForm(request.GET or None)
    show = form.cleaned_data.get("show") if form.is_valid() else "mine"
    agenda = selectors.follow_up_agenda(request.user, mine=show != "all")
    return render(request, "interactions/follow_up_list.html", {
        "form": form, "agenda": agenda, "show_assignee": show == "all",
    })


def _row_response(request, task, *, form=None):
    if request.htmx:
        return render(request, "interactions/_follow_up_row.html", {
            "task": task, "reschedule_form": form, "today": timezone.localdate(),
            "show_assignee": request.POST.get("show_assignee") == "1",
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
