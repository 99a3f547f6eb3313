"""Readable labels for the codes kept in data: one presenter for choice values, field names
and audit actions, so no page shows `wechat`, `wechat_mp`, `lifecycle_stage` or `lead`.

Core knows no customer: each app registers its own vocabulary in its AppConfig.ready()
(`register_choices`, `register_object`), and pages read it through the `kehu_labels`
template filters. Unknown codes come back as they are, never as an error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.utils.translation import get_language, gettext_lazy, pgettext_lazy
from django.utils.translation import gettext as _

from kehu.core.permissions import FIELD_MODES, SCOPES, SENSITIVE_FIELDS

# domain -> {code: lazy label}
_CHOICES: dict[str, dict[str, Any]] = {}
# object type -> its label, its fields' labels, and which choice domain each field's values use
_OBJECTS: dict[str, Any] = {}
_FIELDS: dict[str, dict[str, Any]] = {}
_FIELD_VALUES: dict[str, dict[str, str]] = {}

# The verbs of audit actions ("customer.update" reads "Update customer", 客户：修改).
_VERBS = {
    "create": pgettext_lazy("audit verb", "Create"),
    "update": pgettext_lazy("audit verb", "Update"),
    "delete": pgettext_lazy("audit verb", "Delete"),
    "merge": pgettext_lazy("audit verb", "Merge"),
    "unmerge": pgettext_lazy("audit verb", "Undo merge"),
    "assign": pgettext_lazy("audit verb", "Reassign"),
    "reveal": pgettext_lazy("audit verb", "Reveal ID number of"),
    "export": pgettext_lazy("audit verb", "Export"),
    "import": pgettext_lazy("audit verb", "Import"),
    "tag_add": pgettext_lazy("audit verb", "Tag"),
    "tag_remove": pgettext_lazy("audit verb", "Untag"),
    "identifier_add": pgettext_lazy("audit verb", "Add identifier to"),
    "identifier_remove": pgettext_lazy("audit verb", "Remove identifier from"),
    "identifier_primary": pgettext_lazy("audit verb", "Set primary identifier of"),
    "address_set": pgettext_lazy("audit verb", "Set address of"),
    "address_remove": pgettext_lazy("audit verb", "Remove address from"),
    "contact_save": pgettext_lazy("audit verb", "Save contact of"),
    "contact_remove": pgettext_lazy("audit verb", "Remove contact from"),
    "complete": pgettext_lazy("audit verb", "Complete"),
    "cancel": pgettext_lazy("audit verb", "Cancel"),
    "reschedule": pgettext_lazy("audit verb", "Reschedule"),
    "status": pgettext_lazy("audit verb", "Change status of"),
    "open": pgettext_lazy("audit verb", "Open"),
    "rate": pgettext_lazy("audit verb", "Rate"),
    "refresh": pgettext_lazy("audit verb", "Refresh"),
    "run": pgettext_lazy("audit verb", "Run"),
    "scan": pgettext_lazy("audit verb", "Scan"),
    "dismiss": pgettext_lazy("audit verb", "Dismiss"),
    "ingest": pgettext_lazy("audit verb", "Ingest"),
    "save": pgettext_lazy("audit verb", "Save"),
    "password": pgettext_lazy("audit verb", "Change password of"),
    "unlock": pgettext_lazy("audit verb", "Unlock"),
    "revoke": pgettext_lazy("audit verb", "Revoke"),
    "settings": pgettext_lazy("audit verb", "Change settings of"),
    "snapshot": pgettext_lazy("audit verb", "Snapshot"),
    "recompute": pgettext_lazy("audit verb", "Recompute"),
    "remind": pgettext_lazy("audit verb", "Remind about"),
    "rule_sync": pgettext_lazy("audit verb", "Apply rule of"),
    "load": pgettext_lazy("audit verb", "Load"),
}


def register_choices(domain: str, choices: Iterable[tuple[str, Any]] | Mapping[str, Any]) -> None:
    """Add (code, label) pairs to a vocabulary, e.g. "identifier.kind"."""
    pairs = choices.items() if isinstance(choices, Mapping) else choices
    _CHOICES.setdefault(domain, {}).update({str(code): label for code, label in pairs})


def register_object(object_type: str, label: Any, *, fields: Mapping[str, Any] | None = None,
                    values: Mapping[str, str] | None = None) -> None:
    """An audited object type: its label, its fields' labels and, for fields holding codes,
    the choice domain their values are read in."""
    _OBJECTS[object_type] = label
    _FIELDS.setdefault(object_type, {}).update(fields or {})
    _FIELD_VALUES.setdefault(object_type, {}).update(values or {})


def register_model(object_type: str, model, *, fields: Mapping[str, Any] | None = None,
                   values: Mapping[str, str] | None = None) -> None:
    """register_object from a model: its verbose name, each field's verbose name, and its
    fields' choices as the domains "<object_type>.<field>" (foreign keys by their name)."""
    labels: dict[str, Any] = {}
    domains: dict[str, str] = {}
    for model_field in model._meta.concrete_fields:
        labels[model_field.name] = model_field.verbose_name
        if model_field.choices:
            domain = f"{object_type}.{model_field.name}"
            register_choices(domain, model_field.flatchoices)
            domains[model_field.name] = domain
    register_object(object_type, model._meta.verbose_name, fields={**labels, **(fields or {})},
                    values={**domains, **(values or {})})


def choice_label(domain: str, code: Any) -> str:
    """The label of `code` in `domain`; the code itself when unknown; "" for empty."""
    if code is None or code == "":
        return ""
    label = _CHOICES.get(domain, {}).get(str(code))
    return str(label) if label is not None else str(code)


def object_label(object_type: str) -> str:
    label = _OBJECTS.get(object_type)
    return str(label) if label is not None else object_type


def field_label(object_type: str, field: str, custom: Mapping[str, str] | None = None) -> str:
    """A field of an object type as people read it; custom fields ("custom.<key>") by the
    labels in `custom`, else by their key."""
    label = _FIELDS.get(object_type, {}).get(field)
    if label is not None:
        return str(label)
    if field.startswith("custom."):
        key = field.removeprefix("custom.")
        return str((custom or {}).get(key) or key)
    return field


def field_value(object_type: str, field: str, value: Any) -> Any:
    """A recorded value as people read it: codes as labels, lists joined, the rest as is."""
    domain = _FIELD_VALUES.get(object_type, {}).get(field)
    if isinstance(value, list | tuple):
        separator = "、" if (get_language() or "").startswith("zh") else ", "
        return separator.join(str(field_value(object_type, field, item)) for item in value)
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if domain == "identifier.described" and isinstance(value, str):
        return identifier_label(value)
    if domain and isinstance(value, str):
        return choice_label(domain, value)
    return value


def identifier_label(described: str) -> str:
    """"wechat:wx_1" / "external:tmall:T88" (how identifiers are audited) as 微信 wx_1 /
    天猫 T88."""
    kind, _sep, rest = described.partition(":")
    if kind == "external" and ":" in rest:
        system, _sep, value = rest.partition(":")
        return f"{choice_label('identifier.system', system)} {value}"
    return f"{choice_label('identifier.kind', kind)} {rest}" if rest else choice_label(
        "identifier.kind", kind)


def action_label(action: str) -> str:
    """"customer.update" as 修改客户 (Update customer)."""
    known = _CHOICES.get("audit.action", {}).get(action)
    if known is not None:
        return str(known)
    object_type, _sep, verb = action.partition(".")
    if verb in _VERBS and object_type in _OBJECTS:
        return _("%(verb)s %(object)s") % {"verb": _VERBS[verb], "object": object_label(object_type)}
    return action


def present_changes(object_type: str, changes: Mapping[str, Any] | None,
                    custom: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """An audit entry's changes as rows of (field label, before, after) or (label, value),
    values read through `field_value`. Masking is the caller's (it happened before)."""
    rows = []
    for field, change in (changes or {}).items():
        if field == "version":
            continue
        label = field_label(object_type, field, custom)
        if isinstance(change, dict) and set(change) == {"before", "after"}:
            rows.append({"field": field, "label": label, "is_change": True,
                         "before": field_value(object_type, field, change["before"]),
                         "after": field_value(object_type, field, change["after"])})
        else:
            rows.append({"field": field, "label": label, "is_change": False,
                         "value": field_value(object_type, field, change)})
    return rows


register_choices("audit.via", {"web": gettext_lazy("Web"), "api": gettext_lazy("API"),
                               "cli": gettext_lazy("Command line"),
                               "system": gettext_lazy("System")})
register_choices("access.scope", SCOPES)
register_choices("access.field_mode", FIELD_MODES)
register_choices("access.field", SENSITIVE_FIELDS)
