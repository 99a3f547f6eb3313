"""Repair saved definitions stored in the old, lossy normalised form.

Until this release a saved segment stored `{"window": {"days": 30}}` (or `{"from", "to"}`)
where the user wrote `"within_days": 30` (or `"between"`), and an empty `"where": []` on
every behaviour condition. Validating that tree again found no window and counted all time,
so such segments (and the rule-based tags they keep) held too many customers. This puts the
window back in the language's own keys; repaired segments lose their `computed_at`, so the
next periodic run (or `kehu segment refresh`) recomputes them, static ones included.
"""

from django.db import migrations

ACTIVITY = ("event", "interaction", "ticket", "purchase", "spend")


def repaired(node):
    """The node in today's language, or the same object when nothing needed changing."""
    if not isinstance(node, dict):
        return node
    kind = node.get("type")
    if kind == "group" and isinstance(node.get("conditions"), list):
        children = [repaired(child) for child in node["conditions"]]
        if all(new is old for new, old in zip(children, node["conditions"], strict=True)):
            return node
        return {**node, "conditions": children}
    if kind == "not":
        child = repaired(node.get("condition"))
        return node if child is node.get("condition") else {**node, "condition": child}
    if kind not in ACTIVITY or ("window" not in node and not (
            kind != "event" and node.get("where") == [])):
        return node
    out = {key: value for key, value in node.items() if key != "window"}
    if kind != "event" and out.get("where") == []:
        del out["where"]
    window = node.get("window")
    if isinstance(window, dict) and "within_days" not in out and "between" not in out:
        if window.get("days"):
            out["within_days"] = window["days"]
        elif window.get("from") and window.get("to"):
            out["between"] = [window["from"], window["to"]]
    return out


def forwards(apps, schema_editor):
    Segment = apps.get_model("segments", "Segment")
    for segment in Segment.objects.order_by("pk").iterator():
        definition = repaired(segment.definition)
        if definition is not segment.definition:
            segment.definition = definition
            segment.computed_at = None
            segment.save(update_fields=["definition", "computed_at"])


class Migration(migrations.Migration):
    dependencies = [("segments", "0002_segment_view_permission")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
