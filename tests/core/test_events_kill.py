"""Exactly once under a killed worker: real `kehu events dispatch` processes, killed with
SIGKILL at random moments (two of them at once in some rounds), then restarted until every
event is delivered. Each subscriber's side effect must be there exactly once per event."""

from __future__ import annotations

import sqlite3

from tests.processes import (
    ONLY_SQLITE,
    finish_twice_at_once,
    kill_home,
    kill_rounds,
    sqlite_count,
)

COUNT = 1500
DISPATCH = ("events", "dispatch", "--batch", "20")


@ONLY_SQLITE
def test_each_effect_happens_once_however_often_the_worker_is_killed(tmp_path):
    home = tmp_path / "home"
    env = kill_home(home, "tests.core.events_kill_subscribers", COUNT, timeout=300,
                    KEHU_EVENT_SUBSCRIBERS="tests.core.events_kill_subscribers")
    kills = kill_rounds(env, [(DISPATCH, 2 if round_ % 2 else 1) for round_ in range(4)],
                        lambda: sqlite_count(home, "SELECT count(*) FROM core_eventdelivery"),
                        wait=60, pause=0.4)
    # Restarted, twice at once: the same events dispatched by both.
    finish_twice_at_once(env, ("events", "dispatch"), timeout=300)
    assert kills >= 3
    with sqlite3.connect(home / "kehu.sqlite3") as db:
        types = [row[0] for row in db.execute("SELECT type FROM core_domainevent")]
        expected = {"kill.all": len(types),
                    "kill.customers": sum(t.startswith("customer.") for t in types)}
        assert len(types) >= COUNT  # and what `kehu init` did (the first admin)
        for name, count in expected.items():
            effects, distinct = db.execute(
                "SELECT count(*), count(DISTINCT event_id) FROM kill_effects "
                "WHERE subscriber = ?", [name]).fetchone()
            assert (effects, distinct) == (count, count), name
            delivered = db.execute("SELECT count(*) FROM core_eventdelivery WHERE "
                                   "subscriber = ? AND status = 'done'", [name]).fetchone()[0]
            assert delivered == count, name
