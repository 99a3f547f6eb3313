"""Is kehu healthy: the database answers, the queue answers, a background worker is alive.

The worker's heartbeat is kept in the queue's own storage (Huey's key-value store, SQLite or
Redis), so it needs no table and is visible to every web process that shares the queue.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field

from django.db import connection
from huey.contrib.djhuey import HUEY

logger = logging.getLogger(__name__)

HEARTBEAT_KEY = "kehu:worker-heartbeat"
HEARTBEAT_SECONDS = 10.0
# A worker is alive when it beat within this many seconds (three missed beats).
HEARTBEAT_STALE_SECONDS = 3 * HEARTBEAT_SECONDS


def worker_beat(*, started_at: float) -> None:
    """Record that this worker process is alive (called every HEARTBEAT_SECONDS)."""
    beat = {"host": socket.gethostname(), "pid": os.getpid(), "started_at": started_at,
            "at": time.time()}
    HUEY.put(HEARTBEAT_KEY, json.dumps(beat))


def worker_last_beat() -> dict | None:
    """The newest heartbeat of any worker, or None when no worker ever beat."""
    raw = HUEY.get(HEARTBEAT_KEY, peek=True)
    if raw is None:
        return None
    try:
        beat = json.loads(raw)
    except (TypeError, ValueError):
        return None
    beat["age"] = max(0.0, time.time() - float(beat.get("at", 0)))
    return beat


class Heartbeat:
    """A daemon thread in the worker process that beats until the process ends."""

    def __init__(self):
        self.started_at = time.time()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kehu-heartbeat", daemon=True)

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def _run(self) -> None:
        while True:
            try:
                worker_beat(started_at=self.started_at)
            except Exception:  # a storage hiccup must not end the beating
                logger.warning("worker heartbeat not recorded", exc_info=True)
            if self._stop.wait(HEARTBEAT_SECONDS):
                return

    def stop(self) -> None:
        self._stop.set()


@dataclass
class Readiness:
    checks: dict[str, dict] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(check["ok"] for check in self.checks.values())


def readiness() -> Readiness:
    """Database, queue and worker heartbeat, each with ok and a detail."""
    result = Readiness()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        result.checks["database"] = {"ok": True, "vendor": connection.vendor}
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        result.checks["database"] = {"ok": False, "error": type(exc).__name__}
    try:
        pending = HUEY.pending_count()
        result.checks["queue"] = {"ok": True, "pending": pending}
    except Exception as exc:  # noqa: BLE001
        result.checks["queue"] = {"ok": False, "error": type(exc).__name__}
        result.checks["worker"] = {"ok": False, "error": "queue unreachable"}
        return result
    beat = worker_last_beat()
    if beat is None:
        result.checks["worker"] = {"ok": False, "last_beat_seconds_ago": None}
    else:
        result.checks["worker"] = {"ok": beat["age"] <= HEARTBEAT_STALE_SECONDS,
                                   "last_beat_seconds_ago": round(beat["age"], 1),
                                   "host": beat.get("host"), "pid": beat.get("pid")}
    return result
