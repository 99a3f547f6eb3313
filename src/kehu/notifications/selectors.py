"""Reads of the notification centre and the outbox.

A user only ever reads their own notifications (another's look exactly like ones that do not
exist); the outbox is for those who watch deliveries (`event.manage`).
"""

from __future__ import annotations

from django.db.models import QuerySet

from kehu.core.errors import NotFound
from kehu.notifications.models import Notification, OutboundMessage

OUTBOX_PERMISSION = "event.manage"


def notifications_for(user, unread_only: bool = False) -> QuerySet[Notification]:
    """The user's notifications, newest first (none for an anonymous or inactive user)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return Notification.objects.none()
    notifications = Notification.objects.filter(recipient_id=user.pk)
    if unread_only:
        notifications = notifications.filter(read_at__isnull=True)
    return notifications.order_by("-created_at", "-id")


def unread_count(user) -> int:
    """How many of the user's notifications are unread: one probe of a partial index."""
    return notifications_for(user, unread_only=True).count()


def notification_get(user, notification_id: int) -> Notification:
    notification = notifications_for(user).filter(pk=notification_id).first()
    if notification is None:
        raise NotFound()
    return notification


def outbound_message_list(user, *, status: str | None = None, channel: str | None = None,
                          customer_id: int | None = None) -> QuerySet[OutboundMessage]:
    """Outbound emails and SMS, newest first, for those who may watch deliveries."""
    user.access.require(OUTBOX_PERMISSION)
    messages = OutboundMessage.objects.all()
    if status:
        messages = messages.filter(status=status)
    if channel:
        messages = messages.filter(channel=channel)
    if customer_id is not None:
        messages = messages.filter(customer_id=customer_id)
    return messages.order_by("-created_at", "-id")


def outbound_message_get(user, message_id: int) -> OutboundMessage:
    message = outbound_message_list(user).filter(pk=message_id).first()
    if message is None:
        raise NotFound()
    return message


def outbound_status_counts(user) -> dict[str, int]:
    """How many messages are queued, sent and failed (the outbox page's header)."""
    from django.db.models import Count

    rows = outbound_message_list(user).order_by().values("status").annotate(n=Count("id"))
    counts = {code: 0 for code, _label in OutboundMessage.STATUSES}
    counts.update({row["status"]: row["n"] for row in rows})
    return counts
