"""Setting an import up on the page: choosing the workbook's sheet and saved mapping templates.

Services (writes, audited where they touch shared data) and selectors (reads, scoped) of
the wizard's set-up step, kept apart from the running of jobs in services.py.

Templates are per kind and keyed by header text (mapping.mapping_to_json), so a template
saved for this month's file fits next month's even if its columns moved. A template is
visible to its creator and to every user who may import; saving under a name the user
already used for that kind replaces their template.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from kehu.core.actor import Actor
from kehu.core.audit import diff
from kehu.core.errors import Conflict, NotFound, ValidationFailed
from kehu.core.events import record_change
from kehu.interchange.kinds import kind_require
from kehu.interchange.mapping import (
    MappingError,
    mapping_from_json,
    mapping_to_json,
    suggest_mapping,
)
from kehu.interchange.models import ImportJob, ImportMapTemplate, ImportRowError
from kehu.interchange.readers import ReaderError, check_file, open_table
from kehu.interchange.selectors import (
    active_custom_fields,
    job_for_actor,
    upload_plain,
    upload_table,
)

TEMPLATE_NAME_MAX = ImportMapTemplate._meta.get_field("name").max_length


# Sheets ----------------------------------------------------------------------------------------


def import_job_sheets(*, user, job_id: int) -> list[str]:
    """The sheets of the job's workbook (empty for a CSV or TSV file)."""
    user.access.require("customer.import")
    job = job_for_actor(actor=Actor(user=user), job_id=job_id)
    try:
        with upload_table(job) as table:
            return list(table.sheets)
    except ReaderError as exc:
        raise ValidationFailed(exc.message, details={"file": [str(exc.message)]},
                               code=exc.code) from None


def import_job_choose_sheet(*, actor: Actor, job_id: int, sheet: str) -> ImportJob:
    """Read another sheet of the job's workbook: its headers, the mapping suggested for
    them and its row count replace the current ones (a job that has imported is final)."""
    actor.require("customer.import")
    with transaction.atomic():
        job = job_for_actor(actor=actor, job_id=job_id, lock=True)
        kind_require(actor, job.kind)
        if job.status == ImportJob.RUNNING or job.status == ImportJob.CANCELLED or (
                job.status == ImportJob.DONE and not job.options.get("dry_run")):
            raise Conflict(_("This import has already run; upload the file again."),
                           code="job_finished")
        try:
            with upload_plain(job) as plain, open_table(
                    plain, filename=job.original_filename, sheet=sheet or None) as table:
                total = check_file(plain, filename=job.original_filename, sheet=sheet or None)
                headers, name = list(table.headers), table.sheet or ""
                first_row = table.header_row + 1
        except ReaderError as exc:
            raise ValidationFailed(exc.message, details={"sheet": [str(exc.message)]},
                                   code=exc.code) from None
        mapping = suggest_mapping(headers, custom_fields=active_custom_fields(), kind=job.kind)
        ImportRowError.objects.filter(job=job).delete()
        job.sheet = name
        job.mapping = {str(i): f for i, f in mapping.items()}
        job.options = {**job.options, "headers": headers}
        job.status, job.error_message = ImportJob.QUEUED, ""
        job.rows_done = job.created = job.updated = job.unchanged = job.rejected = 0
        job.next_row, job.total_rows = first_row, total
        job.started_at = job.finished_at = None
        job.save(update_fields=["sheet", "mapping", "options", "status", "error_message",
                                "rows_done", "created", "updated", "unchanged", "rejected",
                                "next_row", "total_rows", "started_at", "finished_at",
                                "updated_at"])
    return job


# Mapping templates ------------------------------------------------------------------------------


def _visible_templates(user) -> QuerySet[ImportMapTemplate]:
    if user is None or user.is_superuser or user.access.can("customer.import"):
        return ImportMapTemplate.objects.all()
    return ImportMapTemplate.objects.filter(created_by=user)


def import_templates(*, user, kind: str) -> list[ImportMapTemplate]:
    """The saved templates of one kind the user may use, by name."""
    return list(_visible_templates(user).filter(kind=kind).select_related("created_by")
                .order_by("name", "id"))


def import_template_mapping(*, user, template_id: int, kind: str, headers: list[str]
                            ) -> dict[int, str | None]:
    """A saved template applied to a file's headers (by header text); NotFound for a template
    the user may not see or of another kind, ValidationFailed when it no longer fits."""
    template = _visible_templates(user).filter(pk=template_id, kind=kind).first()
    if template is None:
        raise NotFound()
    custom_fields = active_custom_fields()
    try:
        return mapping_from_json(json.dumps(template.mapping, ensure_ascii=False), headers,
                                 custom_fields=custom_fields, kind=kind)
    except MappingError as exc:
        raise ValidationFailed(exc.message, details={"template": [str(exc.message)]},
                               code=exc.code) from None


def import_template_save(*, actor: Actor, name: str, kind: str, headers: list[str],
                         mapping: Mapping[int, str | None]) -> ImportMapTemplate:
    """Save the corrected mapping under a name (replacing the actor's own template of that
    name and kind); the template records header text -> field."""
    actor.require("customer.import")
    kind_require(actor, kind)
    name = (name or "").strip()
    if not name:
        raise ValidationFailed(details={"template_name": [_("Name the template.")]})
    if len(name) > TEMPLATE_NAME_MAX:
        raise ValidationFailed(details={"template_name": [
            _("At most %(n)d characters.") % {"n": TEMPLATE_NAME_MAX}]})
    data = json.loads(mapping_to_json(mapping, headers))
    owner = Q(created_by=actor.user) if actor.user is not None else Q(created_by__isnull=True)
    with transaction.atomic():
        template = (ImportMapTemplate.objects.select_for_update()
                    .filter(owner, name=name, kind=kind).first())
        action = "import_template.update" if template else "import_template.create"
        before = dict(template.mapping) if template else {}
        if template is None:
            template = ImportMapTemplate(name=name, kind=kind, created_by=actor.user)
        template.mapping = data
        template.save()
        record_change(actor=actor, action=action, event="import_template.saved",
                      object_type="import_template",
                     object_id=template.pk, object_repr=f"{kind}: {name}",
                     changes=diff({"columns": before.get("columns")},
                                  {"columns": data["columns"]}))
    return template


def import_template_delete(*, actor: Actor, template_id: int) -> None:
    """Delete a template: its creator may, and so may a superuser."""
    actor.require("customer.import")
    with transaction.atomic():
        template = _visible_templates(actor.user).select_for_update().filter(
            pk=template_id).first()
        if template is None:
            raise NotFound()
        if actor.user is not None and not actor.user.is_superuser and \
                template.created_by_id != actor.user.pk:
            raise NotFound()
        record_change(actor=actor, action="import_template.delete", event="import_template.deleted",
                     object_type="import_template", object_id=template.pk,
                     object_repr=f"{template.kind}: {template.name}",
                     changes=diff({"columns": template.mapping.get("columns")}, {}))
        template.delete()
