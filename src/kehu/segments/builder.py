"""The builder page's form <-> definition: each node's inputs are named by its position
(`r`, `r.c0`, `r.c1.c0` …), so the page is plain form fields that htmx posts back whole.

Parsing is lenient (values keep their text when they do not parse) so `definition.validate`
reports the problem with the node's path instead of the form losing the input.
"""

from __future__ import annotations

import copy
from typing import Any

from django.utils.translation import gettext_lazy as _

from kehu.segments.fields import OPERATOR_LABELS, OPERATORS

MAX_CHILDREN = 20
NODE_TYPES = [("field", _("Customer field")), ("event", _("Did an event")),
              ("purchase", _("Bought")), ("spend", _("Spent")),
              ("interaction", _("Interaction")), ("ticket", _("Service ticket")),
              ("group", _("Group of conditions"))]
LIST_OPS = {"in", "not_in", "has_any", "has_all", "has_none"}
PAIR_OPS = {"between", "anniversary_days"}
NUMBER_KINDS = {"number"}
INT_OPS = {"in_last_days", "not_in_last_days", "anniversary_next_days"}


def _extension(kind: str):
    """The registered condition type a higher app added for the builder (privacy's consent),
    or None."""
    from kehu.segments.definition import CONDITION_TYPES

    found = CONDITION_TYPES.get(kind)
    return found if found is not None and found.label is not None else None


def node_types() -> list[tuple[str, Any]]:
    """The blocks the builder offers: the built-in ones, then the registered ones."""
    from kehu.segments.definition import CONDITION_TYPES

    extra = [(name, ct.label) for name, ct in CONDITION_TYPES.items() if ct.label is not None]
    return NODE_TYPES[:-1] + extra + NODE_TYPES[-1:]


def blank(kind: str) -> dict[str, Any]:
    extension = _extension(kind)
    if extension is not None:
        return extension.blank()
    if kind == "group":
        return {"type": "group", "match": "all", "conditions": []}
    if kind == "field":
        return {"type": "field", "field": "region", "op": "eq", "value": ""}
    if kind == "spend":
        return {"type": "spend", "op": "gte", "value": 1000, "within_days": 365}
    if kind == "event":
        return {"type": "event", "name": "page_view", "within_days": 30}
    return {"type": kind, "within_days": 30}


def _number(text: str):
    text = (text or "").strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() else number


def _split(text: str) -> list[str]:
    import re

    return [part.strip() for part in re.split(r"[,，;；、]", text or "") if part.strip()]


def parse(data, fields: dict, prefix: str = "r") -> dict[str, Any]:
    """The definition a posted builder form describes (not validated)."""
    kind = data.get(f"{prefix}.type", "group")
    if kind == "group":
        children = []
        count = min(int(_number(data.get(f"{prefix}.n", "0")) or 0)
                    if str(data.get(f"{prefix}.n", "0")).isdigit() else 0, MAX_CHILDREN)
        for index in range(count):
            children.append(parse(data, fields, f"{prefix}.c{index}"))
        node: dict[str, Any] = {"type": "group", "match": data.get(f"{prefix}.match", "all"),
                                "conditions": children}
    elif kind == "field":
        node = _parse_field(data, fields, prefix)
    elif _extension(kind) is not None:
        node = _extension(kind).parse(data, prefix)
    elif kind == "spend":
        node = {"type": "spend", "op": data.get(f"{prefix}.op", "gte"),
                "value": _number(data.get(f"{prefix}.value", ""))}
        _parse_window(data, prefix, node)
    else:
        node = {"type": kind}
        if kind == "purchase":
            for key in ("product", "category"):
                if data.get(f"{prefix}.{key}", "").strip():
                    node[key] = data[f"{prefix}.{key}"].strip()
        elif data.get(f"{prefix}.name", "").strip():
            node["name"] = data[f"{prefix}.name"].strip()
        if kind == "event" and data.get(f"{prefix}.prop", "").strip():
            prop_op = data.get(f"{prefix}.prop_op", "contains")
            item = {"property": data[f"{prefix}.prop"].strip(), "op": prop_op}
            if prop_op not in ("is_set", "is_not_set"):
                raw = data.get(f"{prefix}.prop_value", "")
                item["value"] = _number(raw) if prop_op in ("gt", "gte", "lt", "lte") else raw
            node["where"] = [item]
        count_op = data.get(f"{prefix}.count_op", "gte")
        count_value = _number(data.get(f"{prefix}.count", "1"))
        if data.get(f"{prefix}.did", "yes") == "no":
            node["did"] = False
        if not (count_op == "gte" and count_value == 1):
            node["count"] = {"op": count_op, "value": count_value}
        _parse_window(data, prefix, node)
    if data.get(f"{prefix}.not") == "on" and prefix != "r":
        return {"type": "not", "condition": node}
    return node


def _parse_window(data, prefix, node):
    days = (data.get(f"{prefix}.days") or "").strip()
    start, end = data.get(f"{prefix}.from", "").strip(), data.get(f"{prefix}.to", "").strip()
    if start or end:
        node["between"] = [start, end]
    elif days:
        node["within_days"] = _number(days)


def _parse_field(data, fields, prefix):
    key = data.get(f"{prefix}.field", "region")
    spec = fields.get(key)
    ops = OPERATORS[spec.kind] if spec else ()
    op = data.get(f"{prefix}.op", "")
    if op not in ops and ops:
        op = ops[0]
    node: dict[str, Any] = {"type": "field", "field": key, "op": op}
    if op in ("is_set", "is_not_set"):
        return node
    raw, raw2 = data.get(f"{prefix}.value", ""), data.get(f"{prefix}.value2", "")
    kind = spec.kind if spec else "text"
    if op in PAIR_OPS:
        convert = _number if kind in NUMBER_KINDS or op == "anniversary_days" else str.strip
        node["value"] = [convert(raw), convert(raw2)]
    elif op in LIST_OPS:
        parts = _split(raw)
        node["value"] = [_number(p) for p in parts] if kind in ("user", "team") else parts
    elif op in INT_OPS or kind in NUMBER_KINDS or (kind in ("user", "team") and raw != "me"):
        node["value"] = _number(raw)
    elif kind == "boolean":
        node["value"] = raw == "true"
    else:
        node["value"] = raw.strip()
    return node


def apply_edit(definition: dict[str, Any], edit: str) -> dict[str, Any]:
    """`add:<prefix>:<type>` appends a blank condition to that group; `remove:<prefix>`
    drops a node. Unknown edits change nothing."""
    tree = copy.deepcopy(definition)
    parts = edit.split(":")
    if parts[0] == "add" and len(parts) == 3 and parts[2] in dict(node_types()):
        group = _find(tree, parts[1])
        if group is not None and group.get("type") == "group" and len(
                group["conditions"]) < MAX_CHILDREN:
            group["conditions"].append(blank(parts[2]))
    elif parts[0] == "remove" and len(parts) == 2 and parts[1] != "r":
        parent_prefix, _sep, last = parts[1].rpartition(".")
        parent = _find(tree, parent_prefix)
        if parent is not None and last.startswith("c") and last[1:].isdigit():
            index = int(last[1:])
            if parent.get("type") == "group" and index < len(parent["conditions"]):
                del parent["conditions"][index]
    return tree


def _find(tree, prefix):
    node = tree
    for part in prefix.split(".")[1:]:
        if node.get("type") == "not":
            node = node["condition"]
        if node.get("type") != "group" or not part[1:].isdigit():
            return None
        index = int(part[1:])
        if index >= len(node["conditions"]):
            return None
        node = node["conditions"][index]
    if node.get("type") == "not":
        node = node["condition"]
    return node


def view_tree(node: dict[str, Any], fields: dict, prefix: str = "r") -> dict[str, Any]:
    """The definition laid out for the template: each node with its prefix, its operators
    and its values as the inputs show them."""
    negated = node.get("type") == "not"
    inner = node["condition"] if negated else node
    kind = inner.get("type", "field")
    out: dict[str, Any] = {"prefix": prefix, "type": kind, "negated": negated, "raw": inner}
    if kind == "group":
        out["match"] = inner.get("match", "all")
        out["children"] = [view_tree(child, fields, f"{prefix}.c{i}")
                           for i, child in enumerate(inner.get("conditions", []))]
        out["n"] = len(out["children"])
        return out
    extension = _extension(kind)
    if extension is not None:
        out["template"] = extension.template
        out.update(extension.view(inner))
        return out
    if kind == "field":
        spec = fields.get(inner.get("field"))
        ops = OPERATORS[spec.kind] if spec else ()
        out["ops"] = [(op, OPERATOR_LABELS.get(op, op)) for op in ops]
        out["spec"] = spec
        out["choices"] = spec.choices() if spec and spec.choices else None
        value = inner.get("value", "")
        if inner.get("op") in PAIR_OPS and isinstance(value, list) and len(value) == 2:
            out["value"], out["value2"] = value
        elif isinstance(value, list):
            out["value"] = ", ".join(str(v) for v in value)
        elif isinstance(value, bool):
            out["value"] = "true" if value else "false"
        else:
            out["value"] = value
        out["pair"] = inner.get("op") in PAIR_OPS
        out["list_op"] = inner.get("op") in LIST_OPS
        out["needs_value"] = inner.get("op") not in ("is_set", "is_not_set")
        return out
    out["days"] = inner.get("within_days", "")
    between = inner.get("between") or ["", ""]
    out["from"], out["to"] = between[0], between[1]
    if kind == "spend":
        return out
    count = inner.get("count") or {"op": "gte", "value": 1}
    out["did"] = "no" if inner.get("did") is False else "yes"
    if count == {"op": "eq", "value": 0}:
        # A stored "did not" (normalised to "exactly 0 times") reads as the user wrote it.
        out["did"], count = "no", {"op": "gte", "value": 1}
    out["count_op"], out["count"] = count.get("op", "gte"), count.get("value", 1)
    where = (inner.get("where") or [{}])[0]
    out["prop"], out["prop_op"] = where.get("property", ""), where.get("op", "contains")
    out["prop_value"] = where.get("value", "")
    return out
