"""The rule templates kehu ships (seed 002 §4), ready to enable: each becomes a draft rule
the user reviews, dry-runs and activates.

Templates adapt to the installation when made: a role, tag or event type they would name
is used only if it exists (a finance role, the demo's 白金会员 tag, `contract.signed`).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

TEMPLATES: dict[str, Any] = {
    "signed_invoice": _lazy("Signed → tell finance to invoice"),
    "high_value_30d": _lazy("High value, no follow-up for 30 days → alert owner and manager"),
    "no_follow_up_180d": _lazy("No follow-up for 180 days → verify the customer's details"),
    "birthday_7d": _lazy("7 days before a birthday → birthday greetings"),
    "new_lead_assign": _lazy("New lead → assign by region / industry and create a to-do"),
    "complaint_tag": _lazy("Recent complaint → tag and notify the service supervisor"),
}


def _role(*codes: str) -> str:
    from django.apps import apps

    existing = set(apps.get_model("accounts", "Role").objects.values_list("code", flat=True))
    return next((c for c in codes if c in existing), "admin")


def _tag_exists(name: str) -> bool:
    from django.apps import apps

    return apps.get_model("customers", "Tag").objects.filter(name__iexact=name).exists()


def _all(*conditions) -> dict[str, Any]:
    return {"type": "group", "match": "all", "conditions": [c for c in conditions if c]}


def template_rule(key: str) -> dict[str, Any] | None:
    """The rule_create arguments of template `key`, or None."""
    from kehu.core.events import EVENT_TYPES

    if key not in TEMPLATES:
        return None
    name = str(TEMPLATES[key])
    if key == "signed_invoice":
        finance = _role("finance", "accountant", "admin")
        trigger = {"kind": "contract_signed"} if "contract.signed" in EVENT_TYPES else {
            "kind": "lifecycle_changed", "to": "customer"}
        return {"name": name, "trigger": trigger, "conditions": _all(), "description": _(
            "When a customer signs (becomes a paying customer), finance is notified and "
            "emailed to issue the invoice. Change the role if finance has its own."),
                "actions": [
                    {"kind": "notify", "to": "role", "role": finance,
                     "title": _("Please invoice {{ customer.name }}"),
                     "body": _("{{ customer.name }} has signed (owner: {{ customer.owner }}).")},
                    {"kind": "email_users", "to": "role", "role": finance,
                     "subject": _("Invoice reminder: {{ customer.name }}"),
                     "body": _("{{ customer.name }} has signed; please issue the invoice. "
                               "Owner: {{ customer.owner }}.")}]}
    if key == "high_value_30d":
        return {"name": name, "trigger": {"kind": "no_interaction", "days": 30},
                "conditions": _all({"type": "field", "field": "value_tier", "op": "eq",
                                    "value": "high_value"}),
                "description": _("A high-value customer nobody has contacted for 30 days: a "
                                 "task and a notification for the owner and their manager."),
                "actions": [
                    {"kind": "follow_up", "to": "owner_and_manager", "due_days": 1,
                     "title": _("High-value customer {{ customer.name }}: no follow-up for "
                                "30 days")},
                    {"kind": "notify", "to": "owner_and_manager",
                     "title": _("{{ customer.name }} has not been followed up for 30 days"),
                     "body": _("A high-value customer of {{ customer.owner }}.")}]}
    if key == "no_follow_up_180d":
        return {"name": name, "trigger": {"kind": "no_interaction", "days": 180},
                "conditions": _all(),
                "description": _("No follow-up record for 180 days: the owner verifies and "
                                 "updates the customer's details."),
                "actions": [
                    {"kind": "follow_up", "to": "owner", "due_days": 7,
                     "title": _("Verify and update the details of {{ customer.name }}")},
                    {"kind": "add_tag", "tag": _("To verify")}]}
    if key == "birthday_7d":
        platinum = "白金会员"
        return {"name": name, "trigger": {"kind": "before_anniversary", "field": "birthday",
                                          "days": 7},
                "conditions": _all(
                    {"type": "field", "field": "kind", "op": "eq", "value": "person"},
                    {"type": "field", "field": "tags", "op": "has_any", "value": [platinum]}
                    if _tag_exists(platinum) else None),
                "description": _("Seven days before a (platinum) member's birthday: a greeting "
                                 "by email (marketing consent applies) and a reminder for the "
                                 "owner to prepare a gift."),
                "actions": [
                    {"kind": "email_customer", "purpose": "marketing",
                     "subject": "{{ customer.name }}，生日快乐！",
                     "body": "亲爱的{{ customer.name }}：\n\n提前祝您生日快乐！我们为您准备了一份"
                             "专属生日礼遇，期待与您分享。",
                     "subject_en": "Happy birthday, {{ customer.name }}!",
                     "body_en": "Dear {{ customer.name }},\n\nAn early happy birthday from all "
                                "of us! A birthday gift is waiting for you."},
                    {"kind": "follow_up", "to": "owner", "due_days": 3,
                     "title": _("Birthday of {{ customer.name }} soon: prepare a gift")}]}
    if key == "new_lead_assign":
        return {"name": name, "trigger": {"kind": "customer_created"},
                "conditions": _all({"type": "field", "field": "lifecycle_stage", "op": "eq",
                                    "value": "lead"}),
                "description": _("A new lead is assigned through the assignment rules (region, "
                                 "industry …) and its new owner gets a first-contact to-do."),
                "actions": [
                    {"kind": "assign_owner"},
                    {"kind": "follow_up", "to": "owner", "due_days": 1,
                     "title": _("First contact with the new lead {{ customer.name }}")}]}
    supervisor = _role("service_manager", "service_supervisor", "sales_manager")
    return {"name": name, "trigger": {"kind": "ticket_opened", "ticket_kind": "complaint"},
            "conditions": _all(),
            "description": _("A complaint ticket tags the customer and notifies the service "
                             "supervisors."),
            "actions": [
                {"kind": "add_tag", "tag": "投诉过"},
                {"kind": "notify", "to": "role", "role": supervisor,
                 "title": _("Complaint from {{ customer.name }}"),
                 "body": _("Owner: {{ customer.owner }}.")}]}
