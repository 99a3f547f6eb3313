"""Template helpers of the pipeline's pages."""

from django import template

register = template.Library()


@register.filter
def can(user, permission: str) -> bool:
    """Whether the signed-in user holds a permission (menus never offer a denied page)."""
    access = getattr(user, "access", None)
    return bool(access is not None and access.can(permission))
