"""Writing rows to CSV and xlsx safely: formula injection neutralised, streamed where possible."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any

# A cell starting with one of these is run as a formula by Excel, WPS and LibreOffice.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """Prefix a quote to text that a spreadsheet would evaluate; numbers pass untouched."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_stream(header: list[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """Yield CSV text line by line (UTF-8 BOM first so Excel opens Chinese correctly)."""
    writer = csv.writer(_Echo())
    yield "\ufeff"
    yield writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        yield writer.writerow(["" if v is None else safe_cell(v) for v in row])


def xlsx_bytes(header: list[str], rows: Iterable[Iterable[Any]], *, title: str = "kehu") -> bytes:
    """Write an xlsx workbook in openpyxl's write-only mode (constant memory per row)."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    sheet.append([safe_cell(h) for h in header])
    for row in rows:
        sheet.append([safe_cell(v) for v in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
