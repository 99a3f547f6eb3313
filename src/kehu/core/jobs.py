"""Long jobs run by a process that can die: which process runs each, and finding the jobs
whose process is gone (killed with -9, machine rebooted) so they do not stay "running"
forever. Apps register their job models; core knows none of them.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import QuerySet
from django.utils import timezone

logger = logging.getLogger(__name__)

# A job on another machine is taken for dead when it has not moved for this long (its
# process cannot be asked directly); on this machine the process itself is checked.
REMOTE_STALE = timedelta(hours=1)
# Even with its process alive (a reused pid), a job that has not moved for this long is dead.
LOCAL_STALE = timedelta(hours=6)


def runner_id() -> str:
    """Who runs a job: `host:pid`, and `/worker` when it is a background worker process."""
    worker = "/worker" if os.environ.get("KEHU_PROCESS_ROLE") == "worker" else ""
    return f"{socket.gethostname()}:{os.getpid()}{worker}"


def runner_is_worker(runner: str) -> bool:
    return runner.endswith("/worker")


def runner_alive(runner: str, *, last_moved, now=None) -> bool:
    now = now or timezone.now()
    if not runner:
        return last_moved is not None and now - last_moved < REMOTE_STALE
    host, _, pid = runner.removesuffix("/worker").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return last_moved is not None and now - last_moved < REMOTE_STALE
    if last_moved is not None and now - last_moved > LOCAL_STALE:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


@dataclass(frozen=True)
class RunningJobs:
    name: str
    running: Callable[[], QuerySet]          # the kind's rows that say they are running
    interrupted: Callable[[object], None]    # mark one dead (or queue its resumption)
    last_moved: str = "updated_at"           # field that changes whenever the job advances


_KINDS: list[RunningJobs] = []


def register_running_jobs(kind: RunningJobs) -> None:
    if all(k.name != kind.name for k in _KINDS):
        _KINDS.append(kind)


def jobs_reap_dead(now=None) -> list[tuple[str, int]]:
    """Hand every running job whose process is gone to its kind's `interrupted`."""
    reaped = []
    for kind in _KINDS:
        for job in kind.running():
            if runner_alive(getattr(job, "runner", ""), last_moved=getattr(job, kind.last_moved), now=now):
                continue
            logger.warning("%s #%s was running in a process that is gone; interrupted", kind.name, job.pk)
            kind.interrupted(job)
            reaped.append((kind.name, job.pk))
    return reaped
