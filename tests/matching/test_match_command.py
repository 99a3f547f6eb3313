"""`kehu match` on a small sheet: csv and xlsx output, JSON summary, errors naming the row."""

import csv
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation
from openpyxl import load_workbook

ROWS = [
    ["编号", "姓名", "手机号码", "生日", "邮箱"],
    ["r1", "张伟", "13812345678", "1985-03-12", "zw@qq.com"],
    ["r2", "Zhang Wei", "+86 138 1234 5678", "1985年3月12日", ""],
    ["r3", "李娜", "13900001111", "1990-01-01", "=HYPERLINK(\"x\")"],
]


@pytest.fixture
def sheet(tmp_path):
    path = tmp_path / "客户.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(ROWS)
    return path


def test_csv_output_and_json_summary(sheet, tmp_path):
    out, stdout = tmp_path / "out.csv", StringIO()
    call_command("match", str(sheet), "--id-column", "编号", "--out", str(out), "--json", stdout=stdout)
    summary = json.loads(stdout.getvalue().strip().splitlines()[-1])
    assert {k: summary[k] for k in ("records", "clusters", "pairs")} == {"records": 3, "clusters": 1, "pairs": 1}
    with open(out, encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["编号", "cluster_id", "match_probability"]
    assert [r[:2] for r in rows[1:]] == [["r1", "r1"], ["r2", "r1"], ["r3", "r3"]]
    assert float(rows[1][2]) >= 0.99 and rows[3][2] == ""


def test_xlsx_groups_clusters_and_neutralises_formulas(sheet, tmp_path):
    out = tmp_path / "out.xlsx"
    call_command("match", str(sheet), "--id-column", "编号", "--out", str(out), stdout=StringIO())
    ws = load_workbook(out).active
    values = [[c.value for c in row] for row in ws.iter_rows()]
    assert values[0][:3] == ["cluster_id", "match_probability", "编号"]
    assert [v[0] for v in values[1:]] == ["r1", "r1", "r3"]
    assert ws.row_dimensions[3].outline_level == 1
    assert ws.cell(row=2, column=1).fill.fgColor.rgb.endswith("DDEBF7")
    assert values[3][-1] == "'=HYPERLINK(\"x\")"


def test_unknown_id_column(sheet):
    with pytest.raises(CommandError, match="rec_id"):
        call_command("match", str(sheet), "--id-column", "rec_id", stdout=StringIO())


def test_duplicate_id_names_the_row(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("id,姓名\nx,张伟\nx,李娜\n", encoding="utf-8")
    with pytest.raises(CommandError) as info:
        call_command("match", str(path), "--id-column", "id", "--language", "en", stdout=StringIO())
    assert str(info.value) == "Row 3: the id “x” appears twice; ids must be unique."


def test_train_option(sheet):
    stdout = StringIO()
    with translation.override("en"):
        call_command("match", str(sheet), "--id-column", "编号", "--train", "yes", "--json",
                     "--language", "en", stdout=stdout)
    lines = stdout.getvalue().strip().splitlines()
    assert lines[-2] == "The model was trained on this file first (--train)."
    summary = json.loads(lines[-1])
    assert (summary["trained"], summary["records"]) == (True, 3)
    stdout = StringIO()
    call_command("match", str(sheet), "--id-column", "编号", "--json", stdout=stdout)
    assert json.loads(stdout.getvalue().strip().splitlines()[-1])["trained"] is False  # auto: too few rows


def test_columns_only_matching_reads(tmp_path):
    """Surname and given name apart, address lines, suburb, postcode, state, social security id."""
    path = tmp_path / "people.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([
            ["rec_id", "given_name", "surname", "street_number", "address_1", "suburb", "postcode", "state",
             "date_of_birth", "soc_sec_id"],
            ["a", " mitchell", " green", "7", "wallaby place", "cleveland", "2119", "sa", "19560409", "1804974"],
            ["b", "mitchell", "green", "7", "wallaby pl", "cleveland", "2119", "sa", "19560409", "1804974"],
            ["c", "harley", "mccarthy", "177", "pridham street", "marsden", "3165", "nsw", "19080419", "6089216"],
        ])
    out = tmp_path / "out.csv"
    call_command("match", str(path), "--id-column", "rec_id", "--out", str(out), stdout=StringIO())
    with open(out, encoding="utf-8-sig") as handle:
        assert [row[:2] for row in csv.reader(handle)][1:] == [["a", "a"], ["b", "a"], ["c", "c"]]
