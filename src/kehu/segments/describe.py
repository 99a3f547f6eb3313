"""A normalised segment definition read out as sentences in the user's language: what the
segment page, rule pages and dry-run explanations show instead of JSON ("购买次数 ≥ 2（近
30 天）", "标签 含任一 VIP").

`describe(tree)` returns nested lines: `{"text": str, "children": [...]}` for groups, plain
`{"text": str}` for conditions. Codes become labels (fields, operators, choices, interaction
and ticket kinds, event types); users and teams their names.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from kehu.core import labels
from kehu.segments.fields import OPERATOR_LABELS

_COUNT_OPS = {"gte": "≥", "gt": ">", "lte": "≤", "lt": "<", "eq": "="}


def describe(tree: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The lines of a validated (normalised) definition; an empty group reads "all customers"."""
    if not tree:
        return [{"text": _("All customers")}]
    if tree.get("type") == "group" and not tree.get("conditions"):
        return [{"text": _("All customers")}]
    return [_line(tree, _Names(tree))]


def describe_text(tree: dict[str, Any] | None) -> str:
    """The definition as one line of text (for logs, notifications and dry-run reasons)."""
    def flat(line: dict[str, Any]) -> str:
        children = line.get("children")
        if not children:
            return line["text"]
        joiner = "；" if len(children) > 1 else ""
        return f"{line['text']}{joiner.join(flat(c) for c in children)}"
    return "；".join(flat(line) for line in describe(tree))


class _Names:
    """User and team names for the ids a definition mentions, looked up once."""

    def __init__(self, tree: dict[str, Any]):
        from kehu.accounts.models import Team, User
        from kehu.segments.definition import Catalogue

        users, teams = set(), set()
        self._walk(tree, users, teams)
        self.fields = Catalogue.load().fields if self._custom else {}

        self.users = {u.pk: str(u) for u in User.objects.filter(pk__in=users)} if users else {}
        self.teams = dict(Team.objects.filter(pk__in=teams).values_list("pk", "name")
                          ) if teams else {}

    _custom = False

    def _walk(self, node, users, teams):
        if not isinstance(node, dict):
            return
        if str(node.get("field", "")).startswith("custom."):
            self._custom = True
        if node.get("type") == "group":
            for child in node.get("conditions") or []:
                self._walk(child, users, teams)
        elif node.get("type") == "not":
            self._walk(node.get("condition"), users, teams)
        elif node.get("type") == "field" and node.get("field") in ("owner", "team"):
            values = node.get("value")
            target = users if node["field"] == "owner" else teams
            for value in values if isinstance(values, list) else [values]:
                if isinstance(value, int):
                    target.add(value)


def _line(node: dict[str, Any], names: _Names) -> dict[str, Any]:
    kind = node.get("type")
    if kind == "group":
        head = (_("All of these:") if node.get("match", "all") == "all"
                else _("Any of these:"))
        return {"text": head, "children": [_line(c, names) for c in node.get("conditions", [])]}
    if kind == "not":
        return {"text": _("Not:"), "children": [_line(node["condition"], names)]}
    if kind == "field":
        return {"text": _field(node, names)}
    from kehu.segments.definition import CONDITION_TYPES

    if kind in CONDITION_TYPES and CONDITION_TYPES[kind].describe is not None:
        return {"text": CONDITION_TYPES[kind].describe(node)}
    if kind == "spend":
        amount = _("Spent %(op)s ¥%(value)s") % {"op": _COUNT_OPS.get(node["op"], node["op"]),
                                                 "value": node["value"]}
        return {"text": f"{amount}{_window(node)}"}
    return {"text": _activity(node)}


def _field(node: dict[str, Any], names: _Names) -> str:
    key, op, value = node["field"], node["op"], node.get("value")
    from kehu.segments.fields import FIELDS

    spec = FIELDS.get(key) or names.fields.get(key)
    label = str(spec.label) if spec else key
    op_label = str(OPERATOR_LABELS.get(op, op))
    if op in ("is_set", "is_not_set"):
        return f"{label} {op_label}"
    if op in ("in_last_days", "not_in_last_days", "anniversary_next_days"):
        text = {"in_last_days": _("in the last %d days"),
                "not_in_last_days": _("not in the last %d days"),
                "anniversary_next_days": _("anniversary in the next %d days")}[op] % value
        return f"{label} {text}"
    if op == "anniversary_days" and isinstance(value, list | tuple) and len(value) == 2:
        return f"{label} " + _("anniversary %(a)d to %(b)d days from today") % {
            "a": value[0], "b": value[1]}
    choices = dict(spec.choices()) if spec and spec.choices else {}

    def one(item: Any) -> str:
        if key == "owner":
            return _("me") if item == "me" else names.users.get(item, f"#{item}")
        if key == "team":
            return names.teams.get(item, f"#{item}")
        if item is True:
            return _("yes")
        if item is False:
            return _("no")
        return str(choices.get(item, item))

    if op == "between" and isinstance(value, list | tuple) and len(value) == 2:
        shown = _("%(a)s to %(b)s") % {"a": one(value[0]), "b": one(value[1])}
    elif isinstance(value, list | tuple):
        shown = "、".join(one(v) for v in value)
    else:
        shown = one(value)
    return f"{label} {op_label} {shown}"


def _activity(node: dict[str, Any]) -> str:
    kind, name = node["type"], node.get("name")
    if kind == "event":
        what = _("Event “%s”") % (labels.choice_label("event.event_type", name) if name
                                  else _("any"))
    elif kind == "interaction":
        what = (_("Interaction: %s") % labels.choice_label("interaction.kind", name) if name
                else _("Any interaction"))
    elif kind == "ticket":
        what = (_("Ticket: %s") % labels.choice_label("ticket.kind", name) if name
                else _("Any ticket"))
    elif node.get("product"):
        what = _("Bought product %s") % node["product"]
    elif node.get("category"):
        what = _("Bought in category %s") % node["category"]
    else:
        what = _("Purchases")
    where = "".join(
        f"，{labels.choice_label('event.property', item['property'])} "
        f"{OPERATOR_LABELS.get(item['op'], item['op'])}"
        + (f" {item['value']}" if "value" in item and item.get("value") is not None else "")
        for item in node.get("where") or [])
    count = node.get("count") or {"op": "gte", "value": 1}
    if count == {"op": "gte", "value": 1}:
        times = _("at least once")
    elif count in ({"op": "lt", "value": 1}, {"op": "eq", "value": 0}):
        times = _("never")
    else:
        times = _("%(op)s %(n)s times") % {"op": _COUNT_OPS.get(count["op"], count["op"]),
                                           "n": count["value"]}
    return f"{what}{where}：{times}{_window(node)}"


def _window(node: dict[str, Any]) -> str:
    if node.get("within_days"):
        return _("（in the last %d days）") % node["within_days"]
    if node.get("between"):
        start, end = node["between"]
        return _("（%(a)s to %(b)s）") % {"a": start, "b": end}
    return ""
