"""Backup and restore of a whole kehu installation: database, keys and uploads in one archive.

SQLite is copied with its online backup API (consistent while kehu runs); PostgreSQL with
`pg_dump --format=custom` and restored with `pg_restore`. The keys travel with the data
because encrypted fields and the keyed audit chain cannot be read without them, so the
archive is as secret as the keys themselves: it is written mode 600.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.utils.translation import gettext as _

from kehu.core.errors import ValidationFailed

FORMAT_VERSION = 1
# Files under KEHU_HOME that hold keys (generated once; absent when given by the environment).
KEY_FILES = ("secret_key", "encryption_key", "audit_key")
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database/kehu.sqlite3"
PG_MEMBER = "database/kehu.pgdump"


@dataclass
class BackupResult:
    path: Path
    vendor: str
    tables: dict[str, int]
    audit_head: dict | None


def table_counts() -> dict[str, int]:
    """Rows per table of this database (what a restore must give back)."""
    counts = {}
    with connection.cursor() as cursor:
        for table in sorted(connection.introspection.table_names(cursor)):
            cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")  # noqa: S608 - introspected names
            counts[table] = cursor.fetchone()[0]
    return counts


def _audit_head() -> dict | None:
    from kehu.core.models import AuditEntry

    head = AuditEntry.objects.order_by("-seq").values("seq", "hash").first()
    return dict(head) if head else None


def _pg_env() -> tuple[list[str], dict[str, str]]:
    db = connection.settings_dict
    env = dict(os.environ)
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    args = ["--host", str(db.get("HOST") or "localhost"), "--port", str(db.get("PORT") or 5432),
            "--username", str(db.get("USER") or "postgres")]
    return args, env


def _run(command: list[str], env: dict[str, str] | None = None) -> None:
    try:
        subprocess.run(command, env=env, check=True, capture_output=True, text=True)  # noqa: S603
    except FileNotFoundError as exc:
        message = _("%(tool)s is not installed; it is needed for PostgreSQL backups")
        raise ValidationFailed(message % {"tool": command[0]}) from exc
    except subprocess.CalledProcessError as exc:
        message = _("%(tool)s failed: %(error)s")
        raise ValidationFailed(message % {"tool": command[0], "error": exc.stderr.strip()[:500]}) from exc


def backup_create(out: Path) -> BackupResult:
    """Write the archive to `out` (tar.gz, mode 600)."""
    home = Path(settings.KEHU_HOME)
    out = Path(out)
    vendor = connection.vendor
    manifest = {"format": FORMAT_VERSION, "created_at": datetime.now(UTC).isoformat(),
                "vendor": vendor, "tables": table_counts(), "audit_head": _audit_head()}
    with tempfile.TemporaryDirectory(prefix="kehu-backup-") as tmp:
        tmp_path = Path(tmp)
        if vendor == "sqlite":
            db_copy = tmp_path / "kehu.sqlite3"
            source = sqlite3.connect(str(connection.settings_dict["NAME"]))
            target = sqlite3.connect(str(db_copy))
            try:
                source.backup(target)
            finally:
                target.close()
                source.close()
            member, db_file = SQLITE_MEMBER, db_copy
        elif vendor == "postgresql":
            args, env = _pg_env()
            db_file = tmp_path / "kehu.pgdump"
            _run(["pg_dump", *args, "--format=custom", "--no-owner", "--file", str(db_file),
                  str(connection.settings_dict["NAME"])], env)
            member = PG_MEMBER
        else:
            raise ValidationFailed(_("backups of %(vendor)s databases are not supported") % {"vendor": vendor})
        partial = out.with_name(out.name + ".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as archive:
            data = json.dumps(manifest, ensure_ascii=False, indent=2).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mode = len(data), 0o600
            archive.addfile(info, io.BytesIO(data))
            archive.add(db_file, arcname=member)
            for name in KEY_FILES:
                if (home / name).is_file():
                    archive.add(home / name, arcname=f"keys/{name}")
            uploads = Path(settings.MEDIA_ROOT)
            if uploads.is_dir():
                archive.add(uploads, arcname="uploads")
        partial.replace(out)
    return BackupResult(out, vendor, manifest["tables"], manifest["audit_head"])


def backup_read_manifest(archive_path: Path) -> dict:
    with tarfile.open(archive_path, mode="r:gz") as archive:
        member = archive.extractfile(MANIFEST)
        if member is None:
            raise ValidationFailed(_("not a kehu backup: it has no manifest"))
        return json.loads(member.read())


def backup_restore(archive_path: Path, *, force: bool = False) -> dict:
    """Restore the archive into this installation (stop the server and worker first).

    Refuses to overwrite a database that holds audit entries unless `force`."""
    home = Path(settings.KEHU_HOME)
    try:
        manifest = backup_read_manifest(archive_path)
    except (tarfile.TarError, OSError, ValueError) as exc:
        raise ValidationFailed(_("not a readable kehu backup: %(error)s") % {"error": exc}) from exc
    if manifest.get("format") != FORMAT_VERSION:
        raise ValidationFailed(_("unknown backup format %(format)r") % {"format": manifest.get("format")})
    vendor = connection.vendor
    if manifest["vendor"] != vendor:
        raise ValidationFailed(_("this backup holds a %(backup)s database; this installation uses %(vendor)s")
                               % {"backup": manifest["vendor"], "vendor": vendor})
    if not force and _holds_data():
        raise ValidationFailed(_("the database is not empty; pass --force to replace it"))
    with tempfile.TemporaryDirectory(prefix="kehu-restore-") as tmp, \
            tarfile.open(archive_path, mode="r:gz") as archive:
        archive.extractall(tmp, filter="data")
        tmp_path = Path(tmp)
        if vendor == "sqlite":
            target_path = Path(connection.settings_dict["NAME"])
            connection.close()
            source = sqlite3.connect(str(tmp_path / SQLITE_MEMBER))
            target = sqlite3.connect(str(target_path))
            try:
                source.backup(target)  # replaces every page, WAL included, safely
            finally:
                target.close()
                source.close()
        else:
            args, env = _pg_env()
            _run(["pg_restore", *args, "--clean", "--if-exists", "--no-owner", "--single-transaction",
                  "--dbname", str(connection.settings_dict["NAME"]), str(tmp_path / PG_MEMBER)], env)
            connection.close()
        for name in KEY_FILES:
            source_key = tmp_path / "keys" / name
            if source_key.is_file():
                target_key = home / name
                fd = os.open(target_key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "wb") as handle:
                    handle.write(source_key.read_bytes())
        uploads = tmp_path / "uploads"
        if uploads.is_dir():
            target_uploads = Path(settings.MEDIA_ROOT)
            shutil.rmtree(target_uploads, ignore_errors=True)
            shutil.copytree(uploads, target_uploads)
    return manifest


def _holds_data() -> bool:
    from kehu.core.models import AuditEntry

    try:
        return AuditEntry.objects.exists()
    except Exception:  # noqa: BLE001 - no tables yet: nothing to lose
        return False
