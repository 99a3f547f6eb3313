"""The rule editor's form <-> rule: trigger inputs are `trigger.<param>`, actions
`a<i>.<param>` (with `a.n` of them), conditions the segment builder's `r.*` inputs. Pickers
only: nobody types JSON. Parsing is lenient; the services' validation names what is wrong.
"""

from __future__ import annotations

from typing import Any

from kehu.automation import actions as action_catalogue
from kehu.automation import triggers
from kehu.segments.builder import parse as parse_conditions

MAX_ACTIONS = action_catalogue.MAX_ACTIONS


def parse(data, fields: dict) -> dict[str, Any]:
    """The rule a posted editor form describes (not validated)."""
    kind = data.get("trigger.kind", "customer_created")
    trigger: dict[str, Any] = {"kind": kind}
    spec = triggers.SPECS.get(kind)
    for param in spec.params if spec else ():
        value = (data.get(f"trigger.{param.name}") or "").strip()
        if value:
            trigger[param.name] = value
    actions = []
    count = data.get("a.n", "0")
    count = min(int(count), MAX_ACTIONS) if str(count).isdigit() else 0
    for index in range(count):
        action_kind = data.get(f"a{index}.kind", "")
        action: dict[str, Any] = {"kind": action_kind}
        action_spec = action_catalogue.SPECS.get(action_kind)
        for param in action_spec.params if action_spec else ():
            value = (data.get(f"a{index}.{param.name}") or "").strip()
            if value:
                action[param.name] = value
        actions.append(action)
    return {"name": data.get("name", ""), "description": data.get("description", ""),
            "trigger": trigger, "conditions": parse_conditions(data, fields),
            "actions": actions, "max_runs_per_hour": data.get("max_runs_per_hour", "1000"),
            "new_action": data.get("new_action", "")}


def apply_edit(rule: dict[str, Any], edit: str) -> dict[str, Any]:
    """`add_action:<kind>`, `remove_action:<i>`, `up:<i>`; unknown edits change nothing."""
    head, _sep, arg = edit.partition(":")
    if head == "add_action" and not arg:
        arg = rule.get("new_action", "")
    actions = list(rule["actions"])
    if head == "add_action" and arg in action_catalogue.SPECS and len(actions) < MAX_ACTIONS:
        spec = action_catalogue.SPECS[arg]
        actions.append({"kind": arg, **{p.name: p.default for p in spec.params if p.default}})
    elif head == "remove_action" and arg.isdigit() and int(arg) < len(actions):
        del actions[int(arg)]
    elif head == "up" and arg.isdigit() and 0 < int(arg) < len(actions):
        i = int(arg)
        actions[i - 1], actions[i] = actions[i], actions[i - 1]
    return {**rule, "actions": actions}


def _inputs(spec_params, values: dict[str, Any], prefix: str,
            extra: dict[str, list]) -> list[dict[str, Any]]:
    out = []
    for param in spec_params:
        value = values.get(param.name, "")
        choices = None
        if param.kind == "choice" and param.choices is not None:
            choices = param.choices()
        elif param.kind in extra:
            choices = extra[param.kind]
        out.append({"name": f"{prefix}.{param.name}", "key": param.name, "label": param.label,
                    "kind": param.kind, "required": param.required,
                    "value": "" if value is None else str(value), "choices": choices,
                    "default": param.default})
    return out


def view(rule: dict[str, Any], *, segments: list[tuple[str, str]]) -> dict[str, Any]:
    """The trigger and actions laid out for the template."""
    extra = {"segment": segments}
    trigger = rule.get("trigger") or {"kind": "customer_created"}
    spec = triggers.SPECS.get(trigger.get("kind")) or triggers.SPECS["customer_created"]
    groups: dict[str, list] = {}
    for item in triggers.available():
        groups.setdefault(str(item.group), []).append((item.key, item.label))
    actions = []
    for index, action in enumerate(rule.get("actions") or []):
        action_spec = action_catalogue.SPECS.get(action.get("kind"))
        if action_spec is None:
            continue
        actions.append({"index": index, "kind": action_spec.key, "label": action_spec.label,
                        "inputs": _inputs(action_spec.params, action, f"a{index}", extra)})
    return {"trigger_kind": spec.key, "trigger_groups": list(groups.items()),
            "trigger_inputs": _inputs(spec.params, trigger, "trigger", extra),
            "trigger_is_time": spec.kind == triggers.TIME,
            "actions": actions, "n_actions": len(actions),
            "action_kinds": [(s.key, s.label) for s in action_catalogue.CATALOGUE]}
