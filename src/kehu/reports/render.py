"""A report result as a chart (an ECharts option from dashboards.charts), a table and a
workbook: one ReportResult feeds the page, the dashboard, the email, the API and the export."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from kehu.core.spreadsheet import xlsx_bytes
from kehu.dashboards import charts
from kehu.reports.query import OTHER, ReportResult


def _number(value):
    if isinstance(value, Decimal):
        return float(value)
    return value if value is not None else 0


def chart_option(result: ReportResult) -> dict | None:
    """The chart the spec asks for; None for a table or a pivot (drawn as tables)."""
    chart = result.spec["chart"]
    if chart in ("table", "pivot") or not result.rows:
        return None
    if len(result.dimensions) == 1 or chart in ("pie", "funnel"):
        items = [charts.point(_number(c.value), name=c.labels[0], url=c.url)
                 for c in result.rows]
        if chart == "pie":
            return charts.pie(result.measure_label, items)
        if chart == "funnel":
            return charts.funnel(result.measure_label, items)
        categories = [c.labels[0] for c in result.rows]
        series = [{"name": result.measure_label, "data": items}]
        return charts.line(categories, series) if chart == "line" else \
            charts.bar(categories, series)
    categories, series_names, grid = _grid(result)
    series = [{"name": name, "data": [grid.get((category, name)) or charts.point(
        0, name=category) for category in categories]} for name in series_names]
    if chart == "line":
        return charts.line(categories, series)
    return charts.bar(categories, series, stacked=chart == "stacked_bar")


def _grid(result: ReportResult):
    categories: list[str] = []
    names: list[str] = []
    grid: dict[tuple[str, str], dict] = {}
    for cell in result.rows:
        first, second = cell.labels
        if first not in categories:
            categories.append(first)
        if second not in names:
            names.append(second)
        grid[(first, second)] = charts.point(_number(cell.value), name=first, url=cell.url)
    return categories, names, grid


def table(result: ReportResult) -> dict[str, Any]:
    """Header and rows as the page and the email show them; a pivot with two group-bys puts
    the second across, with row and column totals. Cells carry their drill-down URLs."""
    if result.spec["chart"] == "pivot" and len(result.dimensions) == 2:
        columns = [c.labels[0] for c in result.second_totals]
        column_keys = [c.keys[0] for c in result.second_totals]
        by_cell = {(_key(c.keys[0]), _key(c.keys[1])): c for c in result.rows}
        rows = []
        for first in result.first_totals:
            cells = [by_cell.get((_key(first.keys[0]), _key(key))) for key in column_keys]
            rows.append({"label": first.labels[0],
                         "cells": [{"value": c.value if c else None, "url": c.url if c else ""}
                                   for c in cells],
                         "total": {"value": first.value, "url": first.url}})
        return {"pivot": True, "corner": f"{result.dimensions[0]} \\ {result.dimensions[1]}",
                "columns": columns,
                "column_totals": [{"value": c.value, "url": c.url}
                                  for c in result.second_totals],
                "rows": rows, "total": {"value": result.total, "url": result.total_url}}
    header = [*result.dimensions, result.measure_label]
    rows = [{"labels": list(c.labels), "value": c.value, "url": c.url,
             "other": c.keys[:1] == (OTHER,)} for c in result.rows]
    return {"pivot": False, "header": header, "rows": rows,
            "total": {"value": result.total, "url": result.total_url}}


def _key(value):
    return tuple(value) if isinstance(value, list) else value


def sheet_rows(result: ReportResult) -> tuple[list[str], list[list[Any]]]:
    """The data as a workbook sheet: the table, then a total row."""
    data = table(result)
    if data["pivot"]:
        header = [data["corner"], *data["columns"], _("Total")]
        rows = [[row["label"], *[_number(c["value"]) if c["value"] is not None else None
                                 for c in row["cells"]], _number(row["total"]["value"])]
                for row in data["rows"]]
        rows.append([_("Total"), *[_number(c["value"]) for c in data["column_totals"]],
                     _number(data["total"]["value"])])
        return header, rows
    header = data["header"]
    rows = [[*row["labels"], _number(row["value"])] for row in data["rows"]]
    rows.append([_("Total"), *[""] * (len(header) - 2), _number(data["total"]["value"])])
    return header, rows


def workbook(result: ReportResult, *, title: str) -> bytes:
    """XLSX bytes; text that a spreadsheet would run as a formula is neutralised
    (core.spreadsheet, as every export)."""
    header, rows = sheet_rows(result)
    return xlsx_bytes(header, rows, title=title or "report")
