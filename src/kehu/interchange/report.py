"""The import validation report: one line per problem (row, column, value, reason).

Written as .xlsx (openpyxl write-only, streamed to disk) or as .csv in UTF-8 with BOM so
Excel and WPS open the Chinese correctly. Every cell goes through
kehu.core.spreadsheet.safe_cell: a value such as "=HYPERLINK(…)" typed into an import
file must not become a live formula in the report. Values arrive already masked (ID
numbers) from interchange.rows.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from kehu.core.spreadsheet import csv_stream, safe_cell
from kehu.interchange.mapping import MappingError
from kehu.interchange.rows import RowError

REPORT_COLUMNS = (_("Row"), _("Column"), _("Value"), _("Reason"))
FORMATS = ("xlsx", "csv")


def report_format(path: str | os.PathLike) -> str:
    """"xlsx" or "csv" from the report's file name; anything else is a MappingError-like
    usage error (the CLI's --report must end in .xlsx or .csv)."""
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise MappingError(gettext("The report must be an .xlsx or .csv file, not “%(name)s”.")
                           % {"name": Path(path).name}, code="report_format")
    return suffix


def _line(error: RowError) -> list[Any]:
    return [error.row, error.column, error.value, error.reason]


class ReportWriter:
    """Add errors as an import finds them; close() finishes the file. Memory stays flat."""

    def __init__(self, path: str | os.PathLike, *, fmt: str | None = None):
        self.path = Path(path)
        self.format = fmt or report_format(path)
        if self.format not in FORMATS:
            raise ValueError(f"unknown report format {self.format!r}")
        self.count = 0
        header = [str(c) for c in REPORT_COLUMNS]
        if self.format == "xlsx":
            from openpyxl import Workbook

            self._workbook = Workbook(write_only=True)
            self._sheet = self._workbook.create_sheet(title=gettext("Import report")[:31])
            self._sheet.append([safe_cell(h) for h in header])
            self._file: IO[str] | None = None
        else:
            self._file = open(self.path, "w", encoding="utf-8", newline="")  # noqa: SIM115
            self._csv = csv.writer(self._file)
            for text in csv_stream(header, []):  # BOM + header, through the shared writer
                self._file.write(text)

    def add(self, error: RowError) -> None:
        self.count += 1
        if self.format == "xlsx":
            self._sheet.append([safe_cell(v) for v in _line(error)])
        else:
            self._csv.writerow([safe_cell(v) for v in _line(error)])

    def extend(self, errors: Iterable[RowError]) -> None:
        for error in errors:
            self.add(error)

    def close(self) -> None:
        if self.format == "xlsx":
            if self._workbook is not None:
                self._workbook.save(self.path)
                self._workbook = None
        elif self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> ReportWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def write_report(errors: Iterable[RowError], path: str | os.PathLike, *,
                 fmt: str | None = None) -> int:
    """Write every error to `path` (.xlsx or .csv); returns how many were written."""
    with ReportWriter(path, fmt=fmt) as writer:
        writer.extend(errors)
    return writer.count
