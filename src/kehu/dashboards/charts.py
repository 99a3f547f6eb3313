"""ECharts options built on the server, so the page only draws what the selectors computed.

Every data item is a dict {"value": …, "name": …, "url": …}; the page's script opens `url`
when the item is clicked (drill-down). Labels arrive already translated.
"""

from __future__ import annotations

from collections.abc import Sequence


def point(value, *, name: str = "", url: str = "", **extra) -> dict:
    item = {"value": value, "name": str(name)}
    if url:
        item["url"] = url
    item.update(extra)
    return item


def _series(series: Sequence[dict], kind: str, *, stacked: bool = False) -> list[dict]:
    out = []
    for entry in series:
        item = {"type": kind, "name": str(entry["name"]), "data": list(entry["data"])}
        if stacked:
            item["stack"] = "total"
        if kind == "line":
            item["smooth"] = False
        out.append(item)
    return out


def _base(series_names: Sequence[str]) -> dict:
    option = {"tooltip": {"trigger": "axis"}, "grid": {"left": 8, "right": 16, "top": 36,
                                                       "bottom": 8, "containLabel": True}}
    if len(series_names) > 1:
        option["legend"] = {"data": [str(name) for name in series_names], "top": 0}
    return option


def bar(categories: Sequence[str], series: Sequence[dict], *, horizontal: bool = False,
        stacked: bool = False) -> dict:
    option = _base([entry["name"] for entry in series])
    labels = {"type": "category", "data": [str(c) for c in categories]}
    values = {"type": "value"}
    option["xAxis"], option["yAxis"] = (values, labels) if horizontal else (labels, values)
    option["series"] = _series(series, "bar", stacked=stacked)
    return option


def line(categories: Sequence[str], series: Sequence[dict]) -> dict:
    option = _base([entry["name"] for entry in series])
    option["xAxis"] = {"type": "category", "data": [str(c) for c in categories],
                       "boundaryGap": False}
    option["yAxis"] = {"type": "value"}
    option["series"] = _series(series, "line")
    return option


def pie(name: str, items: Sequence[dict]) -> dict:
    return {"tooltip": {"trigger": "item"}, "legend": {"type": "scroll", "bottom": 0},
            "series": [{"type": "pie", "name": str(name), "radius": ["35%", "65%"],
                        "data": list(items)}]}


def funnel(name: str, items: Sequence[dict]) -> dict:
    return {"tooltip": {"trigger": "item"},
            "series": [{"type": "funnel", "name": str(name), "sort": "none", "gap": 2,
                        "left": "10%", "width": "80%", "label": {"show": True,
                                                                 "position": "inside"},
                        "data": list(items)}]}
