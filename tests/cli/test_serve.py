"""`kehu serve`: one command runs the web server and the background worker, and slow clients
cannot freeze it. Real processes on a fresh SQLite home."""

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


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(KEHU_HOME=str(home), PYTHONPATH=SRC, DJANGO_SETTINGS_MODULE="kehu.settings")
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, timeout: float = 10.0) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _wait_for(predicate, timeout: float, what: str):
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
    def __init__(self, home: Path, *extra: str):
        self.home, self.port = home, _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kehu", "serve", "--port", str(self.port), "--workers", "1", *extra],
            env=_env(home), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def ready(self) -> dict | None:
        status, body = _get(self.base + "/readyz")
        return body if status == 200 else None

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = tmp_path_factory.mktemp("serve-home")
    subprocess.run([sys.executable, "-m", "kehu", "init"], env=_env(home), check=True,
                   capture_output=True, timeout=180)
    return home


def test_serve_runs_the_background_worker_and_restarts_it_when_killed(home):
    server = Server(home)
    try:
        body = _wait_for(server.ready, 60, "/readyz to report a live worker")
        assert body["checks"]["worker"]["ok"] is True
        first_pid = body["checks"]["worker"]["pid"]
        assert first_pid != server.proc.pid

        os.kill(first_pid, signal.SIGKILL)  # the supervisor must bring a new worker up
        body = _wait_for(lambda: (b := server.ready()) and b["checks"]["worker"]["pid"] != first_pid and b,
                         60, "a restarted worker's heartbeat")
        assert body["checks"]["worker"]["ok"] is True
        status = subprocess.run([sys.executable, "-m", "kehu", "status", "--json"], env=_env(home),
                                capture_output=True, text=True, timeout=60)
        assert status.returncode == 0, status.stdout + status.stderr
        assert json.loads(status.stdout)["checks"]["worker"]["pid"] == body["checks"]["worker"]["pid"]
    finally:
        server.stop()
    assert server.proc.returncode is not None


def test_serve_no_worker_is_not_ready_and_survives_slow_clients(home, tmp_path):
    # A fresh queue (its own home) so no heartbeat of the previous test is seen.
    lonely = tmp_path / "home"
    lonely.mkdir()
    for item in home.iterdir():
        if item.name.startswith("kehu.sqlite3") or item.name in ("secret_key", "encryption_key"):
            (lonely / item.name).write_bytes(item.read_bytes())
    server = Server(lonely, "--no-worker")
    slow = []
    try:
        _wait_for(lambda: _get(server.base + "/healthz")[0] == 200, 60, "/healthz")
        status, body = _get(server.base + "/readyz")
        assert status == 503
        assert body["checks"]["worker"]["ok"] is False
        assert body["checks"]["database"]["ok"] is True

        # More slow connections than the server has processes and threads: each sends
        # its request line and a header, then stalls (the classic slowloris).
        for _ in range(12):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            sock.sendall(b"GET /login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: 1\r\n")
            slow.append(sock)
        time.sleep(1)
        for _ in range(5):
            with urllib.request.urlopen(server.base + "/login/", timeout=10) as response:
                assert response.status == 200
        assert _get(server.base + "/healthz", timeout=10) == (200, {"status": "ok"})
    finally:
        for sock in slow:
            sock.close()
        server.stop()
