"""Pages of the outbound webhooks: the list with a new-endpoint form, and one endpoint with
its settings, secret rotation and delivery log (replay). Thin: forms, services, selectors."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.core.actor import Actor
from kehu.core.errors import NotFound, ValidationFailed
from kehu.core.pages import requires
from kehu.integration import selectors, services
from kehu.integration.forms import WebhookForm, event_type_groups
from kehu.integration.models import WebhookDelivery

_SECRET_KEY = "kehu_webhook_secret"


def _form_errors(form, exc: ValidationFailed) -> None:
    for field, problems in (exc.details or {}).items():
        name = field.split("[")[0]
        for problem in problems if isinstance(problems, list) else [problems]:
            form.add_error(name if name in form.fields else None, str(problem))


@requires("webhook.manage")
def webhooks(request):
    form = WebhookForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint, secret = services.webhook_create(
                actor=Actor.from_request(request), url=form.cleaned_data["url"],
                event_types=form.cleaned_data["event_types"],
                description=form.cleaned_data["description"],
                allow_private_network=form.cleaned_data["allow_private_network"])
        except ValidationFailed as exc:
            _form_errors(form, exc)
        else:
            request.session[_SECRET_KEY] = {"id": endpoint.pk, "secret": secret}
            return redirect("integration:webhook", endpoint.pk)
    return render(request, "integration/webhooks.html", {
        "endpoints": selectors.webhook_list(user=request.user), "form": form,
        "groups": event_type_groups()})


@requires("webhook.manage")
def webhook(request, endpoint_id: int):
    try:
        endpoint = selectors.webhook_get(user=request.user, endpoint_id=endpoint_id)
    except NotFound:
        raise Http404() from None
    initial = {"url": endpoint.url, "description": endpoint.description,
               "event_types": "\n".join(endpoint.event_types),
               "allow_private_network": endpoint.allow_private_network}
    form = WebhookForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.webhook_update(
                actor=Actor.from_request(request), endpoint_id=endpoint.pk,
                url=form.cleaned_data["url"], event_types=form.cleaned_data["event_types"],
                description=form.cleaned_data["description"],
                allow_private_network=form.cleaned_data["allow_private_network"])
        except ValidationFailed as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("Webhook saved."))
            return redirect("integration:webhook", endpoint.pk)
    shown = request.session.pop(_SECRET_KEY, None)
    status = request.GET.get("status", "")
    if status not in dict(WebhookDelivery.STATUSES):
        status = ""
    return render(request, "integration/webhook.html", {
        "endpoint": endpoint, "form": form, "groups": event_type_groups(),
        "secret": shown["secret"] if shown and shown.get("id") == endpoint.pk else None,
        "deliveries": selectors.webhook_deliveries(user=request.user, endpoint_id=endpoint.pk,
                                                   status=status),
        "statuses": WebhookDelivery.STATUSES, "status": status})


def _endpoint_action(request, endpoint_id: int, action) -> None:
    try:
        selectors.webhook_get(user=request.user, endpoint_id=endpoint_id)
        action(Actor.from_request(request))
    except NotFound:
        raise Http404() from None
    except ValidationFailed as exc:
        for problems in (exc.details or {}).values():
            for problem in problems if isinstance(problems, list) else [problems]:
                messages.error(request, str(problem))


@require_POST
@requires("webhook.manage")
def webhook_toggle(request, endpoint_id: int):
    enable = request.POST.get("enable") == "1"
    _endpoint_action(request, endpoint_id, lambda actor: services.webhook_update(
        actor=actor, endpoint_id=endpoint_id, is_active=enable))
    return redirect("integration:webhook", endpoint_id)


@require_POST
@requires("webhook.manage")
def webhook_rotate(request, endpoint_id: int):
    def rotate(actor):
        _endpoint, secret = services.webhook_rotate_secret(actor=actor, endpoint_id=endpoint_id)
        request.session[_SECRET_KEY] = {"id": endpoint_id, "secret": secret}
    _endpoint_action(request, endpoint_id, rotate)
    return redirect("integration:webhook", endpoint_id)


@require_POST
@requires("webhook.manage")
def webhook_remove(request, endpoint_id: int):
    _endpoint_action(request, endpoint_id, lambda actor: services.webhook_delete(
        actor=actor, endpoint_id=endpoint_id))
    messages.success(request, _("Webhook deleted."))
    return redirect("integration:webhooks")


@require_POST
@requires("webhook.manage")
def delivery_replay(request, delivery_id: int):
    try:
        delivery = selectors.webhook_delivery_get(user=request.user, delivery_id=delivery_id)
        services.webhook_delivery_replay(actor=Actor.from_request(request),
                                         delivery_id=delivery_id)
    except NotFound:
        raise Http404() from None
    except ValidationFailed as exc:
        for problems in (exc.details or {}).values():
            for problem in problems if isinstance(problems, list) else [problems]:
                messages.error(request, str(problem))
    else:
        messages.success(request, _("Sending event #%d again.") % delivery.event_id)
    return redirect("integration:webhook", delivery.endpoint_id)


# Visitor stitches (event ingestion) -----------------------------------------------------


@requires("customer.merge")
def stitches(request):
    """What identify and alias calls attached to customers, newest first, each undoable."""
    from kehu.integration.stitching import stitch_limit

    return render(request, "integration/stitches.html", {
        "stitches": selectors.stitch_list(user=request.user),
        "limit": stitch_limit()})


@require_POST
@requires("customer.merge")
def stitch_undo(request, stitch_id: int):
    from kehu.integration.stitching import stitch_undo as undo

    try:
        selectors.stitch_get(user=request.user, stitch_id=stitch_id)
        undo(actor=Actor.from_request(request), stitch_id=stitch_id)
    except NotFound:
        raise Http404() from None
    messages.success(request, _("The stitch was undone: its events are the visitor's again."))
    return redirect("integration:stitches")
