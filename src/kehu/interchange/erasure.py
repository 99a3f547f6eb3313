"""What an erasure (kehu.privacy) removes from the imports: error-report lines holding the
person's values (and the report files written from them, rewritten without them), and the
uploads still kept (a job left resumable) whose content holds them."""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from kehu.interchange.models import ImportJob, ImportRowError
from kehu.interchange.vault import VaultError, contains_any


def _forms(needles: list[str]) -> list[str]:
    out = []
    for needle in needles:
        out.append(needle)
        escaped = json.dumps(needle)[1:-1]
        if escaped != needle:
            out.append(escaped)
    return out


def imports_erase(*, needles: list[str], customer_ids: list[int]) -> dict[str, int]:
    """The erasure hook of the imports (registered in InterchangeConfig.ready)."""
    if not needles:
        return {}
    match = Q(pk__in=[])
    for needle in needles:
        match |= Q(value__contains=needle) | Q(reason__contains=needle)
    errors = ImportRowError.objects.filter(match)
    job_ids = set(errors.values_list("job_id", flat=True))
    removed, _per_model = errors.delete()
    reports = list(ImportJob.objects.filter(pk__in=job_ids).exclude(report_path=""))
    marks = [form.encode("utf-8") for form in _forms(needles)]
    uploads = []
    for job in ImportJob.objects.exclude(file="").only("pk", "file"):
        path = Path(settings.MEDIA_ROOT) / job.file
        try:
            if path.exists() and contains_any(path, marks):
                uploads.append(job)
        except VaultError:
            uploads.append(job)  # unreadable: it cannot be checked, so it goes

    def after_commit():
        from kehu.interchange.services import _write_report, upload_discard

        for job in uploads:
            upload_discard(job)
        for job in reports:
            path = Path(job.report_path)
            path.unlink(missing_ok=True)
            if job.status == ImportJob.DONE:
                _write_report(job)
                ImportJob.objects.filter(pk=job.pk).update(report_path=job.report_path)

    transaction.on_commit(after_commit)
    return {"errors": removed, "uploads": len(uploads), "reports": len(reports)}


# Retention (kehu.privacy.retention calls these through kehu.core.personal) -------------------


def uploads_expire(*, cutoff, dry_run: bool) -> int:
    """Delete the uploads of jobs not running and unchanged since `cutoff` (a finished job's
    upload is deleted at once; this catches failed, abandoned and dry-run jobs' files)."""
    from kehu.interchange.services import upload_discard

    jobs = ImportJob.objects.exclude(file="").exclude(status=ImportJob.RUNNING).filter(
        updated_at__lt=cutoff)
    if dry_run:
        return jobs.count()
    count = 0
    for job in jobs.only("pk", "file"):
        upload_discard(job)
        count += 1
    return count


def reports_expire(*, cutoff, dry_run: bool) -> int:
    """Delete the error reports (files and stored lines) of jobs that ended before `cutoff`."""
    jobs = ImportJob.objects.filter(finished_at__lt=cutoff).filter(
        Q(errors__isnull=False) | ~Q(report_path="")).distinct()
    if dry_run:
        return jobs.count()
    count = 0
    for job in jobs:
        with transaction.atomic():
            if job.report_path:
                Path(job.report_path).unlink(missing_ok=True)
            ImportRowError.objects.filter(job=job).delete()
            ImportJob.objects.filter(pk=job.pk).update(report_path="")
        count += 1
    return count
