"""The background worker that `kehu serve` runs beside the web server.

A child process (`python -m kehu worker`), restarted with backoff when it dies, stopped with
the server. A separate process rather than threads in the server: the worker's long jobs
(imports, scans, scoring) must not share the web processes' memory or GIL, and a crash in
one must not take the other down.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time

log = logging.getLogger("kehu.supervise")

MAX_BACKOFF_SECONDS = 60.0
# A child that ran this long was healthy: its next failure starts the backoff afresh.
HEALTHY_RUN_SECONDS = 60.0


class WorkerSupervisor:
    def __init__(self, *, threads: int = 2):
        self.command = [sys.executable, "-m", "kehu", "worker", "--workers", str(threads)]
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._supervisor_pid: int | None = None
        self.restarts = 0
        # gunicorn forks its web processes from the one that owns this supervisor; only the
        # owner may stop the worker (a web process unwinding on exit must not).
        self._owner_pid = os.getpid()

    def start(self) -> None:
        """Fork the supervising process. It, not the web server, is the worker's parent:
        gunicorn reaps every child of its master (waitpid(-1)), which would steal the worker's
        exit from a supervisor living there."""
        if self._supervisor_pid is not None:
            return
        pid = os.fork()
        if pid == 0:  # the supervising process
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server decides when to stop
            signal.signal(signal.SIGTERM, lambda *_args: self._stopping.set())
            try:
                self._run()
            finally:
                self._stop_worker()
                os._exit(0)
        self._supervisor_pid = pid

    def _spawn(self) -> subprocess.Popen:
        # The child gets its own process group, so a Ctrl-C in the terminal reaches the
        # server, which then stops the worker in order (finishing the task it holds).
        return subprocess.Popen(self.command, env=dict(os.environ, KEHU_PROCESS_ROLE="worker"),  # noqa: S603 - our own command
                                start_new_session=True)

    def _run(self) -> None:
        backoff = 1.0
        while not self._stopping.is_set():
            with self._lock:
                if self._stopping.is_set():
                    return
                self._process = self._spawn()
            started = time.monotonic()
            while (code := self._process.poll()) is None and not self._stopping.wait(0.5):
                pass
            if self._stopping.is_set():
                return
            if time.monotonic() - started >= HEALTHY_RUN_SECONDS:
                backoff = 1.0
            self.restarts += 1
            log.warning("background worker exited with %s; restarting in %.0f s", code, backoff)
            if self._stopping.wait(backoff):
                return
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    def stop(self, timeout: float = 20.0) -> None:
        if os.getpid() != self._owner_pid or self._supervisor_pid is None:
            return
        pid, self._supervisor_pid = self._supervisor_pid, None
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout + 5
        while time.monotonic() < deadline:
            try:  # gunicorn may reap it first: then it is gone either way
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    return
            except ChildProcessError:
                return
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)

    def _stop_worker(self, timeout: float = 20.0) -> None:
        with self._lock:
            process = self._process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)  # Huey finishes the running task, then exits
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None and process.poll() is None else None
