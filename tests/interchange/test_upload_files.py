"""Uploaded import files (issue 17): stored 600, deleted when their job ends unless it may
still run, and swept by the hourly cleanup when left waiting. A GB18030 CSV of customers'
phones and ID numbers must not stay readable on disk."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

from django.utils import timezone

from kehu.interchange.models import ImportJob
from kehu.interchange.services import (
    import_job_cancel,
    import_job_configure,
    import_job_create,
    import_job_run,
    import_uploads_cleanup,
)
from kehu.interchange.tasks import import_uploads_cleanup_task


def id_number(sequence: int) -> str:
    body = f"110105194912{sequence:02d}{sequence % 1000:03d}"[:17].ljust(17, "0")
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]
    return body + check


def gb18030_csv(path: Path) -> Path:
    rows = ["客户名称,手机,身份证号"] + [
        f"客户{i},1381234{i:04d},{id_number(i + 1)}" for i in range(20)]
    path.write_bytes(("\n".join(rows) + "\n").encode("gb18030"))
    return path


def stored(job: ImportJob, settings) -> Path:
    return Path(settings.MEDIA_ROOT) / job.file


def uploads(settings) -> list[str]:
    folder = Path(settings.MEDIA_ROOT) / "imports"
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("job-"))


def test_a_waiting_upload_is_private_and_deleted_when_the_import_is_done(actor, tmp_path,
                                                                         settings):
    job = import_job_create(actor=actor, file=gb18030_csv(tmp_path / "客户.csv"),
                            filename="客户.csv")
    path = stored(job, settings)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert oct(path.parent.stat().st_mode & 0o777) == "0o700"
    job = import_job_run(job_id=job.pk, actor=actor)
    assert job.status == ImportJob.DONE and job.created == 20
    assert not path.exists() and uploads(settings) == []
    job.refresh_from_db()
    assert job.file == ""
    # Nothing under MEDIA_ROOT still holds a phone of the file.
    for file in Path(settings.MEDIA_ROOT).rglob("*"):
        if file.is_file():
            assert b"13812340007" not in file.read_bytes()


def test_a_dry_run_keeps_the_file_for_the_import_that_follows(actor, tmp_path, settings):
    job = import_job_create(actor=actor, file=gb18030_csv(tmp_path / "a.csv"), filename="a.csv",
                            options={"dry_run": True})
    job = import_job_run(job_id=job.pk, actor=actor)
    assert job.status == ImportJob.DONE and stored(job, settings).exists()
    job = import_job_configure(actor=actor, job_id=job.pk, dry_run=False,
                               mapping={0: "name", 1: "mobile", 2: "id_number"})
    path = stored(job, settings)
    job = import_job_run(job_id=job.pk, actor=actor)
    assert job.created == 20 and not path.exists()


def test_a_cancelled_job_loses_its_file(actor, tmp_path, settings):
    job = import_job_create(actor=actor, file=gb18030_csv(tmp_path / "a.csv"), filename="a.csv")
    path = stored(job, settings)
    import_job_cancel(actor=actor, job_id=job.pk)
    assert not path.exists() and ImportJob.objects.get(pk=job.pk).file == ""


def test_a_job_failing_on_its_file_loses_it_but_one_failing_otherwise_can_resume(
        actor, tmp_path, settings, monkeypatch):
    job = import_job_create(actor=actor, file=gb18030_csv(tmp_path / "a.csv"), filename="a.csv")
    path = stored(job, settings)
    # The file turns unreadable after it was accepted (here: truncated to garbage).
    path.write_bytes(b"\x00\x01garbage")
    job = import_job_run(job_id=job.pk, actor=actor)
    assert job.status == ImportJob.FAILED and not path.exists()

    from kehu.core.errors import DomainError
    from kehu.interchange import services

    other = import_job_create(actor=actor, file=gb18030_csv(tmp_path / "b.csv"),
                              filename="b.csv")

    def refuse(*args, **kwargs):
        raise DomainError("a passing problem")

    monkeypatch.setattr(services, "_run", refuse)
    other = import_job_run(job_id=other.pk, actor=actor)
    assert other.status == ImportJob.FAILED and stored(other, settings).exists()
    monkeypatch.undo()
    other = import_job_run(job_id=other.pk, actor=actor)
    assert other.status == ImportJob.DONE and other.created == 20
    assert uploads(settings) == []


def test_the_hourly_cleanup_deletes_stale_and_orphaned_uploads_only(actor, tmp_path, settings):
    settings.KEHU_IMPORT_UPLOAD_HOURS = 24
    old = import_job_create(actor=actor, file=gb18030_csv(tmp_path / "a.csv"), filename="a.csv")
    fresh = import_job_create(actor=actor, file=gb18030_csv(tmp_path / "b.csv"), filename="b.csv")
    ImportJob.objects.filter(pk=old.pk).update(
        status=ImportJob.FAILED, updated_at=timezone.now() - timedelta(hours=25))
    folder = Path(settings.MEDIA_ROOT) / "imports"
    orphan, young_orphan = folder / "0123abcd.csv", folder / "4567cdef.csv"
    orphan.write_text("客户名称\n张三\n")
    young_orphan.write_text("客户名称\n李四\n")
    two_hours_ago = time.time() - 7200
    os.utime(orphan, (two_hours_ago, two_hours_ago))

    assert import_uploads_cleanup() == 2
    assert not stored(old, settings).exists() and ImportJob.objects.get(pk=old.pk).file == ""
    assert stored(fresh, settings).exists()
    assert not orphan.exists() and young_orphan.exists()
    import_uploads_cleanup_task.call_local()
    assert stored(fresh, settings).exists()
