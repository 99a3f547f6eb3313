"""The roles every kehu starts with. They are rows afterwards: admins edit them freely."""

from __future__ import annotations

from django.utils.translation import gettext_noop

from kehu.core.permissions import PERMISSIONS

_CUSTOMER_WORK = ["customer.view", "customer.add", "customer.change", "interaction.add"]

# field_permissions: any sensitive field not named is masked.
DEFAULT_ROLES = [
    {
        "code": "admin",
        "name": gettext_noop("Administrator"),
        "description": gettext_noop("Everything, including users, roles and settings."),
        "permissions": sorted(PERMISSIONS),
        "record_scope": "all",
        "field_permissions": {
            "customer.mobile": "edit",
            "customer.email": "edit",
            "customer.id_number": "edit",
            "customer.birthday": "edit",
            "customer.address": "edit",
            "customer.wechat": "edit",
        },
    },
    {
        "code": "sales_manager",
        "name": gettext_noop("Sales manager"),
        "description": gettext_noop("Runs a sales team: sees the team's customers and reassigns them."),
        "permissions": _CUSTOMER_WORK + ["customer.assign", "customer.export", "customer.merge",
                                          "order.manage", "segment.view", "segment.manage",
                                          "apikey.manage", "scoring.view", "deal.manage",
                                          "target.manage", "pipeline.configure",
                                          "assignment.manage", "rule.manage",
                                          "report.view", "report.share"],
        "record_scope": "team",
        "field_permissions": {
            "customer.mobile": "edit",
            "customer.email": "edit",
            "customer.birthday": "edit",
            "customer.address": "edit",
            "customer.wechat": "edit",
        },
    },
    {
        "code": "sales_rep",
        "name": gettext_noop("Sales rep"),
        "description": gettext_noop("Works their own customers."),
        "permissions": _CUSTOMER_WORK + ["order.manage", "segment.view", "scoring.view",
                                         "deal.manage", "report.view"],
        "record_scope": "own",
        "field_permissions": {
            "customer.mobile": "edit",
            "customer.email": "edit",
            "customer.birthday": "edit",
            "customer.address": "edit",
            "customer.wechat": "edit",
        },
    },
    {
        "code": "marketer",
        "name": gettext_noop("Marketer"),
        "description": gettext_noop("Builds segments and campaigns over all customers; contact data masked."),
        "permissions": ["customer.view", "customer.export", "segment.view", "segment.manage",
                        "scoring.view", "scoring.configure", "rule.manage", "report.view",
                        "report.share"],
        "record_scope": "all",
        "field_permissions": {"customer.email": "view", "customer.birthday": "view",
                              "customer.id_number": "hidden"},
    },
    {
        "code": "service_agent",
        "name": gettext_noop("Service agent"),
        "description": gettext_noop("Looks up any caller, logs contacts and handles tickets."),
        "permissions": ["customer.view", "interaction.add", "ticket.manage"],
        "record_scope": "all",
        "field_permissions": {"customer.mobile": "view", "customer.email": "view",
                              "customer.address": "view"},
    },
    {
        "code": "data_steward",
        "name": gettext_noop("Data steward"),
        "description": gettext_noop("Keeps the data clean: imports, custom fields, duplicates and merges."),
        "permissions": ["customer.view", "customer.add", "customer.change", "customer.merge",
                        "customer.import", "customer.export", "customfield.manage",
                        "segment.view", "segment.manage", "scoring.view", "quality.view",
                        "quality.configure", "merge.configure", "form.design"],
        "record_scope": "all",
        "field_permissions": {
            "customer.mobile": "edit",
            "customer.email": "edit",
            "customer.birthday": "edit",
            "customer.address": "edit",
            "customer.wechat": "edit",
        },
    },
    {
        "code": "compliance_auditor",
        "name": gettext_noop("Compliance auditor"),
        "description": gettext_noop("Reads the audit log and handles privacy requests."),
        "permissions": ["customer.view", "audit.view", "audit.export", "privacy.manage",
                        "ticket.manage"],  # personal-information complaints are routed here
        "record_scope": "all",
        "field_permissions": {"customer.id_number": "view", "customer.mobile": "view",
                              "customer.email": "view"},
    },
    {
        "code": "read_only",
        "name": gettext_noop("Read only"),
        "description": gettext_noop("Looks, never touches; contact data masked."),
        "permissions": ["customer.view", "segment.view", "scoring.view"],
        "record_scope": "all",
        "field_permissions": {"customer.id_number": "hidden"},
    },
]
