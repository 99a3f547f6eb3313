"""API of the notification centre: the caller's own notifications, read marks, unread count.
Thin: schemas in, services and selectors, schemas out."""

import datetime as dt

from django.utils.translation import gettext as _
from ninja import Field, Router, Schema
from ninja.pagination import paginate

from kehu.core.errors import ValidationFailed
from kehu.core.http import ERROR_RESPONSES, actor_of
from kehu.core.schemas import Flag, Id, Input, Page
from kehu.notifications import selectors, services

router = Router(tags=["notifications"])


class NotificationOut(Schema):
    id: int
    kind: str
    title: str
    body: str
    link: str
    customer_id: int | None
    created_at: dt.datetime
    read_at: dt.datetime | None
    read: bool

    @staticmethod
    def resolve_read(notification) -> bool:
        return notification.read_at is not None


class ReadIn(Input):
    ids: list[Id] = Field(default_factory=list, max_length=services.MAX_MARK_IDS,
                          description="The notifications to mark read (all must be yours).")
    all: Flag = Field(False, description="Mark every unread notification read instead.")


class ReadOut(Schema):
    marked: int
    unread_count: int


class UnreadCountOut(Schema):
    unread_count: int


@router.get("/notifications", response=list[NotificationOut],
            summary="My notifications, newest first")
@paginate(Page)
def list_notifications(request, unread: Flag = False):
    return selectors.notifications_for(request.user, unread_only=unread)


@router.get("/notifications/unread-count", response={200: UnreadCountOut, **ERROR_RESPONSES},
            summary="How many of my notifications are unread")
def notifications_unread_count(request):
    return {"unread_count": selectors.unread_count(request.user)}


@router.post("/notifications/read", response={200: ReadOut, **ERROR_RESPONSES},
             summary="Mark my notifications read (ids, or all)")
def notifications_mark_read(request, payload: ReadIn):
    if payload.all and payload.ids:
        raise ValidationFailed(details={"ids": [_("Give ids or all, not both.")]})
    if not payload.all and not payload.ids:
        raise ValidationFailed(details={"ids": [_("Name the notifications, or mark all.")]})
    marked = services.notification_mark_read(actor=actor_of(request),
                                             notification_ids=payload.ids, all=payload.all)
    return {"marked": marked, "unread_count": selectors.unread_count(request.user)}
