"""`kehu match INPUT [--id-column rec_id] [--threshold P] [--out OUT.csv|.xlsx] [--json]`:
find the duplicates in a spreadsheet without importing it (docs/matching.md)."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation
from django.utils.translation import gettext as _

from kehu.core.errors import DomainError
from kehu.core.spreadsheet import safe_cell
from kehu.interchange.mapping import apply_overrides, fold_header, suggest_mapping
from kehu.interchange.readers import open_table
from kehu.matching import cluster, needs_training, predict_pairs

# Customer fields that the matching engine compares (the rest of a row is carried along).
MATCH_FIELDS = ("name", "gender", "birthday", "mobile", "email", "id_number", "address", "company")

# Columns the matching engine reads beyond the import's customer fields (a column the
# import mapping leaves unmapped is looked up here). Several address-line columns are
# joined, in column order, into the address.
MATCH_ONLY_COLUMNS = {
    "surname": ("姓", "姓氏", "surname", "last name", "family name"),
    "given_name": ("名", "名字(不含姓)", "given name", "first name", "forename"),
    "postcode": ("邮编", "邮政编码", "postcode", "post code", "postal code", "zip", "zip code"),
    "province": ("省", "省份", "province", "state"),
    "city": ("城市", "市", "city", "suburb", "town"),
    "district": ("区县", "区", "县", "district", "county"),
    "id_number": ("social security number", "soc sec id", "ssn", "national id"),
    "address": ("street number", "street", "address 1", "address 2", "address line 1",
                "address line 2", "门牌号", "街道"),
}
_MATCH_ONLY = {fold_header(spelling): field for field, spellings in MATCH_ONLY_COLUMNS.items()
               for spelling in spellings}


class Command(BaseCommand):
    help = ("Find duplicate customers in a spreadsheet without importing it; columns are "
            "recognised as by kehu import. Example: kehu match 客户.xlsx --id-column 编号 "
            "--out 重复.xlsx")
    requires_system_checks = []  # reads a file, touches no database

    def add_arguments(self, parser):
        parser.add_argument("input", metavar="INPUT", help="xlsx, xls, csv or tsv file")
        parser.add_argument("--id-column", default=None,
                            help="the column identifying a row (default: the Excel row number)")
        parser.add_argument("--threshold", type=float, default=0.9,
                            help="match probability from which two rows count as one person "
                                 "(default 0.9)")
        parser.add_argument("--out", default=None, help="write rows with cluster_id and "
                            "match_probability to this .csv or .xlsx")
        parser.add_argument("--train", choices=["auto", "yes", "no"], default="auto",
                            help="estimate the model's parameters on this file first (unsupervised): "
                                 "auto (default) does so for 1000 rows or more whose names are mostly "
                                 "not in Chinese script; yes always; no uses the shipped parameters")
        parser.add_argument("--map", action="append", default=[], metavar="COL=field",
                            help="map a column to a field (COL= ignores it); repeat for more")
        parser.add_argument("--sheet", default=None, help="workbook sheet (default: the first)")
        parser.add_argument("--json", action="store_true",
                            help="print a JSON summary as the last line")
        parser.add_argument("--language", default=settings.LANGUAGE_CODE)

    def handle(self, *args, **options):
        with translation.override(options["language"]):
            self._handle(options)

    def _handle(self, options):
        threshold, out = options["threshold"], options["out"]
        if not 0 < threshold <= 1:
            raise CommandError(_("The threshold must be a probability above 0 and at most 1."))
        if out and Path(out).suffix.lower() not in (".csv", ".xlsx"):
            raise CommandError(_("Name the output file .csv or .xlsx."))
        path = Path(options["input"])
        if not path.is_file():
            raise CommandError(_("There is no file “%(file)s”.") % {"file": path})
        started = time.perf_counter()
        try:
            headers, rows, records = _read(path, options)
        except DomainError as exc:
            raise CommandError(str(exc)) from exc
        trained = options["train"] == "yes" or (options["train"] == "auto" and needs_training(records))
        pairs = predict_pairs(records, threshold=threshold, train=trained)
        clusters = cluster(pairs, threshold=threshold)
        best: dict = {}
        for pair in pairs:
            if clusters.get(pair.left_id) is not None and clusters.get(pair.left_id) == clusters.get(pair.right_id):
                for item in (pair.left_id, pair.right_id):
                    best[item] = max(best.get(item, 0.0), pair.probability)
        id_header = options["id_column"] or _("row")
        if out:
            results = [(record["id"], clusters.get(record["id"], record["id"]), best.get(record["id"]))
                       for record in records]
            if out.lower().endswith(".xlsx"):
                _write_xlsx(out, id_header, headers, rows, results)
            else:
                _write_csv(out, id_header, results)
        groups = len(set(clusters.values()))
        seconds = round(time.perf_counter() - started, 2)
        self.stdout.write(_("%(records)d rows, %(clusters)d groups of duplicates (%(rows)d rows), "
                            "%(pairs)d matching pairs, %(seconds)s s.")
                          % {"records": len(records), "clusters": groups, "rows": len(clusters),
                             "pairs": len(pairs), "seconds": seconds})
        if trained:
            self.stdout.write(_("The model was trained on this file first (--train)."))
        if options["json"]:
            self.stdout.write(json.dumps({"records": len(records), "clusters": groups,
                                          "pairs": len(pairs), "seconds": seconds,
                                          "trained": trained}))


def _read(path: Path, options) -> tuple[list[str], list[list[str]], list[dict]]:
    with open_table(path, filename=path.name, sheet=options["sheet"]) as table:
        headers = table.headers
        mapping = apply_overrides(suggest_mapping(headers), options["map"], headers)
        id_index = None
        if options["id_column"]:
            wanted = fold_header(options["id_column"])
            found = [i for i, h in enumerate(headers) if h == options["id_column"]] or \
                [i for i, h in enumerate(headers) if fold_header(h) == wanted]
            if not found:
                raise CommandError(_("The file has no column “%(column)s”; its columns are: "
                                     "%(columns)s.") % {"column": options["id_column"],
                                                        "columns": "、".join(h for h in headers if h)})
            id_index = found[0]
            mapping[id_index] = None
        fields = {index: field for index, field in mapping.items() if field in MATCH_FIELDS}
        for index, header in enumerate(headers):
            field = _MATCH_ONLY.get(fold_header(header))
            if mapping.get(index) is None and index != id_index and field and (
                    field == "address" or field not in fields.values()):
                fields[index] = field
        if not {"name", "surname", "given_name"} & set(fields.values()):
            raise CommandError(_("No column holds the name; name one with --map COLUMN=name."))
        rows, records, seen = [], [], set()
        for number, cells in table.rows():
            key = cells[id_index].strip() if id_index is not None else number
            if key in ("", None):
                raise CommandError(_("Row %(row)d: the id column “%(column)s” is empty.")
                                   % {"row": number, "column": options["id_column"]})
            if key in seen:
                raise CommandError(_("Row %(row)d: the id “%(id)s” appears twice; ids must be "
                                     "unique.") % {"row": number, "id": key})
            seen.add(key)
            record = {"id": key}
            for index, field in sorted(fields.items()):
                if field == "address" and record.get("address") and cells[index].strip():
                    record["address"] = f"{record['address']} {cells[index].strip()}"
                else:
                    record[field] = record.get(field) or cells[index]
            rows.append(cells)
            records.append(record)
    return headers, rows, records


def _write_csv(out: str, id_header: str, results) -> None:
    with open(out, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([safe_cell(id_header), "cluster_id", "match_probability"])
        for key, cluster_id, probability in results:
            writer.writerow([safe_cell(str(key)), safe_cell(str(cluster_id)),
                             "" if probability is None else f"{probability:.4f}"])


def _write_xlsx(out: str, id_header: str, headers, rows, results) -> None:
    """Every row with its columns, duplicates first, each group in its own fill and outlined."""
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill

    sizes: dict = {}
    for _key, cluster_id, _p in results:
        sizes[cluster_id] = sizes.get(cluster_id, 0) + 1
    order = sorted(range(len(results)), key=lambda i: (sizes[results[i][1]] < 2, str(results[i][1]),
                                                        -(results[i][2] or 0), str(results[i][0])))
    book = Workbook()
    sheet = book.active
    sheet.title = _("Duplicates")[:31]
    sheet.append([safe_cell(h) for h in ["cluster_id", "match_probability", id_header, *headers]])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    fills = [PatternFill("solid", fgColor="DDEBF7"), PatternFill("solid", fgColor="FFF2CC")]
    group, previous, number, width = -1, object(), 1, 3 + len(headers)
    for index in order:
        key, cluster_id, probability = results[index]
        first = cluster_id != previous
        if first:
            group, previous = group + 1, cluster_id
        sheet.append([safe_cell(str(cluster_id)), probability, safe_cell(str(key)),
                      *(safe_cell(c) for c in rows[index])])
        number += 1
        if sizes[cluster_id] > 1:
            for column in range(1, width + 1):  # sheet[number] would rescan the sheet
                sheet.cell(row=number, column=column).fill = fills[group % 2]
            if not first:
                sheet.row_dimensions[number].outline_level = 1
    sheet.sheet_properties.outlinePr.summaryBelow = False
    book.save(out)
