"""The segment definition language: JSON in, a validated and normalised tree out.

A definition is a group::

    {"type": "group", "match": "all" | "any", "conditions": [<node>, ...]}

and a node is a group, `{"type": "not", "condition": <node>}`, or a condition:

- field:       {"type": "field", "field": "region", "op": "eq", "value": "华东"}
- event:       {"type": "event", "name": "page_view",
                "where": [{"property": "url", "op": "contains", "value": "/b/accessories"}],
                "did": true, "count": {"op": "gte", "value": 2}, "within_days": 30}
- interaction: {"type": "interaction", "name": "call", "did": false, "within_days": 30}
- ticket:      {"type": "ticket", "name": "complaint", "within_days": 30}
- purchase:    {"type": "purchase", "product": "SKU-A" | "category": "打印机",
                "count": {"op": "gte", "value": 1}, "between": ["2026-01-01", "2026-03-31"]}
- spend:       {"type": "spend", "op": "gte", "value": 5000, "within_days": 365}

`docs/segments.md` is the reference. Every error names the path of the bad node, e.g.
`conditions[2].value`, so a page or an API client can point at it.

The normalised tree is written in this same language (defaults filled in, `did` folded into
the count, the window kept as `within_days` / `between`), so it is what a segment stores and
validating it again gives it back unchanged: `validate(validate(d)) == validate(d)`. A key a
node does not know is an error, never silently ignored (a misspelt `within_day` would
otherwise count all time).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.utils.translation import gettext as _

from kehu.accounts.access import refusal_message
from kehu.core.errors import ValidationFailed
from kehu.segments.fields import FIELDS, OPERATORS, FieldSpec, custom_spec

MAX_DEPTH = 6
MAX_CONDITIONS = 60
MAX_DAYS = 36600
ACTIVITY_TYPES = ("event", "interaction", "ticket", "purchase")
COUNT_OPS = ("gte", "gt", "lte", "lt", "eq")
PROPERTY_OPS = ("eq", "ne", "contains", "starts_with", "gt", "gte", "lt", "lte", "is_set",
                "is_not_set")
NO_VALUE_OPS = ("is_set", "is_not_set")
WINDOW_KEYS = ("within_days", "between")
COUNT_KEYS = ("did", "count")
NODE_KEYS = {
    "group": ("type", "match", "conditions"),
    "not": ("type", "condition"),
    "field": ("type", "field", "op", "value"),
    "event": ("type", "name", "where", *COUNT_KEYS, *WINDOW_KEYS),
    # `where` is refused on the others with its own message (events only).
    "interaction": ("type", "name", "where", *COUNT_KEYS, *WINDOW_KEYS),
    "ticket": ("type", "name", "where", *COUNT_KEYS, *WINDOW_KEYS),
    "purchase": ("type", "product", "category", "where", *COUNT_KEYS, *WINDOW_KEYS),
    "spend": ("type", "op", "value", *WINDOW_KEYS),
}


@dataclass(frozen=True)
class ConditionType:
    """A condition type a higher app adds (privacy's "consent"): its keys, a validator
    (node, path, add_error) -> normalised node, and a compiler (node, ctx) -> Q over
    Customer. Registered in the app's ready(); segments never imports the app."""

    keys: tuple[str, ...]
    validate: Any
    compile: Any
    # The builder page's block for it (all optional; without `label` the builder does not
    # offer it): its name, a blank node, a parser (posted form, prefix) -> node, the
    # template inputs' context (node) -> dict, the template, and a description (node) -> text.
    label: Any = None
    blank: Any = None
    parse: Any = None
    view: Any = None
    template: str = ""
    describe: Any = None


CONDITION_TYPES: dict[str, ConditionType] = {}


def register_condition_type(name: str, condition: ConditionType) -> None:
    """Add a condition type (``{"type": name, ...}``) to the definition language."""
    CONDITION_TYPES[name] = condition


@dataclass
class Catalogue:
    """What names a definition may use: fields (custom ones included) and tag names.

    Looked up once per validation so a definition of 60 conditions costs two queries."""

    fields: dict[str, FieldSpec]
    tags: set[str] | None = None  # lower-cased names; None: load on first use

    @classmethod
    def load(cls) -> Catalogue:
        from django.apps import apps

        definitions = apps.get_model("customers", "CustomFieldDefinition").objects.filter(
            is_active=True)
        fields = dict(FIELDS)
        for definition in definitions:
            spec = custom_spec(definition)
            fields[spec.key] = spec
        return cls(fields=fields)

    def tag_names(self) -> set[str]:
        if self.tags is None:
            from django.apps import apps

            self.tags = {n.lower() for n in apps.get_model("customers", "Tag").objects
                         .values_list("name", flat=True)}
        return self.tags


class _Errors:
    def __init__(self):
        self.details: dict[str, list[str]] = {}
        self.count = 0

    def add(self, path: str, message: str) -> None:
        self.details.setdefault(path or "definition", []).append(message)


def validate(definition: Any, *, access=None, catalogue: Catalogue | None = None
             ) -> dict[str, Any]:
    """The normalised tree of a definition, or ValidationFailed naming each bad node's path.

    `access` (the caller's AccessPolicy) refuses conditions on fields hidden from them: a
    segment must not reveal what the caller may not read.
    """
    catalogue = catalogue or Catalogue.load()
    errors = _Errors()
    if isinstance(definition, dict) and "type" not in definition and "conditions" in definition:
        definition = {"type": "group", **definition}
    if not isinstance(definition, dict) or definition.get("type") != "group":
        raise ValidationFailed(details={"definition": [
            _("A definition is a group: {\"type\": \"group\", \"match\": \"all\", "
              "\"conditions\": [...]}.")]})
    tree = _node(definition, "", 0, errors, catalogue, access)
    if errors.details:
        raise ValidationFailed(_("The segment definition is not valid."), details=errors.details)
    return tree


def _join(path: str, part: str) -> str:
    return f"{path}.{part}" if path and not part.startswith("[") else f"{path}{part}"


def _node(node: Any, path: str, depth: int, errors: _Errors, catalogue: Catalogue, access):
    if not isinstance(node, dict):
        errors.add(path, _("A condition is a JSON object."))
        return None
    kind = node.get("type")
    if kind is None and "field" in node:
        kind = "field"
    errors.count += 1
    if errors.count > MAX_CONDITIONS:
        if errors.count == MAX_CONDITIONS + 1:
            errors.add(path, _("At most %d conditions in one definition.") % MAX_CONDITIONS)
        return None
    if kind in ("group", "not") and depth >= MAX_DEPTH:
        errors.add(path, _("Groups nest at most %d deep.") % MAX_DEPTH)
        return None
    if kind in NODE_KEYS or kind in CONDITION_TYPES:
        keys = NODE_KEYS[kind] if kind in NODE_KEYS else CONDITION_TYPES[kind].keys
        unknown = [key for key in node if key not in keys]
        for key in unknown:
            errors.add(_join(path, str(key)), _("Unknown key “%(key)s” in a “%(type)s” "
                                                "condition; use: %(keys)s.")
                       % {"key": key, "type": kind, "keys": ", ".join(keys)})
    if kind == "group":
        match = node.get("match", "all")
        if match not in ("all", "any"):
            errors.add(_join(path, "match"), _("Use “all” or “any”."))
        conditions = node.get("conditions", [])
        if not isinstance(conditions, list):
            errors.add(_join(path, "conditions"), _("A list of conditions."))
            conditions = []
        children = [_node(child, _join(path, f"conditions[{i}]"), depth + 1, errors, catalogue,
                          access) for i, child in enumerate(conditions)]
        return {"type": "group", "match": match, "conditions": children}
    if kind == "not":
        child = _node(node.get("condition"), _join(path, "condition"), depth + 1, errors,
                      catalogue, access)
        return {"type": "not", "condition": child}
    if kind == "field":
        return _field(node, path, errors, catalogue, access)
    if kind in ACTIVITY_TYPES:
        return _activity(kind, node, path, errors)
    if kind == "spend":
        return _spend(node, path, errors)
    if kind in CONDITION_TYPES:
        return CONDITION_TYPES[kind].validate(
            node, path, lambda where, message: errors.add(_join(path, where) if where else path,
                                                          message))
    errors.add(_join(path, "type"), _("Unknown condition type “%(type)s”; use one of: %(types)s.")
               % {"type": kind, "types": ", ".join(["group", "not", "field", "event",
                                                    "interaction", "ticket", "purchase",
                                                    "spend", *CONDITION_TYPES])})
    return None


# Values -------------------------------------------------------------------------------------


def _number(value, path, errors, *, integer=False, minimum=None, maximum=None):
    if isinstance(value, bool) or not isinstance(value, int | float):
        if isinstance(value, str):
            try:
                value = int(value) if integer else float(value)
                value = int(value) if float(value).is_integer() else value
            except ValueError:
                errors.add(path, _("Enter a number."))
                return None
        else:
            errors.add(path, _("Enter a number."))
            return None
    if integer and (isinstance(value, float) and not value.is_integer()):
        errors.add(path, _("Enter a whole number."))
        return None
    if integer:
        value = int(value)
    if minimum is not None and value < minimum:
        errors.add(path, _("Must be at least %s.") % minimum)
        return None
    if maximum is not None and value > maximum:
        errors.add(path, _("Must be at most %s.") % maximum)
        return None
    return value


def _date(value, path, errors):
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            pass
    errors.add(path, _("Enter a date as YYYY-MM-DD."))
    return None


def _text(value, path, errors):
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        errors.add(path, _("Enter a text value."))
        return None
    text = str(value).strip()
    if not text:
        errors.add(path, _("Enter a value."))
        return None
    if len(text) > 200:
        errors.add(path, _("At most 200 characters."))
        return None
    return text


def _list(value, path, errors, one):
    items = value if isinstance(value, list) else [value]
    if not items:
        errors.add(path, _("Give at least one value."))
        return None
    if len(items) > 200:
        errors.add(path, _("At most 200 values."))
        return None
    out = [one(item, f"{path}[{i}]" if isinstance(value, list) else path, errors)
           for i, item in enumerate(items)]
    return None if any(v is None for v in out) else out


def _window(node, path, errors) -> dict[str, Any]:
    """within_days: D, or between: [from, to] (inclusive dates), or neither (all time); the
    same keys come out, so a stored tree keeps its window."""
    if "within_days" in node and "between" in node:
        errors.add(_join(path, "between"), _("Give within_days or between, not both."))
        return {}
    if "within_days" in node:
        days = _number(node["within_days"], _join(path, "within_days"), errors, integer=True,
                       minimum=1, maximum=MAX_DAYS)
        return {"within_days": days} if days is not None else {}
    if "between" in node:
        span = node["between"]
        where = _join(path, "between")
        if not isinstance(span, list) or len(span) != 2:
            errors.add(where, _("Give two dates: [from, to]."))
            return {}
        start, end = _date(span[0], f"{where}[0]", errors), _date(span[1], f"{where}[1]", errors)
        if start and end and start > end:
            errors.add(where, _("The first date must not be after the second."))
            return {}
        return {"between": [start, end]} if start and end else {}
    return {}


def _count(node, path, errors):
    """did (default true) and count {"op", "value"}: normalised to one count comparison."""
    did = node.get("did", True)
    if not isinstance(did, bool):
        errors.add(_join(path, "did"), _("Use true or false."))
        return None
    count = node.get("count")
    if count is None:
        return {"op": "gte", "value": 1} if did else {"op": "eq", "value": 0}
    where = _join(path, "count")
    if not isinstance(count, dict):
        errors.add(where, _("Give {\"op\": \"gte\", \"value\": N}."))
        return None
    op = count.get("op", "gte")
    if op not in COUNT_OPS:
        errors.add(_join(where, "op"), _("Use one of: %s.") % ", ".join(COUNT_OPS))
        return None
    value = _number(count.get("value"), _join(where, "value"), errors, integer=True, minimum=0,
                    maximum=1_000_000)
    if value is None:
        return None
    if not did:
        # "did not do it at least N times" is "fewer than N times".
        flip = {"gte": "lt", "gt": "lte", "lte": "gt", "lt": "gte"}
        if op == "eq":
            errors.add(_join(path, "did"), _("“did”: false cannot be combined with count "
                                                "“eq”; use count “ne” via a not group."))
            return None
        op = flip[op]
    return {"op": op, "value": value}


# Condition kinds ------------------------------------------------------------------------------


def _field(node, path, errors, catalogue: Catalogue, access):
    key = node.get("field")
    spec = catalogue.fields.get(key) if isinstance(key, str) else None
    if spec is None:
        errors.add(_join(path, "field"), _("Unknown field “%s”.") % key)
        return None
    op = node.get("op")
    if not _may_condition(spec, op, access):
        errors.add(_join(path, "field"), refusal_message(spec.label))
        return None
    allowed = OPERATORS[spec.kind]
    if op not in allowed:
        errors.add(_join(path, "op"), _("Operator “%(op)s” does not apply to “%(field)s”; use "
                                        "one of: %(ops)s.") % {"op": op, "field": spec.label,
                                                               "ops": ", ".join(allowed)})
        return None
    value_path = _join(path, "value")
    value = node.get("value")
    out = {"type": "field", "field": key, "op": op}
    if op in NO_VALUE_OPS:
        return out
    if "value" not in node:
        errors.add(value_path, _("Enter a value."))
        return None
    value = _field_value(spec, op, value, value_path, errors, catalogue)
    if value is None:
        return None
    out["value"] = value
    return out


def _may_condition(spec: FieldSpec, op, access) -> bool:
    """The access policy's one rule for conditions on fields (masked or hidden for the caller:
    refused, except asking a masked field whether it is set); a customer field is named
    "customer.<key>" there unless it is a sensitive one."""
    if access is None:
        return True
    return access.may_condition_on(spec.sensitive or f"customer.{spec.key}",
                                   presence=op in NO_VALUE_OPS)


def _field_value(spec: FieldSpec, op: str, value, path, errors, catalogue: Catalogue):
    kind = spec.kind
    if op in ("in_last_days", "not_in_last_days", "anniversary_next_days"):
        return _number(value, path, errors, integer=True, minimum=1,
                       maximum=366 if op == "anniversary_next_days" else MAX_DAYS)
    if op == "anniversary_days":
        if not isinstance(value, list) or len(value) != 2:
            errors.add(path, _("Give two day offsets: [from, to], e.g. [7, 13]."))
            return None
        low = _number(value[0], f"{path}[0]", errors, integer=True, minimum=0, maximum=365)
        high = _number(value[1], f"{path}[1]", errors, integer=True, minimum=0, maximum=365)
        if low is None or high is None:
            return None
        if low > high:
            errors.add(path, _("The first offset must not be after the second."))
            return None
        return [low, high]
    if kind in ("date", "anniversary", "datetime", "custom_date"):
        if op == "between":
            if not isinstance(value, list) or len(value) != 2:
                errors.add(path, _("Give two dates: [from, to]."))
                return None
            start, end = _date(value[0], f"{path}[0]", errors), _date(value[1], f"{path}[1]",
                                                                       errors)
            if start and end and start > end:
                errors.add(path, _("The first date must not be after the second."))
                return None
            return [start, end] if start and end else None
        return _date(value, path, errors)
    if kind == "number":
        if op == "between":
            if not isinstance(value, list) or len(value) != 2:
                errors.add(path, _("Give two numbers: [low, high]."))
                return None
            low, high = _number(value[0], f"{path}[0]", errors), _number(value[1], f"{path}[1]",
                                                                         errors)
            if low is None or high is None:
                return None
            if low > high:
                errors.add(path, _("The first number must not be above the second."))
                return None
            return [low, high]
        return _number(value, path, errors)
    if kind == "boolean":
        if not isinstance(value, bool):
            errors.add(path, _("Use true or false."))
            return None
        return value
    if kind in ("user", "team"):
        def one(item, where, errs):
            if kind == "user" and item == "me":
                return "me"
            return _number(item, where, errs, integer=True, minimum=1)
        if op in ("in", "not_in"):
            return _list(value, path, errors, one)
        return one(value, path, errors)
    if kind == "tags":
        names = _list(value, path, errors, _text)
        if names is None:
            return None
        known = catalogue.tag_names()
        missing = [n for n in names if n.lower() not in known]
        if missing:
            errors.add(path, _("No tag named “%s”.") % "”, “".join(missing))
            return None
        return names
    # text, choice, district, multi_choice
    if op in ("in", "not_in", "has_any", "has_all", "has_none"):
        values = _list(value, path, errors, _text)
    else:
        values = [_text(value, path, errors)]
        if values[0] is None:
            return None
    if values is None:
        return None
    if spec.choices is not None and kind in ("choice", "multi_choice"):
        allowed = {k for k, _label in spec.choices()}
        wrong = [v for v in values if v not in allowed]
        if wrong:
            errors.add(path, _("“%(value)s” is not a choice of “%(field)s”; use one of: "
                               "%(choices)s.") % {"value": wrong[0], "field": spec.label,
                                                  "choices": ", ".join(sorted(allowed))})
            return None
    return values if op in ("in", "not_in", "has_any", "has_all", "has_none") else values[0]


def _activity(kind, node, path, errors):
    out: dict[str, Any] = {"type": kind}
    if kind == "purchase":
        for key in ("product", "category"):
            if node.get(key) not in (None, ""):
                out[key] = _text(node[key], _join(path, key), errors)
        if "product" in out and "category" in out:
            errors.add(_join(path, "category"), _("Give a product or a category, not both."))
    else:
        name = node.get("name")
        if name not in (None, ""):
            out["name"] = _text(name, _join(path, "name"), errors)
            if kind in ("interaction", "ticket") and out["name"]:
                valid = _activity_kinds(kind)
                if out["name"] not in valid:
                    errors.add(_join(path, "name"), _("Use one of: %s.") % ", ".join(valid))
    where = node.get("where", [])
    if where and kind != "event":
        errors.add(_join(path, "where"), _("Property conditions apply to events only."))
    elif not isinstance(where, list):
        errors.add(_join(path, "where"), _("A list of property conditions."))
    elif kind == "event":
        out["where"] = [_property(item, _join(path, f"where[{i}]"), errors)
                        for i, item in enumerate(where)]
    out["count"] = _count(node, path, errors)
    out.update(_window(node, path, errors))
    return out


def _activity_kinds(kind):
    from django.apps import apps

    model = apps.get_model("interactions", "Interaction") if kind == "interaction" else \
        apps.get_model("transactions", "Ticket")
    return [k for k, _label in model.KINDS]


def _property(item, path, errors):
    if not isinstance(item, dict):
        errors.add(path, _("A property condition is {\"property\", \"op\", \"value\"}."))
        return None
    name = item.get("property")
    if not isinstance(name, str) or not name.strip() or not name.replace("_", "").replace(
            "-", "").isalnum():
        errors.add(_join(path, "property"), _("A property name of letters, digits, _ or -."))
        return None
    op = item.get("op", "eq")
    if op not in PROPERTY_OPS:
        errors.add(_join(path, "op"), _("Use one of: %s.") % ", ".join(PROPERTY_OPS))
        return None
    out = {"property": name.strip(), "op": op}
    if op in NO_VALUE_OPS:
        return out
    value_path = _join(path, "value")
    if op in ("gt", "gte", "lt", "lte"):
        value = _number(item.get("value"), value_path, errors)
    elif op in ("contains", "starts_with"):
        value = _text(item.get("value"), value_path, errors)
    else:
        value = item.get("value")
        if isinstance(value, bool) or (isinstance(value, int | float)):
            pass
        else:
            value = _text(value, value_path, errors)
    if value is None:
        return None
    out["value"] = value
    return out


def _spend(node, path, errors):
    op = node.get("op", "gte")
    if op not in COUNT_OPS:
        errors.add(_join(path, "op"), _("Use one of: %s.") % ", ".join(COUNT_OPS))
        return None
    value = _number(node.get("value"), _join(path, "value"), errors, minimum=0)
    return {"type": "spend", "op": op, "value": value, **_window(node, path, errors)}


def referenced_tags(tree: dict[str, Any]) -> set[str]:
    """Tag names a (validated) tree filters on, to refuse a rule tag that depends on itself."""
    found: set[str] = set()

    def walk(node):
        if not node:
            return
        if node["type"] == "group":
            for child in node["conditions"]:
                walk(child)
        elif node["type"] == "not":
            walk(node["condition"])
        elif node["type"] == "field" and node["field"] == "tags":
            found.update(v.lower() for v in node["value"])
    walk(tree)
    return found
