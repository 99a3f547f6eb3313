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

from tests.cli.conftest import kehu_env


def _env(home: Path) -> dict[str, str]:
    return kehu_env(home)


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


@pytest.fixture
def home(initialized_home):
    return initialized_home


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


def test_serve_no_worker_is_not_ready_and_survives_slow_clients(home):
    server = Server(home, "--no-worker")
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
