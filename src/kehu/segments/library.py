"""Starting points for the builder: the seeds' examples as definitions."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

TEMPLATES = {
    "east_bought_a_viewed_b": {
        "label": _("East China customers who bought product A in the last 30 days and viewed "
                   "product B's accessory page"),
        "definition": {"type": "group", "match": "all", "conditions": [
            {"type": "field", "field": "region", "op": "eq", "value": "华东"},
            {"type": "purchase", "product": "A", "within_days": 30},
            {"type": "event", "name": "page_view", "within_days": 30,
             "where": [{"property": "url", "op": "contains", "value": "/products/b/accessories"}]},
        ]},
    },
    "platinum_birthday": {
        "label": _("Platinum members with a birthday in the next 7 days"),
        "definition": {"type": "group", "match": "all", "conditions": [
            {"type": "field", "field": "tags", "op": "has_any", "value": ["白金会员"]},
            {"type": "field", "field": "birthday", "op": "anniversary_next_days", "value": 7},
        ]},
    },
    "recent_complaint": {
        "label": _("Complained in the last 30 days (rule tag 近期有投诉)"),
        "definition": {"type": "group", "match": "all", "conditions": [
            {"type": "ticket", "name": "complaint", "within_days": 30},
        ]},
    },
    "frequent_buyers": {
        "label": _("Frequent buyers: at least 5 orders in 365 days (rule tag 高频次购买者)"),
        "definition": {"type": "group", "match": "all", "conditions": [
            {"type": "purchase", "count": {"op": "gte", "value": 5}, "within_days": 365},
        ]},
    },
    "dormant": {
        "label": _("Dormant: no purchase and no interaction for 180 days"),
        "definition": {"type": "group", "match": "all", "conditions": [
            {"type": "purchase", "did": False, "within_days": 180},
            {"type": "interaction", "did": False, "within_days": 180},
        ]},
    },
    "big_spenders_not_contacted": {
        "label": _("Spent at least ¥10,000 this year but not contacted for 30 days"),
        "definition": {"type": "group", "match": "all", "conditions": [
            {"type": "spend", "op": "gte", "value": 10000, "within_days": 365},
            {"type": "field", "field": "last_activity_at", "op": "not_in_last_days",
             "value": 30},
        ]},
    },
}
