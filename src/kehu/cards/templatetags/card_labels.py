from django import template

from kehu.customers.models import Customer

register = template.Library()
_STAGES = dict(Customer.LIFECYCLE_STAGES)


@register.filter
def lifecycle_label(code: str) -> str:
    """潜在 / 意向 / 成交 / 忠诚 / 流失 (or the English) for a lifecycle stage code."""
    return str(_STAGES.get(code, code))
