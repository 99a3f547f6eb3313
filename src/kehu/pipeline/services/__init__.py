"""Every write of the sales pipeline, by sub-domain: deals (and pipelines), quotes,
contracts, payments (plans, payments, invoices), targets (and forecast snapshots)."""

from kehu.pipeline.services.contracts import (
    CONTRACT_TRANSITIONS,
    contract_attach,
    contract_create,
    contract_set_status,
    contract_update,
    contracts_remind_renewals,
)
from kehu.pipeline.services.deals import (
    DEFAULT_STAGES,
    deal_create,
    deal_create_order,
    deal_move,
    deal_update,
    pipeline_create,
    pipeline_ensure_default,
    pipeline_update,
)
from kehu.pipeline.services.payments import (
    INVOICE_TRANSITIONS,
    instalments_flag_overdue,
    invoice_request_create,
    invoice_request_set_status,
    payment_plan_set,
    payment_record,
)
from kehu.pipeline.services.quotes import (
    QUOTE_TRANSITIONS,
    quote_accept,
    quote_create,
    quote_expire,
    quote_reject,
    quote_revise,
    quote_send,
    quote_update,
    quotes_expire_due,
)
from kehu.pipeline.services.targets import forecast_snapshot_take, target_set

__all__ = [
    "CONTRACT_TRANSITIONS", "DEFAULT_STAGES", "INVOICE_TRANSITIONS", "QUOTE_TRANSITIONS",
    "contract_attach", "contract_create", "contract_set_status", "contract_update",
    "contracts_remind_renewals", "deal_create", "deal_create_order", "deal_move",
    "deal_update", "forecast_snapshot_take", "instalments_flag_overdue",
    "invoice_request_create", "invoice_request_set_status", "payment_plan_set",
    "payment_record", "pipeline_create", "pipeline_ensure_default", "pipeline_update",
    "quote_accept", "quote_create", "quote_expire", "quote_reject", "quote_revise",
    "quote_send", "quote_update", "quotes_expire_due", "target_set",
]
