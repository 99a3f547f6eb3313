"""Review queue, side-by-side comparison, merge and merge history pages. Thin: selectors to
read, services to write."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.core.actor import Actor
from kehu.core.errors import DomainError
from kehu.core.pages import requires
from kehu.identity import selectors, services
from kehu.identity.models import DuplicateCandidate
from kehu.identity.scan import dedup_scan_create
from kehu.identity.tasks import dedup_scan_task

PAGE = 50


def _card_url(customer_id: int) -> str:
    try:
        return reverse("cards:card", args=[customer_id])
    except NoReverseMatch:
        return f"/customers/{customer_id}/"


def _error_text(exc: DomainError) -> str:
    details = exc.details if isinstance(exc.details, dict) else {}
    parts = [str(m) for v in details.values() if isinstance(v, list | tuple) for m in v]
    return " ".join(parts) or str(exc.message)


@requires("customer.merge")
def queue(request):
    status = request.GET.get("status", DuplicateCandidate.PENDING)
    if status not in dict(DuplicateCandidate.STATUSES):
        status = DuplicateCandidate.PENDING
    candidates = list(selectors.candidate_list(user=request.user, status=status)[:PAGE])
    return render(request, "identity/queue.html", {
        "candidates": candidates, "status": status, "statuses": DuplicateCandidate.STATUSES,
        "scan": selectors.scan_latest(user=request.user),
        "total": selectors.candidate_list(user=request.user, status=status).count(),
        "perms_merge_configure": request.user.access.can("merge.configure"),
    })


@requires("customer.merge")
@require_POST
def scan_start(request):
    try:
        threshold = float(request.POST.get("threshold") or 0.9)
        scan = dedup_scan_create(actor=Actor.from_request(request), threshold=threshold)
    except ValueError:
        messages.error(request, _("The threshold is a probability between 0 and 1, such as 0.9."))
    except DomainError as exc:
        messages.error(request, _error_text(exc))
    else:
        dedup_scan_task(scan.pk)
        messages.success(request, _("Duplicate scan #%d started.") % scan.pk)
    return redirect("identity:queue")


def _review(request, *, ids, candidate=None):
    comparison = selectors.comparison(user=request.user, customer_ids=ids, candidate=candidate)
    for customer in comparison.customers:
        customer["card_url"] = _card_url(customer["id"])
    return render(request, "identity/review.html", {"cmp": comparison, "candidate": candidate})


@requires("customer.merge")
def candidate(request, candidate_id: int):
    found = selectors.candidate_get(user=request.user, candidate_id=candidate_id)
    return _review(request, ids=found.member_ids, candidate=found)


@requires("customer.merge")
def compare(request):
    raw = request.GET.get("ids", "")
    ids = [int(part) for part in raw.replace(" ", "").split(",") if part.isdigit()]
    try:
        return _review(request, ids=ids)
    except DomainError as exc:
        messages.error(request, _error_text(exc))
        return redirect("identity:queue")


@requires("customer.merge")
@require_POST
def merge(request):
    """Merge from the review page: survivor, the members, and a choice per field."""
    post = request.POST
    members = [int(i) for i in post.getlist("member") if i.isdigit()]
    survivor = int(post["survivor"]) if post.get("survivor", "").isdigit() else None
    # "proposed" keeps the survivorship rule's value (a combined one such as joined notes).
    choices = {key[7:]: value for key, value in post.items()
               if key.startswith("choice:") and value != "proposed"}
    candidate_id = post.get("candidate", "")
    actor = Actor.from_request(request)
    try:
        if survivor is None:
            raise DomainError(_("Choose the surviving customer."))
        if survivor not in members:
            members.append(survivor)
        if candidate_id.isdigit():
            found = selectors.candidate_get(user=request.user, candidate_id=int(candidate_id))
            done = services.candidate_merge(actor=actor, candidate=found, survivor_id=survivor,
                                            field_choices=choices, member_ids=members)
        else:
            done = services.customer_merge(actor=actor, survivor_id=survivor,
                                           other_ids=[m for m in members if m != survivor],
                                           field_choices=choices)
    except DomainError as exc:
        messages.error(request, _error_text(exc))
        if candidate_id.isdigit():
            return redirect("identity:candidate", candidate_id=int(candidate_id))
        return redirect(reverse("identity:compare") + "?ids=" + ",".join(map(str, members)))
    messages.success(request, _("Merged %(count)d customers into %(name)s. You can undo this "
                                "on the merge history page.")
                     % {"count": done.sources.count() + 1, "name": done.survivor.name})
    return redirect(_card_url(done.survivor_id))


@requires("customer.merge")
@require_POST
def candidate_dismiss(request, candidate_id: int):
    found = selectors.candidate_get(user=request.user, candidate_id=candidate_id)
    try:
        services.candidate_dismiss(actor=Actor.from_request(request), candidate=found)
    except DomainError as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, _("Marked as not the same; they will not be proposed again."))
    return redirect("identity:queue")


@requires("merge.configure")
def survivorship(request):
    """The survivorship rules: which value a merge keeps, per field (admin setting)."""
    if request.method == "POST":
        actor = Actor.from_request(request)
        wanted = {key[5:]: value for key, value in request.POST.items()
                  if key.startswith("rule:") and value}
        try:
            changed = services.survivorship_rules_set(actor=actor, rules=wanted)
        except DomainError as exc:
            messages.error(request, _error_text(exc))
        else:
            messages.success(request, _("Survivorship rules saved (%d changed).") % len(changed))
        return redirect("identity:survivorship")
    return render(request, "identity/survivorship.html", {
        "rows": selectors.survivorship_table(user=request.user)})


@requires("customer.merge")
def merges(request):
    rows = list(selectors.merge_list(user=request.user)[:PAGE])
    for row in rows:
        row.card_url = _card_url(row.survivor_id)
    return render(request, "identity/merges.html", {"merges": rows})


@requires("customer.merge")
@require_POST
def undo(request, merge_id: int):
    found = selectors.merge_get(user=request.user, merge_id=merge_id)
    try:
        services.customer_unmerge(actor=Actor.from_request(request), merge_id=found.pk)
    except DomainError as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, _("Merge undone: every customer is back as it was."))
    return redirect("identity:merges")
