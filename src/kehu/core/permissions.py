"""The catalogue of object permissions and sensitive fields that roles can grant.

Roles are data (accounts.Role); this module only names what exists so role
pages can list it and role rows can be validated against it.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

PERMISSIONS: dict[str, object] = {
    "customer.view": _("View customers"),
    "customer.add": _("Create customers"),
    "customer.change": _("Edit customers"),
    "customer.delete": _("Delete customers"),
    "customer.assign": _("Reassign customer owners"),
    "customer.merge": _("Merge and unmerge customers"),
    "merge.configure": _("Configure which values a merge keeps"),
    "customer.import": _("Import data"),
    "customer.export": _("Export data"),
    "interaction.add": _("Log interactions"),
    "order.manage": _("Manage products and orders"),
    "ticket.manage": _("Manage service tickets"),
    "deal.manage": _("Manage deals, quotes, contracts and payments"),
    "target.manage": _("Set sales targets"),
    "pipeline.configure": _("Configure pipelines and their stages"),
    "service.configure": _("Configure SLA policies and business calendars"),
    "customfield.manage": _("Define custom fields"),
    "segment.view": _("View segments and their members"),
    "quality.view": _("See the data-quality page"),
    "quality.configure": _("Configure field rules and quality scoring"),
    "segment.manage": _("Manage tags and segments"),
    "scoring.view": _("View customer value scores and tiers"),
    "scoring.configure": _("Configure and run customer value scoring"),
    "rule.manage": _("Manage automation rules"),
    "privacy.manage": _("Handle consent and data requests"),
    "audit.view": _("Read the whole audit log"),
    "audit.export": _("Export the audit log"),
    "event.manage": _("See and replay failed event deliveries"),
    "webhook.manage": _("Manage outbound webhooks"),
    "user.manage": _("Manage users"),
    "team.manage": _("Manage teams"),
    "role.manage": _("Manage roles"),
    "apikey.manage": _("Create API keys for oneself"),
    "assignment.manage": _("Manage lead assignment rules and book transfers"),
    "form.design": _("Design the customer form and card"),
    "report.view": _("Build and run reports"),
    "report.share": _("Share report dashboards with everyone"),
}

# Fields whose visibility a role controls; anything else follows the object permissions.
SENSITIVE_FIELDS: dict[str, object] = {
    "customer.mobile": _("Mobile and phone numbers"),
    "customer.email": _("Email addresses"),
    "customer.id_number": _("Resident ID numbers"),
    "customer.birthday": _("Birthdays"),
    "customer.address": _("Street addresses"),
    "customer.wechat": _("WeChat IDs"),
}

# Values that are not sensitive fields themselves but give one away: a condition, filter, sort
# or search on them follows the field they come from (AccessPolicy.may_condition_on). An
# address's district (and postal code) narrows a resident ID number's region code to one
# county, so they follow customer.address; province, city and region stay free (the masked ID
# number already shows its first three digits). Gender is shown to everyone and only halves
# an ID number's sequence space, so it is not refused; docs/security.md keeps the reasoning.
DERIVED_FIELDS: dict[str, str] = {
    "customer.district": "customer.address",
    "customer.postal_code": "customer.address",
}

FIELD_EDIT = "edit"
FIELD_VIEW = "view"
FIELD_MASKED = "masked"
FIELD_HIDDEN = "hidden"
FIELD_MODES = {
    FIELD_EDIT: _("Edit"),
    FIELD_VIEW: _("View"),
    FIELD_MASKED: _("Masked"),
    FIELD_HIDDEN: _("Hidden"),
}

SCOPE_OWN = "own"
SCOPE_TEAM = "team"
SCOPE_ALL = "all"
SCOPES = {
    SCOPE_OWN: _("Own records"),
    SCOPE_TEAM: _("Team and sub-teams"),
    SCOPE_ALL: _("All records"),
}
