"""Exactly once under a killed worker: real `kehu events dispatch` processes, killed with
SIGKILL at random moments (two of them at once in some rounds), then restarted until every
event is delivered. Each subscriber's side effect must be there exactly once per event."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
COUNT = 1500


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(KEHU_HOME=str(home), DJANGO_SETTINGS_MODULE="kehu.settings",
               KEHU_EVENT_SUBSCRIBERS="tests.core.events_kill_subscribers",
               PYTHONPATH=os.pathsep.join([str(REPO / "src"), str(REPO)]))
    return env


def _kehu(home: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([str(Path(sys.executable).with_name("kehu")), *args], env=_env(home),
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _done(home: Path) -> int:
    with sqlite3.connect(home / "kehu.sqlite3", timeout=30) as db:
        return db.execute("SELECT count(*) FROM core_eventdelivery").fetchone()[0]


@pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")),
                    reason="runs real kehu processes on their own SQLite KEHU_HOME; the "
                           "cursor lock on PostgreSQL is covered by the delivery tests")
def test_each_effect_happens_once_however_often_the_worker_is_killed(tmp_path):
    home = tmp_path / "home"
    out, err = _kehu(home, "init").communicate(timeout=120)
    assert "admin" in out, err
    seeded = subprocess.run([sys.executable, "-c", "import django; django.setup(); "
                             "from tests.core.events_kill_subscribers import seed; "
                             f"seed({COUNT})"], env=_env(home), cwd=REPO, capture_output=True,
                            text=True, timeout=120)
    assert seeded.returncode == 0, seeded.stderr
    rng = random.Random()
    kills = 0
    for round_ in range(4):
        workers = [_kehu(home, "events", "dispatch", "--batch", "20")
                   for _ in range(2 if round_ % 2 else 1)]
        before = _done(home)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and workers[0].poll() is None:
            if _done(home) > before:
                break
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.4))
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGKILL)
                kills += 1
            worker.communicate(timeout=30)
    # Restarted, twice at once: the same events dispatched by both.
    finals = [_kehu(home, "events", "dispatch") for _ in range(2)]
    for worker in finals:
        _out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err
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
