"""`{% notification_bell %}`: the topbar's bell with the unread count (web/base.html)."""

from django import template

from kehu.notifications.selectors import unread_count

register = template.Library()


@register.inclusion_tag("notifications/_bell.html", takes_context=True)
def notification_bell(context):
    user = context.get("user")
    if user is None or not user.is_authenticated:
        return {"show": False}
    return {"show": True, "unread_count": unread_count(user)}
