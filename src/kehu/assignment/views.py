"""Assignment pages: the rules (drag to reorder), the rule editor with the segment builder and
a dry run, team availability (leave), and book transfer with its preview. Thin."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.accounts import selectors as account_selectors
from kehu.assignment import selectors, services
from kehu.assignment.decide import EMPTY_CONDITION
from kehu.assignment.forms import LeaveForm, RuleForm, TransferForm
from kehu.core.actor import Actor
from kehu.core.errors import DomainError
from kehu.core.pages import requires, show_errors
from kehu.segments.builder import parse
from kehu.segments.definition import Catalogue
from kehu.segments.views import _builder_context


def _error_lines(exc: DomainError) -> list[str]:
    details = exc.details if isinstance(exc.details, dict) else {}
    return [f"{path}: {m}" for path, msgs in details.items() if isinstance(msgs, list)
            for m in msgs] or [str(exc.message)]


@requires("assignment.manage")
def rule_list(request):
    return render(request, "assignment/rules.html", {
        "rules": selectors.assignment_rule_list(user=request.user),
        "members": selectors.team_members(user=request.user),
        "leave_form": LeaveForm()})


@require_POST
@requires("assignment.manage")
def rule_reorder(request):
    ids = [int(i) for i in request.POST.getlist("ids") if i.isdigit()]
    try:
        services.assignment_rules_reorder(actor=Actor.from_request(request), rule_ids=ids)
    except DomainError as exc:
        return HttpResponse(" ".join(_error_lines(exc)), status=422)
    return render(request, "assignment/_rule_rows.html", {
        "rules": selectors.assignment_rule_list(user=request.user), "saved": True})


def _rule_form(request, rule=None, data=None):
    initial = None
    if rule is not None:
        initial = {"name": rule.name, "description": rule.description, "team": rule.team_id,
                   "method": rule.method, "fixed_user": rule.fixed_user_id,
                   "capacity": rule.capacity, "is_active": rule.is_active}
    return RuleForm(data, initial=initial, teams=account_selectors.team_list(user=request.user),
                    users=account_selectors.user_list(user=request.user))


@requires("assignment.manage")
def rule_edit(request, rule_id: int | None = None):
    """GET: the editor (a new rule, or a saved one). POST: save, back to the list."""
    rule = selectors.assignment_rule_get(user=request.user, rule_id=rule_id) if rule_id else None
    definition = (rule.condition if rule and rule.condition else EMPTY_CONDITION)
    form = _rule_form(request, rule, request.POST if request.method == "POST" else None)
    save_errors: list[str] = []
    if request.method == "POST":
        definition = parse(request.POST, Catalogue.load().fields)
        if form.is_valid():
            data = form.cleaned_data
            try:
                saved = services.assignment_rule_save(
                    actor=Actor.from_request(request), rule=rule, name=data["name"],
                    description=data["description"], condition=definition, team=data["team"],
                    method=data["method"], fixed_user=data["fixed_user"],
                    capacity=data["capacity"], is_active=data["is_active"])
            except DomainError as exc:
                show_errors(form, exc)
                save_errors = [line for line in _error_lines(exc)
                               if line.startswith("condition")]
            else:
                messages.success(request, _("Rule “%s” saved.") % saved.name)
                return redirect("assignment:rules")
    return render(request, "assignment/rule_form.html", {
        **_builder_context(request, definition), "form": form, "rule": rule,
        "save_errors": save_errors})


@require_POST
@requires("assignment.manage")
def rule_dry_run(request, rule_id: int):
    """htmx: the first 20 customers the saved rule matches and whom each would go to."""
    rule = selectors.assignment_rule_get(user=request.user, rule_id=rule_id)
    try:
        matches, ids = selectors.rule_matching_ids(user=request.user, rule=rule, limit=20)
        decisions = services.assignment_preview(actor=Actor.from_request(request),
                                                customer_ids=ids, rule_id=rule.pk) if ids else []
    except DomainError as exc:
        return render(request, "assignment/_dry_run.html", {"errors": _error_lines(exc)})
    return render(request, "assignment/_dry_run.html", {"matches": matches,
                                                         "decisions": decisions})


@require_POST
@requires("assignment.manage")
def rule_delete(request, rule_id: int):
    rule = selectors.assignment_rule_get(user=request.user, rule_id=rule_id)
    services.assignment_rule_delete(actor=Actor.from_request(request), rule=rule)
    messages.success(request, _("Rule “%s” deleted.") % rule.name)
    return redirect("assignment:rules")


@require_POST
@requires("assignment.manage")
def leave_set(request, user_id: int):
    member = account_selectors.user_get(user=request.user, user_id=user_id)
    form = LeaveForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the dates as YYYY-MM-DD."))
        return redirect("assignment:rules")
    try:
        services.user_leave_set(actor=Actor.from_request(request), user=member,
                                leave_from=form.cleaned_data["leave_from"],
                                leave_until=form.cleaned_data["leave_until"])
    except DomainError as exc:
        messages.error(request, " ".join(_error_lines(exc)))
    else:
        messages.success(request, _("Leave of %s saved.") % member)
    return redirect(reverse("assignment:rules") + "#members")


@requires("assignment.manage")
def transfer(request):
    """Book transfer: choose from/to and a filter, preview the counts (htmx), transfer."""
    users = account_selectors.user_list(user=request.user)
    form = TransferForm(request.POST or None, users=users)
    preview = error = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if request.POST.get("action") == "preview" or request.htmx:
                preview = selectors.book_transfer_preview(
                    user=request.user, from_user=data["from_user"], filters=data["filters"])
                preview["from"], preview["to"] = data["from_user"], data["to_user"]
            else:
                done = services.book_transfer_create(
                    actor=Actor.from_request(request), from_user=data["from_user"],
                    to_user=data["to_user"], filters=data["filters"])
                if done.job_id:
                    messages.info(request, _("The transfer of %(n)d customers runs in the "
                                             "background.") % {"n": done.expected})
                else:
                    messages.success(request, _(
                        "%(n)d customers and %(t)d open follow-ups moved to %(to)s.") % {
                        "n": done.customers_moved, "t": done.tasks_moved, "to": done.to_user})
                return redirect("assignment:transfer")
        except DomainError as exc:
            show_errors(form, exc)
            error = " ".join(_error_lines(exc))
    if request.htmx:
        return render(request, "assignment/_transfer_preview.html", {"preview": preview,
                                                                      "error": error})
    return render(request, "assignment/transfer.html", {
        "form": form, "preview": preview, "error": error,
        "transfers": selectors.book_transfer_list(user=request.user)})

