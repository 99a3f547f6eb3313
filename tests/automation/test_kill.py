"""Killed workers lose and double nothing: real `kehu events dispatch` and `kehu rules tick`
processes killed with SIGKILL at random moments, then restarted (twice at once) until done.
Every customer ends with exactly one run per rule, one task per rule and the tag."""

from __future__ import annotations

import sqlite3

from tests.processes import (
    ONLY_SQLITE,
    finish_twice_at_once,
    kill_home,
    kill_rounds,
    sqlite_count,
)

COUNT = 150
DISPATCH = ("events", "dispatch", "--batch", "10")
TICK = ("rules", "tick")


@ONLY_SQLITE
def test_killed_workers_neither_lose_nor_double_actions(tmp_path):
    home = tmp_path / "home"
    env = kill_home(home, "tests.automation.kill_seed", COUNT, timeout=300)
    kills = kill_rounds(
        env, [(DISPATCH if round_ % 2 == 0 else TICK, 2 if round_ % 3 == 2 else 1)
              for round_ in range(6)],
        lambda: sqlite_count(home, "SELECT count(*) FROM automation_rulerun "
                                   "WHERE status = 'done'"),
        wait=90, pause=0.5)
    finish_twice_at_once(env, DISPATCH, TICK, timeout=600)
    assert kills >= 2
    with sqlite3.connect(home / "kehu.sqlite3") as db:
        per_rule = dict(db.execute(
            "SELECT r.name, count(*) FROM automation_rulerun x JOIN automation_rule r "
            "ON r.id = x.rule_id WHERE x.status = 'done' GROUP BY r.name").fetchall())
        assert per_rule == {"新客户": COUNT, "沉默": COUNT}
        assert db.execute("SELECT count(*) FROM automation_rulerun WHERE status != 'done'"
                          ).fetchone()[0] == 0
        tasks = db.execute("SELECT substr(title, 1, 2), count(*), count(DISTINCT customer_id) "
                           "FROM interactions_followuptask GROUP BY substr(title, 1, 2)"
                           ).fetchall()
        assert sorted(tasks) == sorted([("事件", COUNT, COUNT), ("沉默", COUNT, COUNT)])
        tagged = db.execute("SELECT count(*) FROM customers_customertag ct JOIN customers_tag t "
                            "ON t.id = ct.tag_id WHERE t.name = '新客'").fetchone()[0]
        assert tagged == COUNT
