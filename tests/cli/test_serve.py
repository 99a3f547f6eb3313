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

import pytest

from tests.processes import ONLY_SQLITE, Server, get_json, kehu_env, wait_for

pytestmark = ONLY_SQLITE


@pytest.fixture
def home(initialized_home):
    return initialized_home


def test_serve_runs_the_background_worker_and_restarts_it_when_killed(home):
    server = Server(home)
    try:
        body = wait_for(server.ready, 150, "/readyz to report a live worker")
        assert body["checks"]["worker"]["ok"] is True
        first_pid = body["checks"]["worker"]["pid"]
        assert first_pid != server.proc.pid

        os.kill(first_pid, signal.SIGKILL)  # the supervisor must bring a new worker up
        body = wait_for(lambda: (b := server.ready()) and b["checks"]["worker"]["pid"] != first_pid and b,
                         150, "a restarted worker's heartbeat")
        assert body["checks"]["worker"]["ok"] is True
        status = subprocess.run([sys.executable, "-m", "kehu", "status", "--json"], env=kehu_env(home),
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
        wait_for(lambda: get_json(server.base + "/healthz")[0] == 200, 60, "/healthz")
        status, body = get_json(server.base + "/readyz")
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
        assert get_json(server.base + "/healthz", timeout=10) == (200, {"status": "ok"})
    finally:
        for sock in slow:
            sock.close()
        server.stop()
