"""`--kind deals` and `--kind payments`: the sales pipeline's rows from a spreadsheet.

Deals: each row is one deal of a customer found by its identifiers (as every kind finds
customers), written by `deal_create` (and `deal_move` when the row names a won or lost
stage), so the pipeline's own rules apply and report by column. A deal whose customer
already has a deal with the same title is "unchanged": a re-import never adds it twice or
rewrites it.

Payments: each row is money received against a contract named by its number, written by
`payment_record` (matched to the contract's instalments, oldest first). A payment already
recorded with the same contract, date, amount and reference is "unchanged".

Each row runs in a savepoint of its chunk's transaction, so a row that fails halfway (a deal
created whose stage cannot be reached) leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from kehu.accounts.models import User
from kehu.core.errors import DomainError, ValidationFailed
from kehu.interchange.kinds import (
    CellInvalid,
    KindImporter,
    RowOutcome,
    limited,
    parse_moment,
    parse_number,
    pick_choice,
)
from kehu.interchange.mapping import fold_header
from kehu.interchange.rows import RowError, choice_table
from kehu.pipeline import services
from kehu.pipeline.models import LOST, OPEN, Contract, Deal, Payment, Pipeline

SOURCE_WORDS = {"referral": ("转介绍", "推荐", "介绍"), "website": ("官网", "网站", "网络"),
                "exhibition": ("展会", "会展"), "cold_call": ("陌拜", "电话营销", "陌生拜访"),
                "partner": ("合作伙伴", "渠道", "代理商"), "existing": ("老客户", "老客户复购"),
                "advertising": ("广告", "投放"), "other": ("其他", "其它")}
METHOD_WORDS = {"bank_transfer": ("银行转账", "转账", "对公转账", "电汇", "汇款"),
                "wechat_pay": ("微信", "微信支付"), "alipay": ("支付宝",),
                "cheque": ("支票",), "acceptance_bill": ("承兑汇票", "银行承兑", "承兑"),
                "cash": ("现金",)}


def _date(importer: KindImporter, number: int, cells: Sequence[str], name: str,
          errors: list[RowError], required: str):
    text = importer.text(cells, name)
    if not text:
        errors.append(importer.error(number, cells, name, required))
        return None
    try:
        return parse_moment(text).date()
    except CellInvalid as exc:
        errors.append(importer.error(number, cells, name, exc.reason))
        return None


def _amount(importer: KindImporter, number: int, cells: Sequence[str], name: str,
            errors: list[RowError]) -> Decimal | None:
    text = importer.text(cells, name)
    if not text:
        errors.append(importer.error(number, cells, name, _("Give the amount.")))
        return None
    try:
        value = parse_number(text)
    except CellInvalid as exc:
        errors.append(importer.error(number, cells, name, exc.reason))
        return None
    if value < 0:
        errors.append(importer.error(number, cells, name, _("The amount cannot be negative.")))
        return None
    return value


class DealImporter(KindImporter):
    kind = "deals"
    skippable = frozenset({"source", "competitor", "next_step", "probability"})

    def __init__(self, job, actor):
        super().__init__(job, actor)
        self.sources = choice_table(Deal.SOURCES, SOURCE_WORDS)
        self.pipelines = {p.name: p for p in Pipeline.objects.prefetch_related("stages")}
        self.default = next((p for p in self.pipelines.values() if p.is_default), None) or (
            services.pipeline_ensure_default(actor=actor))
        self.users: dict[str, Any] = {}

    def _owner(self, text: str):
        if text not in self.users:
            self.users[text] = User.objects.filter(is_active=True).filter(
                Q(username=text) | Q(display_name=text)).order_by("id").first()
        return self.users[text]

    def _clean(self, number, cells, keys, errors) -> dict[str, Any] | None:
        values: dict[str, Any] = {}
        values["title"] = self.text(cells, "title")
        if not values["title"]:
            errors.append(self.error(number, cells, "title", _("Give the deal a title.")))
        else:
            try:
                limited(values["title"], 200)
            except CellInvalid as exc:
                errors.append(self.error(number, cells, "title", exc.reason))
        values["amount"] = _amount(self, number, cells, "amount", errors)
        values["expected_close_date"] = _date(self, number, cells, "expected_close_date",
                                              errors, _("Give the expected close date."))
        pipeline_name = self.text(cells, "pipeline")
        pipeline = self.pipelines.get(pipeline_name) if pipeline_name else self.default
        if pipeline is None:
            errors.append(self.error(number, cells, "pipeline", _("No pipeline has this name.")))
        values["pipeline"] = pipeline
        stage_name = self.text(cells, "stage")
        values["stage"] = None
        if stage_name and pipeline is not None:
            values["stage"] = next((s for s in pipeline.stages.all()
                                    if fold_header(s.name) == fold_header(stage_name)), None)
            if values["stage"] is None:
                errors.append(self.error(number, cells, "stage", _(
                    "“%(stage)s” is not a stage of %(pipeline)s.") % {
                    "stage": stage_name, "pipeline": pipeline.name}))
        values["lost_reason"] = self.text(cells, "lost_reason")
        if values["stage"] is not None and values["stage"].kind == LOST \
                and not values["lost_reason"]:
            errors.append(self.error(number, cells, "lost_reason",
                                     _("Say why the deal was lost.")))
        probability = self.text(cells, "probability")
        values["probability"] = None
        if probability:
            try:
                number_value = parse_number(probability.rstrip("%％"))
                if not 0 <= number_value <= 100 or number_value != int(number_value):
                    raise CellInvalid(_("The probability is a whole number from 0 to 100."))
                values["probability"] = int(number_value)
            except CellInvalid as exc:
                self.invalid(errors, number, cells, "probability", exc.reason)
        owner = self.text(cells, "owner")
        values["owner"] = self._owner(owner) if owner else None
        if owner and values["owner"] is None:
            errors.append(self.error(number, cells, "owner", _("No active user has this name.")))
        source = self.text(cells, "source")
        try:
            values["source"] = pick_choice(self.sources, source) if source else ""
        except CellInvalid as exc:
            self.invalid(errors, number, cells, "source", exc.reason)
            values["source"] = ""
        for name, limit in (("competitor", 100), ("next_step", 200)):
            try:
                values[name] = limited(self.text(cells, name), limit)
            except CellInvalid as exc:
                self.invalid(errors, number, cells, name, exc.reason)
                values[name] = ""
        if not errors:
            customer_id = self.finder.pick(keys, self._found)
            if customer_id is None:
                errors.append(self.no_customer(number, cells, keys))
            values["customer_id"] = customer_id
        return None if errors else values

    def process(self, rows):
        cleaned = []
        for number, cells in rows:
            errors: list[RowError] = []
            cleaned.append((number, cells, self.customer_keys(number, cells, errors), errors))
        self._found = self.finder.find(keys for _n, _c, keys, _e in cleaned)
        checked = [(n, c, self._clean(n, c, k, e), e) for n, c, k, e in cleaned]
        wanted = {(v["customer_id"], v["title"]) for _n, _c, v, _e in checked if v}
        known = set(Deal.objects.filter(customer_id__in={c for c, _t in wanted}).values_list(
            "customer_id", "title")) if wanted else set()
        outcomes = []
        fields = {"title": "title", "amount": "amount", "expected_close_date":
                  "expected_close_date", "stage": "stage", "lost_reason": "lost_reason",
                  "probability": "probability", "owner": "owner", "source": "source",
                  "competitor": "competitor", "next_step": "next_step", "customer": "mobile"}
        for number, cells, values, errors in checked:
            if values is None:
                outcomes.append(RowOutcome("rejected", errors))
                continue
            key = (values["customer_id"], values["title"])
            if key in known:
                outcomes.append(RowOutcome("unchanged"))
                continue
            try:
                with transaction.atomic():
                    self._write(values)
            except ValidationFailed as exc:
                outcomes.append(RowOutcome("rejected", self.errors_of(exc, number, cells,
                                                                      fields)))
                continue
            except DomainError as exc:
                outcomes.append(RowOutcome("rejected", [RowError(
                    row=number, column="", value="", reason=str(exc.message))]))
                continue
            known.add(key)
            outcomes.append(RowOutcome("created"))
        return outcomes

    def _write(self, values: dict[str, Any]) -> None:
        stage = values["stage"]
        deal = services.deal_create(
            actor=self.actor, customer=values["customer_id"], title=values["title"], amount=values["amount"],
            expected_close_date=values["expected_close_date"], pipeline=values["pipeline"],
            stage=stage if stage is not None and stage.kind == OPEN else None,
            probability=values["probability"], owner=values["owner"],
            source=values["source"], competitor=values["competitor"],
            next_step=values["next_step"])
        if stage is not None and stage.kind != OPEN:
            services.deal_move(actor=self.actor, deal=deal, stage=stage,
                               lost_reason=values["lost_reason"])


class PaymentImporter(KindImporter):
    kind = "payments"
    skippable = frozenset({"reference"})

    def __init__(self, job, actor):
        super().__init__(job, actor)
        self.methods = choice_table(Payment.METHODS, METHOD_WORDS)

    def _contracts(self, numbers: set[str]) -> dict[str, Contract]:
        rows = Contract.objects.filter(number__in=sorted(numbers))
        access = self.actor.access
        if access is not None:
            rows = access.restrict(rows)
        return {c.number: c for c in rows}

    def process(self, rows):
        contracts = self._contracts({self.text(cells, "contract_no") for _n, cells in rows})
        outcomes = []
        fields = {"amount": "amount", "received_on": "received_on", "method": "method",
                  "reference": "reference", "contract": "contract_no"}
        for number, cells in rows:
            errors: list[RowError] = []
            contract_no = self.text(cells, "contract_no")
            contract = contracts.get(contract_no)
            if not contract_no:
                errors.append(self.error(number, cells, "contract_no",
                                         _("Give the contract number.")))
            elif contract is None:
                errors.append(self.error(number, cells, "contract_no",
                                         _("No contract has this number.")))
            received_on = _date(self, number, cells, "received_on", errors,
                                _("Give the date the money arrived."))
            amount = _amount(self, number, cells, "amount", errors)
            method_text = self.text(cells, "method")
            try:
                method = pick_choice(self.methods, method_text) if method_text \
                    else "bank_transfer"
            except CellInvalid as exc:
                errors.append(self.error(number, cells, "method", exc.reason))
                method = ""
            try:
                reference = limited(self.text(cells, "reference"), 100)
            except CellInvalid as exc:
                self.invalid(errors, number, cells, "reference", exc.reason)
                reference = ""
            if errors:
                outcomes.append(RowOutcome("rejected", errors))
                continue
            if Payment.objects.filter(contract=contract, received_on=received_on,
                                      amount=amount, reference=reference).exists():
                outcomes.append(RowOutcome("unchanged"))
                continue
            try:
                with transaction.atomic():
                    services.payment_record(actor=self.actor, contract=contract,
                                            received_on=received_on, amount=amount,
                                            method=method, reference=reference)
            except ValidationFailed as exc:
                outcomes.append(RowOutcome("rejected", self.errors_of(exc, number, cells,
                                                                      fields)))
                continue
            except DomainError as exc:
                outcomes.append(RowOutcome("rejected", [RowError(
                    row=number, column="", value="", reason=str(exc.message))]))
                continue
            outcomes.append(RowOutcome("created"))
        return outcomes
