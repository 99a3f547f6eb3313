"""`--kind interactions` and `--kind events`: a customer's calls, visits, notes … and events.

Interactions are checked by `interaction_log`'s own rules (`interaction_prepare`) and
written a chunk at a time by `interactions_log_many` (append-only, one audit entry each,
the customers' last activity moved forward); events through `event_ingest` in batches of
EVENT_BATCH_MAX (set-based inserts, one audit entry per batch). Re-importing a file adds
nothing twice: a row is "unchanged" when its natural key is already recorded, for an
interaction (customer, type, time, content) and for an event (customer, event, time,
source, properties), looked up once per chunk by (customer, time). Two identical rows of
one file are one record; the second is "unchanged".

Events: the event column takes the codes (page_view, app_login, …, or any lower-case
name such as coupon_used) or their labels in Chinese or English (浏览页面 …); every column
mapped to "property" becomes a property named by its header, its text as the value.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django.utils.translation import gettext as _

from kehu.core.errors import DomainError, NotFound, ValidationFailed
from kehu.customers.services import customers_lock_for_write
from kehu.interactions.models import Event, Interaction
from kehu.interactions.selectors import events_recorded_at, interactions_recorded_at
from kehu.interactions.services import (
    EVENT_BATCH_MAX,
    event_ingest,
    interaction_prepare,
    interactions_log_many,
)
from kehu.interchange.kinds import (
    CellInvalid,
    KindImporter,
    RowOutcome,
    limited,
    parse_moment,
    pick_choice,
)
from kehu.interchange.mapping import fold_header
from kehu.interchange.rows import RowError, choice_table

KIND_WORDS = {
    "call": ("电话", "通话", "致电", "来电", "去电", "电话沟通", "打电话", "phone", "phone call"),
    "visit": ("拜访", "上门", "上门拜访", "面访", "走访", "到访", "来访"),
    "meeting": ("会议", "开会", "会面", "面谈", "视频会议", "meet"),
    "email": ("邮件", "电子邮件", "e-mail", "mail"),
    "sms": ("短信", "短消息", "text", "text message"),
    "wechat": ("微信", "微信沟通", "企业微信", "weixin"),
    "note": ("备注", "记录", "笔记", "其他", "other"),
    "inquiry": ("咨询", "询价", "询问", "enquiry", "question"),
}
DIRECTION_WORDS = {
    "inbound": ("呼入", "来电", "入", "客户来电", "客户主动", "in", "incoming"),
    "outbound": ("呼出", "去电", "出", "主动联系", "out", "outgoing"),
}
EVENT_WORDS = {
    "page_view": ("浏览页面", "页面浏览", "访问页面", "浏览", "pv", "view page"),
    "app_login": ("登录", "登录app", "app登录", "login"),
    "email_open": ("打开邮件", "邮件打开", "open email"),
    "email_click": ("点击邮件", "邮件点击", "click email"),
    "campaign_join": ("参加活动", "参与活动", "报名活动", "join campaign"),
    "form_submit": ("提交表单", "表单提交", "submit form"),
    "product_view": ("浏览商品", "查看商品", "商品浏览", "view product"),
    "cart_add": ("加入购物车", "加购", "add to cart"),
    "search": ("搜索", "search"),
}


def _key_time(moment) -> float:
    """The same instant compares equal whatever zone it was read or stored in."""
    return moment.timestamp()


def _moments(valid: list[dict[str, Any]]) -> list[tuple[int, Any]]:
    """The distinct (customer, time) pairs of a chunk's valid rows: where to look for them."""
    return list(dict.fromkeys((v["customer_id"], v["occurred_at"]) for v in valid))


class _ActivityImporter(KindImporter):
    """Rows with a customer and a time; `process` finds customers for the chunk at once."""

    def _customers(self, rows) -> tuple[list[tuple[int, list[str], dict, list[RowError]]], dict]:
        cleaned = []
        for number, cells in rows:
            errors: list[RowError] = []
            keys = self.customer_keys(number, cells, errors)
            cleaned.append((number, cells, keys, errors))
        return cleaned, self.finder.find(keys for _n, _c, keys, _e in cleaned)

    def _time(self, number: int, cells: Sequence[str], errors: list[RowError]):
        text = self.text(cells, "occurred_at")
        if not text:
            errors.append(self.error(number, cells, "occurred_at", _("Give the time.")))
            return None
        try:
            return parse_moment(text)
        except CellInvalid as exc:
            errors.append(self.error(number, cells, "occurred_at", exc.reason))
            return None

    def _customer_of(self, number, cells, keys, errors) -> int | None:
        if errors:
            return None
        customer_id = self.finder.pick(keys, self._found)
        if customer_id is None:
            errors.append(self.no_customer(number, cells, keys))
        return customer_id


class InteractionImporter(_ActivityImporter):
    kind = "interactions"
    skippable = frozenset({"kind", "direction", "channel", "outcome"})

    def __init__(self, job, actor):
        super().__init__(job, actor)
        self.kinds = choice_table(Interaction.KINDS, KIND_WORDS)
        self.directions = choice_table(Interaction.DIRECTIONS, DIRECTION_WORDS)

    def _clean(self, number, cells, keys, errors) -> dict[str, Any] | None:
        values: dict[str, Any] = {"occurred_at": self._time(number, cells, errors)}
        for name, table, default in (("kind", self.kinds, "note"),
                                     ("direction", self.directions, "outbound")):
            text = self.text(cells, name)
            try:
                values[name] = pick_choice(table, text) if text else default
            except CellInvalid as exc:
                self.invalid(errors, number, cells, name, exc.reason)
                values[name] = default
        values["summary"] = self.text(cells, "summary")
        if not values["summary"]:
            errors.append(self.error(number, cells, "summary", _("Write what happened.")))
        for name, model_field in (("channel", "channel"), ("outcome", "outcome")):
            text = self.text(cells, name)
            try:
                values[name] = limited(text, Interaction._meta.get_field(model_field).max_length)
            except CellInvalid as exc:
                self.invalid(errors, number, cells, name, exc.reason)
                values[name] = ""
        values["customer_id"] = self._customer_of(number, cells, keys, errors)
        return None if errors else values

    def process(self, rows):
        cleaned, self._found = self._customers(rows)
        checked = [(number, cells, self._clean(number, cells, keys, errors), errors)
                   for number, cells, keys, errors in cleaned]
        valid = [values for _n, _c, values, _e in checked if values]
        known = {(customer_id, kind, _key_time(at), summary)
                 for customer_id, at, kind, summary in interactions_recorded_at(
                     moments=_moments(valid))}
        customers = customers_lock_for_write(
            actor=self.actor, ids={v["customer_id"] for v in valid})
        user = self.actor.user
        new: list[Interaction] = []
        outcomes = []
        for number, cells, values, errors in checked:
            if values is None:
                outcomes.append(RowOutcome("rejected", errors))
                continue
            key = (values["customer_id"], values["kind"], _key_time(values["occurred_at"]),
                   values["summary"].strip())
            if key in known:
                outcomes.append(RowOutcome("unchanged"))
                continue
            try:  # interaction_log's checks, in its order; the row is written with the chunk
                interaction = interaction_prepare(
                    customer_id=values["customer_id"], kind=values["kind"],
                    summary=values["summary"], occurred_at=values["occurred_at"],
                    direction=values["direction"], channel=values["channel"],
                    outcome=values["outcome"], next_follow_up=None, user=user)
                if values["customer_id"] not in customers:
                    raise NotFound()
            except ValidationFailed as exc:
                outcomes.append(RowOutcome("rejected", self.errors_of(
                    exc, number, cells, {"occurred_at": "occurred_at", "summary": "summary"})))
                continue
            except DomainError as exc:
                outcomes.append(RowOutcome("rejected", [RowError(
                    row=number, column="", value="", reason=str(exc.message))]))
                continue
            new.append(interaction)
            known.add(key)
            outcomes.append(RowOutcome("created"))
        interactions_log_many(actor=self.actor, customers=customers, interactions=new)
        return outcomes


class EventImporter(_ActivityImporter):
    kind = "events"
    skippable = frozenset({"source"})

    def __init__(self, job, actor):
        super().__init__(job, actor)
        self.types = choice_table(Event.TYPES, EVENT_WORDS)
        self.source_length = Event._meta.get_field("source").max_length

    def _clean(self, number, cells, keys, errors) -> dict[str, Any] | None:
        values: dict[str, Any] = {"occurred_at": self._time(number, cells, errors)}
        text = self.text(cells, "event_type")
        if not text:
            errors.append(self.error(number, cells, "event_type", _("Give the event name.")))
        else:
            # A known label or code becomes its code; any other name is lower-cased and
            # checked by event_ingest's own rule.
            values["event_type"] = self.types.get(fold_header(text)) or text.strip().lower()
        try:
            values["source"] = limited(self.text(cells, "source"), self.source_length)
        except CellInvalid as exc:
            self.invalid(errors, number, cells, "source", exc.reason)
            values["source"] = ""
        values["properties"] = {header: cells[index].strip() for index, header in self.properties
                                if index < len(cells) and cells[index].strip()}
        values["customer_id"] = self._customer_of(number, cells, keys, errors)
        return None if errors else values

    @staticmethod
    def _key(customer_id, event_type, occurred_at, source, properties) -> tuple:
        return (customer_id, event_type, _key_time(occurred_at), source,
                json.dumps(properties, ensure_ascii=False, sort_keys=True))

    def process(self, rows):
        cleaned, self._found = self._customers(rows)
        checked = [(number, cells, self._clean(number, cells, keys, errors), errors)
                   for number, cells, keys, errors in cleaned]
        valid = [values for _n, _c, values, _e in checked if values]
        known = {self._key(customer_id, event_type, at, source, properties)
                 for customer_id, at, event_type, source, properties in events_recorded_at(
                     moments=_moments(valid))}
        outcomes: list[RowOutcome | None] = []
        batch: list[tuple[int, int, list[str], dict[str, Any]]] = []  # (outcome index, …)
        for number, cells, values, errors in checked:
            if values is None:
                outcomes.append(RowOutcome("rejected", errors))
                continue
            key = self._key(values["customer_id"], values["event_type"], values["occurred_at"],
                            values["source"], values["properties"])
            if key in known:
                outcomes.append(RowOutcome("unchanged"))
                continue
            known.add(key)
            outcomes.append(None)
            batch.append((len(outcomes) - 1, number, cells, values))
        for start in range(0, len(batch), EVENT_BATCH_MAX):
            self._ingest(batch[start:start + EVENT_BATCH_MAX], outcomes)
        return outcomes

    def _ingest(self, batch, outcomes) -> None:
        items = [{"customer_id": v["customer_id"], "event_type": v["event_type"],
                  "occurred_at": v["occurred_at"], "properties": v["properties"],
                  "source": v["source"]} for _i, _n, _c, v in batch]
        if not items:
            return
        result = event_ingest(actor=self.actor, events=items, skip_invalid=True)
        refused = {r["index"]: r["errors"] for r in result.rejected}
        for position, (index, number, cells, _values) in enumerate(batch):
            if position in refused:
                outcomes[index] = RowOutcome("rejected", self.errors_of(
                    ValidationFailed(details=refused[position]), number, cells,
                    {"customer_id": "mobile"}))
            else:
                outcomes[index] = RowOutcome("created")
