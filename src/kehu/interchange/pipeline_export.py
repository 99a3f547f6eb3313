"""Exports of the pipeline: deals (the deal list's filters and scope) and payments received,
to CSV or xlsx, audited like every export. The same file layout as the deals import reads, so
an export can be edited and imported elsewhere."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from kehu.core.actor import Actor
from kehu.core.audit import audit_record
from kehu.interchange.export import FORMATS, ExportResult, _csv_bytes, _export_user, _xlsx_file
from kehu.pipeline import selectors
from kehu.pipeline.models import Deal, Payment

DEAL_HEADER = ("商机名称", "客户", "管道", "阶段", "状态", "金额", "赢率", "预测类别", "预计成交日期",
               "负责人", "来源", "竞争对手", "下一步", "输单原因", "创建时间")
PAYMENT_HEADER = ("合同编号", "客户", "回款日期", "回款金额", "付款方式", "流水号")


def _result(actor: Actor, *, kind: str, fmt: str, header, rows: Iterator[list[Any]],
            count: int, audited: dict[str, Any]) -> ExportResult:
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    common = {"format": fmt, "columns": list(header), "content_type": FORMATS[fmt],
              "filename": f"{_('deals') if kind == 'deal' else _('payments')}-{stamp}.{fmt}",
              "ascii_filename": f"kehu-{kind}s-{stamp}.{fmt}"}
    if fmt == "csv":
        _audit(actor, kind, count, audited)
        return ExportResult(rows=count, content=_csv_bytes(list(header), rows), **common)
    handle, count = _xlsx_file(list(header), rows, title=kind)
    try:
        _audit(actor, kind, count, audited)
    except BaseException:
        handle.close()
        raise
    return ExportResult(rows=count, content=handle, **common)


def _audit(actor: Actor, kind: str, count: int, changes: dict[str, Any]) -> None:
    with transaction.atomic():
        audit_record(actor=actor, action=f"{kind}.export", object_type=kind,
                     object_repr=ngettext("%d row", "%d rows", count) % count,
                     changes={"rows": count, **changes})


def deals_export(*, actor: Actor, fmt: str = "csv", **filters: Any) -> ExportResult:
    """The deals the caller's deal list shows with these filters (deal_list's keywords)."""
    user = _export_user(actor, fmt)
    deals = selectors.deal_list(user, **filters)
    sources = dict(Deal.SOURCES)
    categories = dict(Deal._meta.get_field("forecast_category").choices)
    statuses = dict(Deal._meta.get_field("status").choices)
    xlsx = fmt == "xlsx"

    def rows() -> Iterator[list[Any]]:
        for d in deals.iterator(chunk_size=2000):
            created = timezone.localtime(d.created_at)
            yield [d.title, d.customer.name, d.pipeline.name, d.stage.name,
                   str(statuses.get(d.status, d.status)), d.amount if xlsx else f"{d.amount:.2f}",
                   d.probability, str(categories.get(d.forecast_category, "")),
                   d.expected_close_date if xlsx else d.expected_close_date.isoformat(),
                   (d.owner.username if d.owner_id else ""), str(sources.get(d.source, "")),
                   d.competitor, d.next_step, d.lost_reason,
                   created.replace(tzinfo=None) if xlsx else created.strftime("%Y-%m-%d %H:%M")]

    audited = {"format": fmt, **{k: str(v) for k, v in filters.items() if v}}
    return _result(actor, kind="deal", fmt=fmt, header=DEAL_HEADER, rows=rows(),
                   count=deals.count(), audited=audited)


def payments_export(*, actor: Actor, fmt: str = "csv", contract_id: int | None = None
                    ) -> ExportResult:
    """Payments received on the contracts in the caller's scope."""
    user = _export_user(actor, fmt)
    payments = selectors.payment_list(user, contract_id=contract_id)
    methods = dict(Payment.METHODS)
    xlsx = fmt == "xlsx"

    def rows() -> Iterator[list[Any]]:
        for p in payments.iterator(chunk_size=2000):
            yield [p.contract.number, p.contract.customer.name,
                   p.received_on if xlsx else p.received_on.isoformat(),
                   p.amount if xlsx else f"{p.amount:.2f}", str(methods.get(p.method, "")),
                   p.reference]

    return _result(actor, kind="payment", fmt=fmt, header=PAYMENT_HEADER, rows=rows(),
                   count=payments.count(), audited={"format": fmt, "contract": contract_id})
