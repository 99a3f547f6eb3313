"""Codes and labels of the value layer (RFM segments, value tiers), kept here so the customer
list can filter, show and export them without importing the scoring app above it."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

# The classic RFM segment map (on R and F scores).
RFM_SEGMENTS = [
    ("champions", _("Champions")),                      # 冠军客户
    ("loyal", pgettext_lazy("rfm segment", "Loyal")),   # 忠诚客户
    ("potential_loyalists", _("Potential loyalists")),  # 潜在忠诚客户
    ("new", _("New customers")),                        # 新客户
    ("promising", _("Promising")),                      # 有潜力客户
    ("need_attention", _("Need attention")),            # 需要关注
    ("about_to_sleep", _("About to sleep")),            # 即将沉睡
    ("at_risk", _("At risk")),                          # 有流失风险
    ("cant_lose", _("Can't lose them")),                # 不能失去
    ("hibernating", _("Hibernating")),                  # 休眠客户
]

# The seeds' four business tiers.
VALUE_TIERS = [
    ("high_value", _("High value")),    # 高价值客户
    ("potential", _("Potential")),      # 潜力客户
    ("dormant", _("Dormant")),          # 沉睡客户
    ("general", _("General value")),    # 一般价值客户
    ("no_purchases", _("No purchases")),  # 无购买: never bought; R/F/M empty
]
