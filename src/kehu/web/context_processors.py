"""Navigation built from the signed-in user's permissions, so menus never offer a denied page."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

# (url name, label, permission or None for everyone signed in)
NAVIGATION = [
    ("web:home", _("Home"), None),
    ("dashboards:index", _("Dashboards"), None),
    ("reports:index", _("Reports"), "report.view"),
    ("customers:list", _("Customers"), "customer.view"),
    ("interactions:follow_ups", _("My tasks"), "customer.view"),
    ("pipeline:board", _("Deals"), "customer.view"),
    ("transactions:orders", _("Orders"), "customer.view"),
    ("service:queue", _("Service desk"), "customer.view"),
    ("insights:churn", _("Churn warning"), "scoring.view"),
    ("segments:list", _("Segments"), "segment.view"),
    ("automation:list", _("Rules"), "rule.manage"),
    ("scoring:rfm", _("Customer value"), "scoring.view"),
    ("prediction:validation", _("Prediction"), "scoring.view"),
    ("quality:dashboard", _("Data quality"), "quality.view"),
    ("assignment:rules", _("Lead assignment"), "assignment.manage"),
    ("core:audit", _("Audit log"), None),
    ("privacy:requests", _("Privacy"), "privacy.manage"),
]
ADMIN_NAVIGATION = [
    ("accounts:users", _("Users"), "user.manage"),
    ("accounts:teams", _("Teams"), "team.manage"),
    ("accounts:roles", _("Roles"), "role.manage"),
    ("accounts:apikeys", _("API keys"), "apikey.manage"),
    ("interchange:imports", _("Import"), "customer.import"),
    ("customers:tags", _("Tags"), "segment.manage"),
    ("customers:designer", _("Form designer"), "form.design"),
    ("scoring:settings", _("Scoring settings"), "scoring.configure"),
    ("insights:settings", _("Churn and signal settings"), "scoring.configure"),
    ("identity:queue", _("Duplicates"), "customer.merge"),
    ("web:jobs", _("Background jobs"), None),
    ("accounts:security", _("Security"), None),
    ("core:events", _("Event deliveries"), "event.manage"),
    ("integration:webhooks", _("Webhooks"), "webhook.manage"),
    ("integration:stitches", _("Visitor stitches"), "customer.merge"),
    ("notifications:outbox", _("Outgoing messages"), "event.manage"),
]


def _items(entries, user, current):
    items = []
    for name, label, permission in entries:
        if permission and not user.access.can(permission):
            continue
        url = reverse(name)
        items.append({"url": url, "label": label, "active": current == url or (
            url != "/" and current.startswith(url))})
    return items


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    current = request.path
    return {
        "nav_items": _items(NAVIGATION, user, current),
        "admin_nav_items": _items(ADMIN_NAVIGATION, user, current),
    }
