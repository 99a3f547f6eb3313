from django import template

register = template.Library()


@register.filter
def is_change(value) -> bool:
    """True for a {"before": …, "after": …} diff, as opposed to a plain recorded value."""
    return isinstance(value, dict) and set(value) == {"before", "after"}
