"""Real `kehu` processes for tests: child environments on fresh SQLite homes and a server."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

import kehu

SRC = str(Path(kehu.__file__).resolve().parent.parent)
REPO = str(Path(__file__).resolve().parent.parent)

ONLY_SQLITE = pytest.mark.skipif(
    bool(os.environ.get("DATABASE_URL")),
    reason="runs real kehu processes on their own SQLite KEHU_HOME; nothing of it depends on "
           "PostgreSQL, so it runs in the SQLite pass only")


def kehu_env(home: Path, database_url: str = "", **extra: str) -> dict[str, str]:
    """The environment of a `kehu` child process on `home` (SQLite unless database_url)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(KEHU_HOME=str(home), PYTHONPATH=SRC, DJANGO_SETTINGS_MODULE="kehu.settings", **extra)
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def run_kehu(env: dict, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "kehu", *args], env=env, capture_output=True,  # noqa: S603
                            text=True, timeout=timeout)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get_json(url: str, timeout: float = 10.0) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - http test URL
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


class Server:
    """`kehu serve` on a free port of 127.0.0.1 (one web process), stopped with SIGTERM."""

    def __init__(self, home: Path, *extra: str, **env: str):
        self.home, self.port = home, free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "kehu", "serve", "--port", str(self.port), "--workers", "1", *extra],
            env=kehu_env(home, **env), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def ready(self) -> dict | None:
        status, body = get_json(self.base + "/readyz")
        return body if status == 200 else None

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# Killed workers ------------------------------------------------------------------------------


def kill_home(home: Path, seeder: str, count: int, timeout: float = 300,
              **extra: str) -> dict[str, str]:
    """A fresh SQLite home for a killed-worker test: `kehu init`, then `seed(count)` of the test
    module `seeder` ("tests.app.module"). Returns the environment of its kehu processes, which
    can import the tests package (subscribers, seeders)."""
    env = kehu_env(home, **extra)
    env["PYTHONPATH"] = os.pathsep.join([SRC, REPO])
    assert "admin" in run_kehu(env, "init", timeout=timeout).stdout
    seeded = subprocess.run(  # noqa: S603
        [sys.executable, "-c", f"import django; django.setup(); from {seeder} import seed; "
                               f"seed({int(count)})"],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    assert seeded.returncode == 0, seeded.stderr
    return env


def start_kehu(env: dict, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "kehu", *args], env=env, cwd=REPO,  # noqa: S603
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def sqlite_count(home: Path, sql: str) -> int:
    with sqlite3.connect(Path(home) / "kehu.sqlite3", timeout=30) as db:
        return db.execute(sql).fetchone()[0]


def kill_rounds(env: dict, rounds: Sequence[tuple[Sequence[str], int]],
                progress: Callable[[], int], *, wait: float, pause: float) -> int:
    """For each (command, n) round: start n workers running `kehu <command>`, wait (at most
    `wait` seconds) until `progress()` moves, let them run a random 0–`pause` s more, then
    SIGKILL those still running. Returns how many were killed."""
    rng = random.Random()
    kills = 0
    for command, n in rounds:
        workers = [start_kehu(env, *command) for _ in range(n)]
        before = progress()
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and workers[0].poll() is None:
            if progress() > before:
                break
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, pause))
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGKILL)
                kills += 1
            worker.communicate(timeout=60)
    return kills


def finish_twice_at_once(env: dict, *commands: Sequence[str], timeout: float = 600) -> None:
    """Restart after the kills: each command run by two workers at once, both ending well."""
    for command in commands:
        finals = [start_kehu(env, *command) for _ in range(2)]
        for worker in finals:
            _out, err = worker.communicate(timeout=timeout)
            assert worker.returncode == 0, err
