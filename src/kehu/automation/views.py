"""Rule pages: the list (with the shipped templates), the editor (trigger, condition and
action pickers, the segment builder for conditions, a live dry run), activation with or
without backfill, and the run log."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.automation import editor, selectors, services, triggers
from kehu.automation.library import TEMPLATES
from kehu.automation.models import ACTIVE, Rule, RuleRun
from kehu.core.actor import Actor
from kehu.core.errors import DomainError, ValidationFailed
from kehu.core.pages import requires
from kehu.segments.definition import Catalogue
from kehu.segments.views import builder_context

EMPTY = {"name": "", "description": "", "trigger": {"kind": "customer_created"},
         "conditions": {"type": "group", "match": "all", "conditions": []}, "actions": [],
         "max_runs_per_hour": 1000}


def _errors(exc: DomainError) -> list[str]:
    details = exc.details if isinstance(exc.details, dict) else {}
    found = [f"{path}: {message}" for path, msgs in details.items() if isinstance(msgs, list)
             for message in msgs]
    return found or [str(exc.message)]


def _segments(request) -> list[tuple[str, str]]:
    from kehu.segments.selectors import segment_list

    if not request.user.access.can("segment.view"):
        return []
    return [(str(s.pk), s.name) for s in segment_list(user=request.user)[:300]]


def _tags() -> list[str]:
    from django.apps import apps

    return list(apps.get_model("customers", "Tag").objects.order_by("name")
                .values_list("name", flat=True)[:300])


def _editor_context(request, data, *, rule: Rule | None = None, **extra):
    context = builder_context(request, data["conditions"])
    context.update(editor.view(data, segments=_segments(request)))
    context.update({"form": data, "rule": rule, "tags": _tags(), **extra})
    return context


@requires("rule.manage")
def rule_list(request):
    rules = list(selectors.rule_list(user=request.user))
    stats = selectors.rule_stats(user=request.user, rules=rules)
    rows = [{"rule": r, "trigger": triggers.describe(r.trigger), **stats[r.pk]} for r in rules]
    return render(request, "automation/list.html", {
        "rows": rows, "templates": [(k, v) for k, v in TEMPLATES.items()]})


@require_POST
@requires("rule.manage")
def rule_from_template(request, key: str):
    try:
        rule = services.rule_from_template(actor=Actor.from_request(request), key=key)
    except DomainError as exc:
        messages.error(request, " ".join(_errors(exc)))
        return redirect("automation:list")
    messages.success(request, _("Draft “%s” made from the template: review it, dry-run it, "
                                "then activate it.") % rule.name)
    return redirect("automation:edit", rule_id=rule.pk)


@requires("rule.manage")
def rule_new(request):
    return render(request, "automation/editor.html", _editor_context(request, dict(EMPTY)))


@requires("rule.manage")
def rule_edit(request, rule_id: int):
    rule = selectors.rule_get(user=request.user, rule_id=rule_id)
    data = {"name": rule.name, "description": rule.description, "trigger": rule.trigger,
            "conditions": rule.conditions, "actions": rule.actions,
            "max_runs_per_hour": rule.max_runs_per_hour}
    return render(request, "automation/editor.html", _editor_context(
        request, data, rule=rule, versions=selectors.rule_versions(user=request.user, rule=rule)))


def _posted(request):
    data = editor.parse(request.POST, Catalogue.load().fields)
    if request.POST.get("rule_edit"):
        data = editor.apply_edit(data, request.POST["rule_edit"])
    data.pop("new_action", None)
    return data


@require_POST
@requires("rule.manage")
def rule_parts(request):
    """htmx: the trigger and action pickers re-rendered after a change."""
    data = _posted(request)
    return render(request, "automation/_parts.html", _editor_context(request, data))


def _rule_of(request) -> Rule | None:
    value = request.POST.get("rule", "")
    return selectors.rule_get(user=request.user, rule_id=int(value)) if value.isdigit() \
        else None


@require_POST
@requires("rule.manage")
def rule_dry_run(request):
    """htmx: who the editor's rule (as it stands, saved or not) would fire for now."""
    data = _posted(request)
    data["name"] = (data.get("name") or "").strip()[:80] or "—"  # no name needed to try it
    try:
        candidate = services.rule_check(actor=Actor.from_request(request), rule=_rule_of(
            request), **data)
        result = selectors.rule_dry_run(user=request.user, rule=candidate)
    except ValidationFailed as exc:
        return render(request, "automation/_dry_run.html", {"errors": _errors(exc)})
    return render(request, "automation/_dry_run.html", {"result": result})


@require_POST
@requires("rule.manage")
def rule_save(request):
    data = _posted(request)
    actor = Actor.from_request(request)
    rule = _rule_of(request)
    try:
        if rule is None:
            rule = services.rule_create(actor=actor, **data)
        else:
            rule = services.rule_update(actor=actor, rule=rule, **data)
    except DomainError as exc:
        return render(request, "automation/editor.html", _editor_context(
            request, data, rule=rule, save_errors=_errors(exc)), status=422)
    messages.success(request, _("Rule “%(name)s” saved (version %(v)d).") % {
        "name": rule.name, "v": rule.version})
    return redirect("automation:edit", rule_id=rule.pk)


@require_POST
@requires("rule.manage")
def rule_activate(request, rule_id: int):
    rule = selectors.rule_get(user=request.user, rule_id=rule_id)
    backfill = request.POST.get("backfill") == "yes"
    try:
        rule, covered = services.rule_activate(actor=Actor.from_request(request), rule=rule,
                                               backfill=backfill)
    except DomainError as exc:
        messages.error(request, " ".join(_errors(exc)))
        return redirect("automation:edit", rule_id=rule_id)
    if backfill:
        messages.success(request, _("Rule active; it acts on the %d customers who already "
                                    "qualify, and on every new qualifying change.") % covered)
    else:
        messages.success(request, _("Rule active for changes from now on."))
    return redirect("automation:edit", rule_id=rule.pk)


@require_POST
@requires("rule.manage")
def rule_pause(request, rule_id: int):
    rule = selectors.rule_get(user=request.user, rule_id=rule_id)
    try:
        services.rule_pause(actor=Actor.from_request(request), rule=rule)
    except DomainError as exc:
        messages.error(request, " ".join(_errors(exc)))
    return redirect("automation:edit", rule_id=rule_id)


@require_POST
@requires("rule.manage")
def rule_delete(request, rule_id: int):
    rule = selectors.rule_get(user=request.user, rule_id=rule_id)
    try:
        services.rule_delete(actor=Actor.from_request(request), rule=rule)
    except DomainError as exc:
        messages.error(request, " ".join(_errors(exc)))
        return redirect("automation:edit", rule_id=rule_id)
    messages.success(request, _("Rule deleted."))
    return redirect("automation:list")


@requires("rule.manage")
def rule_runs(request, rule_id: int):
    rule = selectors.rule_get(user=request.user, rule_id=rule_id)
    status = request.GET.get("status") or None
    if status not in dict(RuleRun.STATUSES):
        status = None
    return render(request, "automation/runs.html", {
        "rule": rule, "runs": selectors.rule_runs(user=request.user, rule=rule, status=status,
                                                  limit=200),
        "status": status, "statuses": RuleRun.STATUSES, "active": rule.status == ACTIVE})
