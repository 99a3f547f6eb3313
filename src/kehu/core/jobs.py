"""The one job system: every long job (imports, duplicate scans, scoring runs …) is a
core.Job row that this module alone writes — status, progress, rate, heartbeat, outcome — and
that the jobs page, the API and `kehu jobs` read alike. Apps register their kinds (who may see
them, where their own page is, what to do when the process running one died); core knows none
of them.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.utils import timezone

from kehu.core.models import Job

logger = logging.getLogger(__name__)

# A job on another machine is taken for dead when it has not reported for this long (its
# process cannot be asked directly); on this machine the process itself is checked.
REMOTE_STALE = timedelta(hours=1)
# Even with its process alive (a reused pid), a job that has not reported for this long is dead.
LOCAL_STALE = timedelta(hours=6)


@dataclass(frozen=True)
class JobKind:
    key: str
    label: Any                                            # translated name of the kind
    permission: str                                       # who sees every job of the kind
    detail_url: Callable[[Job], str | None] | None = None  # the kind's own page for a job
    # The process running a job died: resume it, or mark it (default: failed, "interrupted").
    interrupted: Callable[[Job], None] | None = None
    # Finished jobs of this kind are pruned after this many days (frequent kinds such as the
    # hourly segment refresh); None keeps them (kinds with a row of their own, e.g. imports).
    keep_days: int | None = None


_KINDS: dict[str, JobKind] = {}


def register_job_kind(kind: JobKind) -> None:
    _KINDS[kind.key] = kind


def job_kind(key: str) -> JobKind | None:
    return _KINDS.get(key)


def job_kinds() -> list[JobKind]:
    return list(_KINDS.values())


# Who runs a job ---------------------------------------------------------------------------

def runner_id() -> str:
    """Who runs a job: `host:pid`, and `/worker` when it is a background worker process."""
    worker = "/worker" if os.environ.get("KEHU_PROCESS_ROLE") == "worker" else ""
    return f"{socket.gethostname()}:{os.getpid()}{worker}"


def runner_is_worker(runner: str) -> bool:
    return runner.endswith("/worker")


def runner_alive(runner: str, *, last_moved, now=None) -> bool:
    now = now or timezone.now()
    host, _sep, pid = runner.removesuffix("/worker").rpartition(":")
    if not runner or host != socket.gethostname() or not pid.isdigit():
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


# Writing ----------------------------------------------------------------------------------

def job_open(*, kind: str, label: str, user=None, total: int = 0) -> Job:
    """A queued job of a registered kind."""
    if kind not in _KINDS:
        raise ValueError(f"unregistered job kind {kind!r}")
    return Job.objects.create(kind=kind, label=label[:200], created_by=user, total=max(0, int(total)))


def job_report(job: Job | int | None, *, status: str | None = None, done: int | None = None,
               total: int | None = None, error: str | None = None,
               result: dict | None = None) -> Job | None:
    """Move a job on: status, progress (rate and heartbeat follow), outcome. Entering
    `running` records the process and the start; a finished status records the end."""
    if job is None:
        return None
    if not isinstance(job, Job):
        job = Job.objects.filter(pk=job).first()
        if job is None:
            return None
    now = timezone.now()
    fields = {"heartbeat_at"}
    job.heartbeat_at = now
    if status is not None and status != job.status:
        job.status = status
        fields.add("status")
        if status == Job.RUNNING:
            job.runner, job.finished_at = runner_id(), None
            job.started_at = job.started_at or now
            fields |= {"runner", "started_at", "finished_at"}
        elif status in Job.FINISHED:
            job.finished_at = now
            fields.add("finished_at")
        elif status == Job.QUEUED:
            job.finished_at = None
            fields.add("finished_at")
    if total is not None:
        job.total = max(0, int(total))
        fields.add("total")
    if done is not None:
        job.done = max(0, int(done))
        fields.add("done")
        if job.started_at:
            elapsed = (now - job.started_at).total_seconds()
            job.rate = job.done / elapsed if elapsed > 0 else 0.0
            fields.add("rate")
    if error is not None:
        job.error = error[:4000]
        fields.add("error")
    if result is not None:
        job.result = result
        fields.add("result")
    job.save(update_fields=sorted(fields))
    return job


def jobs_reap_dead(now=None) -> list[tuple[str, int]]:
    """Hand every running job whose process is gone to its kind (or mark it failed)."""
    from django.utils.translation import gettext as _

    reaped = []
    for job in Job.objects.filter(status=Job.RUNNING):
        if runner_alive(job.runner, last_moved=job.heartbeat_at or job.started_at, now=now):
            continue
        logger.warning("%s job #%s was running in a process that is gone; interrupted", job.kind, job.pk)
        kind = _KINDS.get(job.kind)
        if kind is not None and kind.interrupted is not None:
            kind.interrupted(job)
        else:
            job_report(job, status=Job.FAILED, error=_("Interrupted: the process running this job stopped."))
        reaped.append((job.kind, job.pk))
    return reaped


def jobs_prune(now=None) -> dict[str, int]:
    """Delete finished jobs of kinds that keep them for a limited time (JobKind.keep_days);
    running and queued jobs, and kinds that keep theirs, are never touched."""
    now = now or timezone.now()
    pruned: dict[str, int] = {}
    for kind in _KINDS.values():
        if kind.keep_days is None:
            continue
        cutoff = now - timedelta(days=kind.keep_days)
        count, _detail = Job.objects.filter(kind=kind.key, status__in=Job.FINISHED,
                                            finished_at__lt=cutoff).delete()
        if count:
            pruned[kind.key] = count
    return pruned
