"""The tags page: tag groups with their colours, and which group each tag belongs to.
Thin: selectors read, the tag group services write."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from kehu.core.actor import Actor
from kehu.core.errors import DomainError
from kehu.core.pages import requires, show_errors
from kehu.customers import selectors, services


class TagGroupForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Group name"), max_length=60)
    color = forms.CharField(label=gettext_lazy("Colour"), max_length=7, initial="#2563eb",
                            widget=forms.TextInput(attrs={"type": "color"}))


@requires("segment.manage")
def tags(request):
    form = TagGroupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.tag_group_save(actor=Actor.from_request(request), **form.cleaned_data)
        except DomainError as exc:
            show_errors(form, exc)
        else:
            messages.success(request, _("Tag group saved."))
            return redirect("customers:tags")
    groups = list(selectors.tag_group_list(user=request.user))
    return render(request, "customers/tags.html", {
        "form": form, "groups": groups,
        "tags": selectors.tag_list(user=request.user).select_related("group")})


@requires("segment.manage")
@require_POST
def tag_group_edit(request, group_id: int):
    group = selectors.tag_group_get(user=request.user, group_id=group_id)
    actor = Actor.from_request(request)
    try:
        if request.POST.get("action") == "delete":
            services.tag_group_delete(actor=actor, group=group)
            messages.success(request, _("Tag group deleted; its tags are kept."))
        else:
            services.tag_group_save(actor=actor, group=group, name=request.POST.get("name", ""),
                                    color=request.POST.get("color", ""))
            messages.success(request, _("Tag group saved."))
    except DomainError as exc:
        messages.error(request, _error_text(exc))
    return redirect("customers:tags")


@requires("segment.manage")
@require_POST
def tag_edit(request, tag_id: int):
    tag = selectors.tag_get(user=request.user, tag_id=tag_id)
    group_id = request.POST.get("group", "")
    try:
        group = (selectors.tag_group_get(user=request.user, group_id=int(group_id))
                 if group_id.isdigit() else None)
        services.tag_update(actor=Actor.from_request(request), tag=tag, group=group,
                            color=request.POST.get("color", ""))
    except DomainError as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, _("Tag saved."))
    return redirect("customers:tags")


def _error_text(exc: DomainError) -> str:
    details = exc.details if isinstance(exc.details, dict) else {}
    return " ".join(str(m) for v in details.values() if isinstance(v, list) for m in v) or str(
        exc.message)
