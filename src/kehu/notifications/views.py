"""Pages of the notification centre (the bell, the list) and the outbox for admins.

Thin: selectors read, services write; htmx requests get partials. Every signed-in user has a
notification centre; the outbox needs `event.manage`.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.core.actor import Actor
from kehu.core.errors import DomainError, NotFound
from kehu.core.pages import requires
from kehu.notifications import selectors, services
from kehu.notifications.models import OutboundMessage
from kehu.notifications.selectors import OUTBOX_PERMISSION

PAGE_SIZE = 30
MENU_SIZE = 8
CHANGED = "notificationsChanged"


def _changed(response: HttpResponse) -> HttpResponse:
    """Tell the page's bell (and lists) that the read marks moved."""
    response["HX-Trigger"] = CHANGED
    return response


@login_required
def notification_list(request):
    unread_only = request.GET.get("unread") == "1"
    notifications = selectors.notifications_for(request.user, unread_only=unread_only)
    page = Paginator(notifications, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"page": page, "notifications": page.object_list, "unread_only": unread_only,
               "unread_count": selectors.unread_count(request.user),
               "query": urlencode({"unread": "1"} if unread_only else {})}
    if request.htmx and request.htmx.target == "notification-list":
        return render(request, "notifications/_list.html", context)
    return render(request, "notifications/list.html", context)


@login_required
def bell_count(request):
    """The bell's badge alone (polled every 45 s: one indexed count)."""
    return render(request, "notifications/_bell_count.html",
                  {"unread_count": selectors.unread_count(request.user)})


@login_required
def bell_menu(request):
    """The bell's dropdown: the newest notifications."""
    recent = list(selectors.notifications_for(request.user)[:MENU_SIZE])
    return render(request, "notifications/_bell_menu.html", {
        "notifications": recent, "unread_count": selectors.unread_count(request.user)})


def _safe_next(request, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return fallback


@login_required
@require_POST
def mark_read(request):
    """Mark the named notifications (`ids`) or all (`all=1`) read."""
    actor = Actor.from_request(request)
    try:
        if request.POST.get("all") == "1":
            count = services.notification_mark_read(actor=actor, all=True)
        else:
            ids = [int(v) for v in request.POST.getlist("ids") if v.isascii() and v.isdigit()]
            count = services.notification_mark_read(actor=actor, notification_ids=ids)
    except NotFound as exc:
        raise Http404 from exc
    except DomainError as exc:
        messages.error(request, str(exc.message))
        count = 0
    if request.htmx:
        target = request.POST.get("render")
        if target == "item" and request.POST.getlist("ids"):
            item = selectors.notification_get(request.user, int(request.POST.getlist("ids")[0]))
            return _changed(render(request, "notifications/_item.html", {"n": item}))
        if target == "menu":
            return _changed(bell_menu(request))
        response = HttpResponse(status=204)
        response["HX-Refresh"] = "true"
        return _changed(response)
    if count:
        messages.success(request, _("Marked as read."))
    return redirect(_safe_next(request, "notifications:list"))


@login_required
def open_notification(request, notification_id: int):
    """Follow a notification's link, marking it read on the way."""
    try:
        notification = selectors.notification_get(request.user, notification_id)
    except NotFound as exc:
        raise Http404 from exc
    if notification.read_at is None:
        services.notification_mark_read(actor=Actor.from_request(request),
                                        notification_ids=[notification.pk])
    return redirect(notification.link or "notifications:list")


# The outbox ---------------------------------------------------------------------------------


@requires(OUTBOX_PERMISSION)
def outbox(request):
    status = request.GET.get("status") or ""
    channel = request.GET.get("channel") or ""
    if status not in dict(OutboundMessage.STATUSES):
        status = ""
    if channel not in dict(OutboundMessage.CHANNELS):
        channel = ""
    rows = selectors.outbound_message_list(request.user, status=status or None,
                                           channel=channel or None)
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    return render(request, "notifications/outbox.html", {
        "page": page, "rows": page.object_list, "status": status, "channel": channel,
        "statuses": OutboundMessage.STATUSES, "channels": OutboundMessage.CHANNELS,
        "counts": selectors.outbound_status_counts(request.user),
        "query": urlencode({k: v for k, v in (("status", status), ("channel", channel)) if v}),
    })


@requires(OUTBOX_PERMISSION)
@require_POST
def outbox_retry(request, message_id: int):
    try:
        message = services.outbound_retry(actor=Actor.from_request(request),
                                          message_id=message_id)
    except NotFound as exc:
        raise Http404 from exc
    message.refresh_from_db()
    if message.status == OutboundMessage.SENT:
        messages.success(request, _("Message #%d was sent.") % message.pk)
    elif message.status == OutboundMessage.FAILED:
        messages.error(request, _("Message #%d failed again.") % message.pk)
    else:
        messages.info(request, _("Message #%d is queued again.") % message.pk)
    return redirect("notifications:outbox")
