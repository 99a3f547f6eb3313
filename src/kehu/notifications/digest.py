"""The daily digest: one email a day to each user with an email address, listing their unread
notifications and what the registered sections add (interactions adds the follow-ups due
today and overdue). Idempotent per user and day: the email's outbox row carries the key
`digest:<user id>:<day>`, so a second run the same day sends nothing.

Sections are a registry because the apps that own tasks sit above this one:
`register_digest_section("tasks", title=…, items=lambda user, day: [DigestItem(…)])` in their
AppConfig.ready().
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from kehu.core.errors import DomainError
from kehu.notifications.channels import email_send
from kehu.notifications.models import Notification, OutboundMessage

log = logging.getLogger(__name__)
MAX_NOTIFICATIONS = 20
MAX_ITEMS = 30


@dataclass(frozen=True)
class DigestItem:
    """One line of a digest section: what, where to open it, and a short note (due date)."""

    text: str
    link: str = ""
    note: str = ""
    overdue: bool = False


@dataclass(frozen=True)
class DigestSection:
    key: str
    title: Any
    items: Callable[[Any, dt.date], list[DigestItem]]
    order: int = 100


_SECTIONS: dict[str, DigestSection] = {}


def register_digest_section(key: str, *, title: Any,
                            items: Callable[[Any, dt.date], list[DigestItem]],
                            order: int = 100) -> None:
    """Add a section to every digest: `items(user, day)` gives its lines (an empty list
    leaves the section out)."""
    _SECTIONS[key] = DigestSection(key=key, title=title, items=items, order=order)


def digest_sections() -> list[DigestSection]:
    return sorted(_SECTIONS.values(), key=lambda s: (s.order, s.key))


@dataclass
class DigestResult:
    day: dt.date
    sent: int = 0
    already_sent: int = 0
    nothing_to_say: int = 0
    no_email: int = 0
    failed_sections: list[str] = field(default_factory=list)


def digest_key(user_id: int, day: dt.date) -> str:
    return f"digest:{user_id}:{day.isoformat()}"


def _absolute(link: str) -> str:
    if link.startswith("/"):
        return f"{settings.KEHU_BASE_URL}{link}"
    return link


def digest_content(user, day: dt.date, result: DigestResult | None = None) -> dict | None:
    """What the user's digest for `day` says, or None when there is nothing to say."""
    unread = Notification.objects.filter(recipient_id=user.pk, read_at__isnull=True)
    unread_total = unread.count()
    notifications = list(unread.order_by("-created_at", "-id")[:MAX_NOTIFICATIONS])
    sections = []
    for section in digest_sections():
        try:
            items = list(section.items(user, day))[:MAX_ITEMS]
        except Exception:  # one broken section must not stop everyone's digest
            log.exception("digest section %s failed for user #%s", section.key, user.pk)
            if result is not None:
                result.failed_sections.append(section.key)
            continue
        if items:
            sections.append({"title": str(section.title), "key": section.key,
                             "items": [{"text": i.text, "note": i.note, "overdue": i.overdue,
                                        "link": _absolute(i.link)} for i in items]})
    if not unread_total and not sections:
        return None
    return {
        "user": user, "day": day, "unread_total": unread_total,
        "notifications": [{"title": n.title, "body": n.body, "link": _absolute(n.link),
                           "created_at": n.created_at} for n in notifications],
        "more_notifications": max(0, unread_total - len(notifications)),
        "sections": sections, "base_url": settings.KEHU_BASE_URL,
        "centre_url": _absolute("/notifications/"),
    }


def digest_send(*, day: dt.date | None = None,
                user_ids: Iterable[int] | None = None) -> DigestResult:
    """Send the digest for `day` (default today, local time) to every active user with an
    email address (or those of `user_ids`), at most once per user and day."""
    day = day or timezone.localdate()
    result = DigestResult(day=day)
    users = get_user_model().objects.filter(is_active=True).order_by("pk")
    if user_ids is not None:
        users = users.filter(pk__in=list(user_ids))
    sent_keys = set(OutboundMessage.objects.filter(
        dedupe_key__startswith="digest:", dedupe_key__endswith=f":{day.isoformat()}")
        .values_list("dedupe_key", flat=True))
    for user in list(users):
        if not (user.email or "").strip():
            result.no_email += 1
            continue
        key = digest_key(user.pk, day)
        if key in sent_keys:
            result.already_sent += 1
            continue
        with translation.override(settings.LANGUAGE_CODE):
            content = digest_content(user, day, result)
            if content is None:
                result.nothing_to_say += 1
                continue
            subject = _("kehu daily digest for %(day)s: %(count)d to look at") % {
                "day": day.isoformat(),
                "count": content["unread_total"] + sum(len(s["items"])
                                                       for s in content["sections"])}
            text = render_to_string("notifications/email/digest.txt", content)
            html = render_to_string("notifications/email/digest.html", content)
        try:
            with transaction.atomic():
                email_send(to=[user.email], subject=subject, text=text, html=html,
                           purpose="notification", dedupe_key=key)
        except DomainError:  # an address kehu cannot send to
            result.no_email += 1
            continue
        result.sent += 1
    return result
