"""Scale-out of the workers (docs/scaling.md): two `kehu worker` processes on one Redis queue
share the jobs and none runs twice. Needs a Redis at 127.0.0.1:6379 (skipped, saying so,
without one); uses one of its databases 10-15 that is empty, and empties it afterwards."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from tests.processes import ONLY_SQLITE, kehu_env, run_kehu, wait_for

JOBS = 40
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def _free_redis_db() -> int:
    try:
        import redis
    except ImportError:
        pytest.skip("the redis client is not installed (pip install kehu[redis])")
    for db in range(int(os.environ.get("KEHU_TEST_REDIS_DB", "10")), 16):
        client = redis.Redis(host="127.0.0.1", port=6379, db=db, socket_connect_timeout=1)
        try:
            if client.dbsize() == 0:
                return db
        except redis.exceptions.ConnectionError:
            pytest.skip("no Redis at 127.0.0.1:6379: the two-worker test needs one")
    pytest.skip("Redis databases 10-15 are all in use; set KEHU_TEST_REDIS_DB")


@ONLY_SQLITE
def test_two_workers_on_one_redis_run_each_job_once(tmp_path):
    import redis

    db = _free_redis_db()
    url = f"redis://127.0.0.1:6379/{db}"
    env = kehu_env(tmp_path, REDIS_URL=url, KEHU_LOG_LEVEL="INFO")
    run_kehu(env, "migrate", "--verbosity", "0")
    logs = [tmp_path / f"worker{n}.log" for n in (1, 2)]
    workers = [subprocess.Popen(  # noqa: S603 - our own command
        [sys.executable, "-m", "kehu", "worker", "--workers", "2"], env=env,
        stdout=log.open("w"), stderr=subprocess.STDOUT) for log in logs]
    try:
        wait_for(lambda: all("Huey consumer started" in log.read_text() for log in logs), 60,
                 "both workers to start")
        # The jobs are queued by a third process, as a web process would.
        queued = re.findall(UUID, run_kehu(env, "shell", "-c", (
            "from kehu.core.tasks import events_dispatch\n"
            f"print(' '.join(events_dispatch().id for _ in range({JOBS})))")).stdout)
        assert len(set(queued)) == JOBS

        def executed() -> Counter:
            found = Counter()
            for log in logs:  # kehu's JSON log lines (Huey prints its own plain copy too)
                for line in log.read_text().splitlines():
                    if not line.startswith("{"):
                        continue
                    ran = re.fullmatch(rf"Executing \S+: ({UUID})",
                                       json.loads(line).get("message", ""))
                    if ran and ran.group(1) in queued:
                        found[(log.name, ran.group(1))] += 1
            return found

        wait_for(lambda: len({t for _log, t in executed()}) == JOBS, 120,
                 "every queued job to run")
        time.sleep(1.5)  # a job run twice would show by now
        runs = executed()
        per_job = Counter(task_id for _log, task_id in runs.elements())
        assert set(per_job) == set(queued)
        assert max(per_job.values()) == 1, [t for t, n in per_job.items() if n > 1]
        assert sum(per_job.values()) == JOBS
        assert {log for log, _t in runs} == {"worker1.log", "worker2.log"}  # both took jobs
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGINT)
        for worker in workers:
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        redis.Redis(host="127.0.0.1", port=6379, db=db).flushdb()
