"""Real `kehu` processes for tests: child environments on fresh SQLite homes and a server."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import kehu

SRC = str(Path(kehu.__file__).resolve().parent.parent)

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
