"""`kehu clv fit`: the JSON contract on the last line, file formats, bad rows."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command


def run(*args) -> list[str]:
    out = StringIO()
    call_command("clv", "fit", *args, stdout=out)
    return out.getvalue().strip().splitlines()


def test_cdnow_json_contract(cdnow_sample):
    lines = run("--transactions", str(cdnow_sample), "--calibration-end", "1997-09-30", "--json")
    assert len(lines) > 1  # human output first
    data = json.loads(lines[-1])
    assert list(data) == ["bgnbd", "gamma_gamma", "holdout"]
    assert set(data["bgnbd"]) == {"r", "alpha", "a", "b", "log_likelihood"}
    assert set(data["gamma_gamma"]) == {"p", "q", "v"}
    assert set(data["holdout"]) == {"correlation", "predicted_total", "actual_total"}
    assert data["bgnbd"]["r"] == pytest.approx(0.243, rel=0.005)
    assert data["bgnbd"]["log_likelihood"] == pytest.approx(-9582.4, abs=0.1)
    assert data["gamma_gamma"]["v"] == pytest.approx(15.44, rel=0.01)
    assert data["holdout"]["correlation"] == pytest.approx(0.626, abs=0.01)
    assert data["holdout"]["predicted_total"] > 0 and data["holdout"]["actual_total"] > 0


def test_pareto_key_comes_first(cdnow_sample):
    data = json.loads(run("--transactions", str(cdnow_sample), "--calibration-end",
                          "1997-09-30", "--model", "pareto", "--json")[-1])
    assert list(data)[0] == "pareto"
    assert set(data["pareto"]) == {"r", "alpha", "s", "beta", "log_likelihood"}
    assert data["pareto"]["s"] == pytest.approx(0.606, rel=0.01)


def test_without_json_no_json_line(cdnow_sample):
    lines = run("--transactions", str(cdnow_sample), "--calibration-end", "1997-09-30")
    assert not lines[-1].startswith("{")
    assert any("BG/NBD" in line for line in lines)


def _book_lines(fmt: str) -> list[str]:
    """60 customers, each buying every 10 or 20 days in 2024 (CSV or whitespace)."""
    rows = []
    for c in range(60):
        step = 10 if c % 2 else 20
        for day in range(1 + c % 7, 300, step):
            month, dom = divmod(day, 28)
            date = f"2024-{month + 1:02d}-{dom + 1:02d}"
            if fmt == "ws":
                date = date.replace("-", "")
            rows.append((f"C{c:03d}", date, f"{10 + c % 5}.50"))
    if fmt == "csv":
        return ["customer_id,date,amount", *(",".join(r) for r in rows)]
    return ["  ".join(r) for r in rows]


@pytest.mark.parametrize("fmt", ["csv", "ws"])
def test_csv_and_whitespace_files(tmp_path, fmt):
    path = tmp_path / f"t.{fmt}"
    path.write_text("\n".join(_book_lines(fmt)) + "\n", encoding="utf-8")
    data = json.loads(run("--transactions", str(path), "--calibration-end", "2024-08-31",
                          "--json")[-1])
    assert list(data) == ["bgnbd", "gamma_gamma", "holdout"]
    assert all(v > 0 for k, v in data["bgnbd"].items() if k != "log_likelihood")


def test_no_holdout_key_without_later_data(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("\n".join(_book_lines("csv")) + "\n", encoding="utf-8")
    data = json.loads(run("--transactions", str(path), "--calibration-end", "2024-12-31",
                          "--json")[-1])
    assert list(data) == ["bgnbd", "gamma_gamma"]


@pytest.mark.parametrize(("line", "says"), [
    ("C1,2024-13-01,10", "line 3"),
    ("C1,2024-01-02,ten", "line 3"),
    ("C1,2024-01-02", "line 3"),
])
def test_bad_row_names_its_line(tmp_path, line, says):
    path = tmp_path / "bad.csv"
    path.write_text(f"customer_id,date,amount\nC0,2024-01-01,5\n{line}\n", encoding="utf-8")
    with pytest.raises(CommandError, match=says):
        run("--transactions", str(path), "--calibration-end", "2024-06-30", "--json")


def test_bad_calibration_end_and_missing_file(tmp_path):
    with pytest.raises(CommandError, match="calibration-end"):
        run("--transactions", str(tmp_path / "x.csv"), "--calibration-end", "2024/06/30")
    with pytest.raises(CommandError, match="cannot open"):
        run("--transactions", str(tmp_path / "x.csv"), "--calibration-end", "2024-06-30")
