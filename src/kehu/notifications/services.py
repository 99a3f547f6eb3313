"""Every write to the notification centre: sending notifications and marking them read.

Sending is idempotent per (recipient, dedupe_key), audited and evented in bulk
(`notification.sent`, one per new notification) in the caller's transaction. Marking read is
the recipient's own bookkeeping on their own rows: not audited.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.actor import Actor
from kehu.core.errors import NotFound, ValidationFailed
from kehu.core.events import Change, record_changes_many
from kehu.notifications.models import Notification

MAX_RECIPIENTS = 1000
MAX_BODY_CHARS = 10_000
MAX_MARK_IDS = 1000


def _recipient_ids(recipients: Iterable[Any]) -> list[int]:
    ids: list[int] = []
    for recipient in recipients or ():
        pk = recipient if isinstance(recipient, int) and not isinstance(recipient, bool) \
            else getattr(recipient, "pk", None)
        if pk is None:
            raise ValidationFailed(details={"recipients": [_("Recipients are users.")]})
        if pk not in ids:
            ids.append(int(pk))
    return ids


def _check_link(link: str) -> str:
    """A link inside kehu ("/customers/42/") or an http(s) URL; never javascript: and co."""
    link = (link or "").strip()
    if not link:
        return ""
    if len(link) > 500:
        raise ValidationFailed(details={"link": [_("The link is too long (at most 500).")]})
    if (link.startswith("/") and not link.startswith("//")) or \
            link.lower().startswith(("https://", "http://")):
        return link
    raise ValidationFailed(details={"link": [
        _("A link is a path inside kehu (/customers/42/) or an http(s) address.")]})


def notification_send(*, actor: Actor, recipients, kind: str, title: str, body: str = "",
                      link: str = "", customer_id: int | None = None,
                      dedupe_key: str | None = None) -> list[Notification]:
    """Put a notification in each recipient's centre (active users only; others are skipped).

    Idempotent per (recipient, dedupe_key): a recipient who already has the key gets nothing
    new and the existing notification is returned in its place, so the result holds one
    notification per active recipient, in the order given. Each new one is audited with its
    `notification.sent` event, all in one bulk write."""
    kind, title = (kind or "").strip(), " ".join((title or "").split())
    errors: dict[str, list[str]] = {}
    if not kind or len(kind) > 40:
        errors["kind"] = [_("Give a kind of at most 40 characters.")]
    if not title:
        errors["title"] = [_("Give a title.")]
    elif len(title) > 200:
        title = title[:199] + "…"
    body = body or ""
    if len(body) > MAX_BODY_CHARS:
        errors["body"] = [_("The text is too long (at most %d characters).") % MAX_BODY_CHARS]
    if dedupe_key is not None and not (0 < len(dedupe_key) <= 200):
        errors["dedupe_key"] = [_("A deduplication key has 1 to 200 characters.")]
    try:
        link = _check_link(link)
    except ValidationFailed as exc:
        errors.update(exc.details)
    ids = _recipient_ids(recipients)
    if len(ids) > MAX_RECIPIENTS:
        errors["recipients"] = [_("At most %d recipients at once.") % MAX_RECIPIENTS]
    if errors:
        raise ValidationFailed(details=errors)
    active = set(get_user_model().objects.filter(pk__in=ids, is_active=True)
                 .values_list("pk", flat=True))
    ids = [pk for pk in ids if pk in active]
    if not ids:
        return []
    with transaction.atomic():
        existing: dict[int, Notification] = {}
        if dedupe_key is not None:
            existing = {n.recipient_id: n for n in Notification.objects.select_for_update()
                        .filter(recipient_id__in=ids, dedupe_key=dedupe_key)}
        new = [Notification(recipient_id=pk, kind=kind, title=title, body=body, link=link,
                            customer_id=customer_id, dedupe_key=dedupe_key)
               for pk in ids if pk not in existing]
        if new:
            try:
                with transaction.atomic():
                    created = Notification.objects.bulk_create(new)
            except IntegrityError:  # the same key sent concurrently: one at a time then
                created = []
                for notification in new:
                    try:
                        with transaction.atomic():
                            notification.save()
                        created.append(notification)
                    except IntegrityError:
                        existing[notification.recipient_id] = Notification.objects.get(
                            recipient_id=notification.recipient_id, dedupe_key=dedupe_key)
            if any(n.pk is None for n in created):  # backends without RETURNING ids
                created = list(Notification.objects.filter(
                    recipient_id__in=[n.recipient_id for n in created], kind=kind,
                    title=title, dedupe_key=dedupe_key).order_by("-id")[:len(created)])
            record_changes_many(actor=actor, entries=[
                Change(action="notification.send", event="notification.sent",
                       object_type="notification", object_id=n.pk, object_repr=title,
                       customer_id=customer_id,
                       changes={"recipient": {"before": None, "after": n.recipient_id},
                                "kind": {"before": None, "after": kind},
                                "title": {"before": None, "after": title},
                                "link": {"before": None, "after": link},
                                "dedupe_key": {"before": None, "after": dedupe_key}})
                for n in created])
            for notification in created:
                existing[notification.recipient_id] = notification
    return [existing[pk] for pk in ids if pk in existing]


def notification_mark_read(*, actor: Actor, notification_ids: Iterable[int] | None = None,
                           all: bool = False) -> int:  # noqa: A002 - the contract's name
    """Mark the actor's own notifications read: those named, or all unread ones. An id that is
    not one of the actor's notifications is NotFound and nothing is marked. Returns how many
    changed from unread to read."""
    user = actor.user
    if user is None:
        raise NotFound()
    mine = Notification.objects.filter(recipient_id=user.pk)
    if all:
        return mine.filter(read_at__isnull=True).update(read_at=timezone.now())
    ids = sorted({int(pk) for pk in (notification_ids or ())})
    if not ids:
        raise ValidationFailed(details={"ids": [_("Name the notifications, or mark all.")]})
    if len(ids) > MAX_MARK_IDS:
        raise ValidationFailed(details={"ids": [_("At most %d at once.") % MAX_MARK_IDS]})
    with transaction.atomic():
        found = set(mine.filter(pk__in=ids).values_list("pk", flat=True))
        missing = [pk for pk in ids if pk not in found]
        if missing:
            raise NotFound(details={"ids": missing})
        return mine.filter(pk__in=ids, read_at__isnull=True).update(read_at=timezone.now())


def outbound_retry(*, actor: Actor, message_id: int):
    """Send a failed email or SMS again (an operator fixed the mail server, say): it is queued
    for one more attempt now, audited. NotFound for anything but a failed message."""
    from kehu.core.events import record_change
    from kehu.notifications.channels import _deliver_soon
    from kehu.notifications.models import OutboundMessage

    actor.require("event.manage")
    with transaction.atomic():
        message = OutboundMessage.objects.select_for_update().filter(
            pk=message_id, status=OutboundMessage.FAILED).first()
        if message is None:
            raise NotFound()
        message.status, message.next_attempt_at = OutboundMessage.QUEUED, timezone.now()
        message.locked_until = None
        message.save(update_fields=["status", "next_attempt_at", "locked_until"])
        record_change(actor=actor, action="outbound_message.retry", event="message.requeued",
                      object_type="outbound_message", object_id=message.pk,
                      object_repr=str(message), customer_id=message.customer_id,
                      changes={"status": {"before": OutboundMessage.FAILED,
                                          "after": OutboundMessage.QUEUED},
                               "attempts": message.attempts})
        transaction.on_commit(lambda: _deliver_soon(message.pk))
    return message


def outbound_messages_redact(*, actor: Actor, customer_id: int) -> int:
    """Erase what the outbox keeps about one customer's messages (a privacy erasure): the
    addresses, subjects and bodies become blank, the rows (channel, status, times) stay as the
    record that something was sent. Queued ones are failed first, so nothing goes out
    afterwards. Audited with a `message.redacted` event; returns how many rows changed."""
    from kehu.core.events import record_change
    from kehu.notifications.models import OutboundMessage

    actor.require("privacy.manage")
    with transaction.atomic():
        rows = OutboundMessage.objects.select_for_update().filter(customer_id=customer_id)
        queued = rows.filter(status=OutboundMessage.QUEUED).update(
            status=OutboundMessage.FAILED, next_attempt_at=None,
            last_error="redacted before it was sent")
        changed = rows.exclude(to=[], subject="", text="", html="").update(
            to=[], subject="", text="", html="", reply_to="", headers={})
        if changed or queued:
            record_change(actor=actor, action="outbound_message.redact", event="message.redacted",
                          object_type="customer", object_id=customer_id, customer_id=customer_id,
                          object_repr=f"#{customer_id}",
                          changes={"messages": changed, "cancelled": queued})
    return changed
