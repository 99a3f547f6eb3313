"""The kill-and-resume guarantee for orders: a real `kehu import --kind orders` process killed
at random points, then resumed, ends with exactly the rows, orders, lines, products, report
and counts of an uninterrupted run (orders are never split between chunks)."""

from __future__ import annotations

import json
import os
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.interchange.test_import import _kehu, kill_and_resume, write_csv

CUSTOMERS = 60
ORDERS = 260


def _files(tmp_path: Path) -> tuple[Path, Path]:
    customers = write_csv(tmp_path / "customers.csv", [
        [f"客户{i}", f"139{i:08d}", "", "", ""] for i in range(CUSTOMERS)])
    rows = []
    for n in range(ORDERS):
        mobile = f"139{n % CUSTOMERS:08d}" if n % 37 != 5 else "13000000000"  # unknown: rejected
        for line in range(1 + n % 3):  # 1 to 3 lines, adjacent, so chunks must not split them
            # A return: the order's last line (alone: a refunded order; else mixed: rejected).
            quantity = "-1" if n % 29 == 3 and line == n % 3 else str(1 + line)
            rows.append([f"SO{n:05d}", mobile, f"SKU-{(n + line) % 15}", f"商品{(n + line) % 15}",
                         quantity, f"{10 + line}.50", f"2024-0{1 + n % 9}-1{n % 9} 10:00"])
    orders = write_csv(tmp_path / "orders.csv", rows, header=[
        "订单号", "客户手机", "商品编码", "商品名称", "数量", "单价", "下单时间"])
    return customers, orders


def _state(home: Path) -> dict:
    with sqlite3.connect(home / "kehu.sqlite3") as db:
        one = lambda sql: db.execute(sql).fetchone()  # noqa: E731
        return {
            "job": one("SELECT id, status, rows_done, created, updated, unchanged, rejected "
                       "FROM interchange_importjob WHERE kind = 'orders' ORDER BY id DESC"),
            "orders": one("SELECT count(*), sum(total_amount) FROM transactions_order"),
            "refunded": one("SELECT count(*) FROM transactions_order WHERE status='refunded'"),
            "lines": one("SELECT count(*) FROM transactions_orderline"),
            "products": one("SELECT count(*) FROM transactions_product"),
            "errors": one("SELECT count(*) FROM interchange_importrowerror e JOIN "
                          "interchange_importjob j ON j.id = e.job_id WHERE j.kind='orders'"),
        }


@pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")),
                    reason="runs real kehu processes on their own SQLite KEHU_HOME; "
                           "nothing of it depends on PostgreSQL")
def test_killed_orders_import_resumes_to_the_counts_of_an_uninterrupted_run(tmp_path):
    plain, killed = tmp_path / "plain", tmp_path / "killed"
    customers, orders = _files(tmp_path)

    def prepare(home: Path) -> None:
        assert _kehu(home, "init").wait(timeout=240) == 0
        process = _kehu(home, "import", str(customers), "--json")
        assert process.wait(timeout=120) == 0, process.stderr.read()

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(prepare, [plain, killed]))
    args = ["--kind", "orders", "--create-products", "--json"]
    uninterrupted = _kehu(plain, "import", str(orders), *args)
    resumed, kills = kill_and_resume(killed, [str(orders), *args], state=_state)
    out, err = uninterrupted.communicate(timeout=180)
    assert uninterrupted.returncode == 0, err
    expected = json.loads(out.strip().splitlines()[-1])
    assert kills >= 1
    resumed.pop("report"), expected.pop("report")
    assert resumed == expected
    lines = sum(1 + n % 3 for n in range(ORDERS))
    assert expected["rows"] == lines
    unknown = sum(1 + n % 3 for n in range(ORDERS) if n % 37 == 5)
    # Orders with one returned line among others cannot mix them: rejected whole.
    mixed = sum(1 + n % 3 for n in range(ORDERS) if n % 29 == 3 and n % 3 and n % 37 != 5)
    assert expected["rejected"] == unknown + mixed
    assert expected["created"] == lines - unknown - mixed
    plain_state, killed_state = _state(plain), _state(killed)
    assert killed_state["job"][1:] == plain_state["job"][1:]
    for key in ("orders", "refunded", "lines", "products", "errors"):
        assert killed_state[key] == plain_state[key], key
    assert plain_state["refunded"][0] > 0
