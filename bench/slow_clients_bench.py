"""Does `kehu serve` stay responsive while slow clients hold connections open?

Starts `kehu serve` on a fresh KEHU_HOME, times normal requests (the sign-in page and
/healthz) alone, then again while N slow clients ("slowloris": one header line every few
seconds, never finishing the request) hold their connections, and prints both with the
ratio. Usage:

    .venv/bin/python bench/slow_clients_bench.py [--slow 50] [--requests 200] [--interval 5]
        [--worker-class asgi|sync]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _kehu_home import ROOT, fresh_home, print_machine  # noqa: E402


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_up(base: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(base + "/healthz", timeout=2).read()  # noqa: S310 - our own http URL
            return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("kehu serve did not come up")


def _time_requests(base: str, count: int, budget: float = 60.0) -> tuple[list[float], int]:
    """Latencies (ms) of up to `count` sequential requests alternating two pages, within
    `budget` seconds; failures (no answer within 5 s) counted."""
    latencies, failures = [], 0
    deadline = time.monotonic() + budget
    for i in range(count):
        if time.monotonic() > deadline:
            break
        url = base + ("/login/" if i % 2 else "/healthz")
        started = time.perf_counter()
        try:
            urllib.request.urlopen(url, timeout=5).read()  # noqa: S310 - our own http URL
            latencies.append((time.perf_counter() - started) * 1000)
        except OSError:
            failures += 1
    return latencies, failures


class SlowClients:
    """N connections that send a request line and then one header every `interval` s."""

    def __init__(self, port: int, count: int, interval: float):
        self.port, self.count, self.interval = port, count, interval
        self.stop = threading.Event()
        self.sockets: list[socket.socket] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        for _ in range(self.count):
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            sock.sendall(b"GET /login/ HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            self.sockets.append(sock)
        self.thread.start()
        time.sleep(0.5)
        return self

    def _run(self):
        n = 0
        while not self.stop.wait(self.interval):
            n += 1
            for sock in list(self.sockets):
                try:
                    sock.sendall(f"X-Slow-{n}: {n}\r\n".encode())
                except OSError:
                    self.sockets.remove(sock)

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        for sock in self.sockets:
            sock.close()

    @property
    def alive(self) -> int:
        return len(self.sockets)


def _summary(label: str, latencies: list[float], failures: int) -> float:
    if not latencies:
        print(f"{label}: every request failed ({failures})")
        return float("inf")
    ordered = sorted(latencies)
    p95 = ordered[int(len(ordered) * 0.95) - 1] if len(ordered) >= 20 else ordered[-1]
    median = statistics.median(ordered)
    print(f"{label}: {len(latencies)} ok, {failures} failed, median {median:.1f} ms, "
          f"p95 {p95:.1f} ms, max {ordered[-1]:.1f} ms")
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slow", type=int, default=50, help="slow connections to hold")
    parser.add_argument("--requests", type=int, default=200, help="normal requests to time")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between slow headers")
    parser.add_argument("--workers", type=int, default=2, help="kehu serve --workers")
    parser.add_argument("--worker-class", default="asgi", choices=["asgi", "sync"],
                        help="kehu serve --worker-class (sync shows the failure it replaces)")
    args = parser.parse_args()

    home = fresh_home("kehu-slow-")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    kehu = [sys.executable, "-m", "kehu"]
    subprocess.run([*kehu, "init"], env=env, check=True, capture_output=True)  # noqa: S603
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([*kehu,  # noqa: S603 "serve", "--port", str(port), "--workers", str(args.workers),
                               "--worker-class", args.worker_class, "--no-worker"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        _wait_up(base)
        _time_requests(base, 10)  # warm up
        alone = _summary("alone", *_time_requests(base, args.requests))
        with SlowClients(port, args.slow, args.interval) as slow:
            started = time.monotonic()
            held = _summary(f"with {args.slow} slow clients", *_time_requests(base, args.requests))
            # Keep going until the slow clients have sent at least two headers each.
            while time.monotonic() - started < 2.5 * args.interval:
                _time_requests(base, 5)
            late = _summary("  ...after they kept sending", *_time_requests(base, args.requests // 4))
            print(f"slow connections still open at the end: {slow.alive} of {args.slow}")
        print(f"ratio (median with slow clients / alone): {held / alone:.2f}x, later {late / alone:.2f}x")
    finally:
        server.terminate()
        server.wait(timeout=30)
    print_machine(home)


if __name__ == "__main__":
    main()
