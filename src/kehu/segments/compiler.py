"""Compile a validated definition tree (definition.validate) into one ORM Q over Customer.

Only the ORM builds SQL: values reach the database as parameters, names come from the field
registry. Behaviour conditions become `pk IN (SELECT customer_id …)` subqueries (grouped with
HAVING when counting), so one statement answers the whole definition on SQLite and
PostgreSQL. Record scope is not this module's job: `selectors.segment_queryset` always
intersects the result with the caller's scope.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.utils import timezone

from kehu.segments.fields import FieldSpec

# How "has at least one row" is asked: "in" (pk IN (SELECT customer_id …)) or "exists" (a
# correlated EXISTS per candidate customer). bench/segment_bench.py measures both.
SEMI_JOIN = "exists"

TRUE = Q(pk__isnull=False)
FALSE = Q(pk__in=[])


@dataclass(frozen=True)
class Context:
    """What relative conditions are relative to: the caller (for "me") and the moment."""

    user_id: int | None
    now: datetime

    @property
    def today(self) -> date:
        return timezone.localtime(self.now).date()


def context_for(user, now: datetime | None = None) -> Context:
    return Context(user_id=getattr(user, "pk", None), now=now or timezone.now())


def compile_tree(tree: dict[str, Any], *, fields: dict[str, FieldSpec], ctx: Context) -> Q:
    return _Compiler(fields, ctx).node(tree)


def _model(label: str):
    return apps.get_model(*label.split("."))


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, timezone.get_current_timezone())


def anniversary_days(today: date, first: int, last: int) -> list[tuple[int, int]]:
    """(month, day) pairs whose anniversary falls `first`..`last` days from today. In a year
    without 29 February, people born on it celebrate on the 28th."""
    pairs: list[tuple[int, int]] = []
    for offset in range(first, last + 1):
        day = today + timedelta(days=offset)
        pairs.append((day.month, day.day))
        if day.month == 2 and day.day == 28 and not _leap(day.year):
            pairs.append((2, 29))
    return list(dict.fromkeys(pairs))


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


_NEGATIVE = {"ne": "eq", "not_in": "in", "is_not_set": "is_set",
             "not_in_last_days": "in_last_days"}


def _touches_json(node) -> bool:
    if node["type"] == "group":
        return any(_touches_json(child) for child in node["conditions"])
    if node["type"] == "not":
        return _touches_json(node["condition"])
    return node["type"] == "field" and node["field"].startswith("custom.")


def _decimal(value) -> Decimal:
    return Decimal(str(value))


class _Compiler:
    def __init__(self, fields: dict[str, FieldSpec], ctx: Context):
        self.fields = fields
        self.ctx = ctx

    def node(self, node: dict[str, Any]) -> Q:
        kind = node["type"]
        if kind == "group":
            parts = [self.node(child) for child in node["conditions"]]
            if not parts:
                return TRUE
            combined = parts[0]
            for part in parts[1:]:
                combined = (combined & part) if node["match"] == "all" else (combined | part)
            return combined
        if kind == "not":
            inner = self.node(node["condition"])
            if _touches_json(node["condition"]):
                # JSON keys that are missing compare as NULL, and NOT NULL is NULL: negate the
                # set of customers instead, so "not" is always the complement.
                return ~Q(pk__in=_model("customers.Customer").objects.filter(inner)
                          .values("pk"))
            return ~inner
        if kind == "field":
            return self.field(node)
        if kind == "spend":
            return self.spend(node)
        from kehu.segments.definition import CONDITION_TYPES

        if kind in CONDITION_TYPES:
            return CONDITION_TYPES[kind].compile(node, self.ctx)
        return self.activity(node)

    # Fields ---------------------------------------------------------------------------------

    def field(self, node) -> Q:
        spec = self.fields[node["field"]]
        op, value, path = node["op"], node.get("value"), spec.path
        kind = spec.kind
        if kind == "tags":
            return self.tags(op, value)
        if kind == "district":
            values = value if isinstance(value, list) else [value]
            addresses = _model("customers.Address").objects.filter(district__in=values)
            inside = Q(pk__in=addresses.values("customer_id"))
            return ~inside if op == "not_in" else inside
        if kind == "multi_choice":
            return self.multi_choice(spec, op, value)
        if kind in ("user", "team"):
            path = f"{path}_id"
            if isinstance(value, list):
                value = [self.ctx.user_id if v == "me" else v for v in value]
            elif value == "me":
                value = self.ctx.user_id
        custom = path.startswith("custom__")
        if custom and op in _NEGATIVE:
            positive = self.field({**node, "op": _NEGATIVE[op]})
            return ~Q(pk__in=_model("customers.Customer").objects.filter(positive).values("pk"))
        if op == "is_set":
            return self.is_set(path, kind, custom)
        if op == "is_not_set":
            return ~self.is_set(path, kind, custom)
        if kind in ("date", "anniversary", "custom_date", "datetime"):
            return self.dates(path, kind, op, value)
        if op == "eq":
            return Q(**{path: value})
        if op == "ne":
            return ~Q(**{path: value})
        if op == "in":
            return Q(**{f"{path}__in": value})
        if op == "not_in":
            return ~Q(**{f"{path}__in": value})
        if op == "contains":
            return Q(**{f"{path}__icontains": value})
        if op == "starts_with":
            return Q(**{f"{path}__istartswith": value})
        if op == "between":
            return Q(**{f"{path}__gte": value[0], f"{path}__lte": value[1]})
        return Q(**{f"{path}__{op}": value})  # gt gte lt lte

    def is_set(self, path: str, kind: str, custom: bool) -> Q:
        if custom:
            key = path[len("custom__"):]
            return Q(custom__has_key=key) & ~Q(**{path: None}) & ~Q(**{path: ""})
        if kind in ("text", "choice", "presence"):
            if "__" in path:  # a related row (e.g. the RFM value) may be missing
                return Q(**{f"{path}__isnull": False}) & ~Q(**{path: ""})
            return ~Q(**{path: ""})
        return Q(**{f"{path}__isnull": False})

    def dates(self, path: str, kind: str, op: str, value) -> Q:
        today = self.ctx.today
        if op == "anniversary_next_days":
            return self.anniversary(path, 0, value - 1)
        if op == "anniversary_days":
            return self.anniversary(path, value[0], value[1])
        if kind == "datetime":
            if op == "in_last_days":
                return Q(**{f"{path}__gte": self.ctx.now - timedelta(days=value),
                            f"{path}__lte": self.ctx.now})
            if op == "not_in_last_days":
                return ~self.dates(path, kind, "in_last_days", value)
            if op == "before":
                return Q(**{f"{path}__lt": _start_of(date.fromisoformat(value))})
            if op == "after":
                return Q(**{f"{path}__gte": _start_of(date.fromisoformat(value)
                                                      + timedelta(days=1))})
            start, end = (date.fromisoformat(v) for v in value)
            return Q(**{f"{path}__gte": _start_of(start),
                        f"{path}__lt": _start_of(end + timedelta(days=1))})
        # Plain dates, and custom dates kept as ISO text (which sorts as dates do).
        convert = (lambda d: d.isoformat()) if kind == "custom_date" else (lambda d: d)
        if op == "in_last_days":
            return Q(**{f"{path}__gte": convert(today - timedelta(days=value)),
                        f"{path}__lte": convert(today)})
        if op == "not_in_last_days":
            return ~self.dates(path, kind, "in_last_days", value)
        if op == "before":
            return Q(**{f"{path}__lt": convert(date.fromisoformat(value))})
        if op == "after":
            return Q(**{f"{path}__gt": convert(date.fromisoformat(value))})
        start, end = (date.fromisoformat(v) for v in value)
        return Q(**{f"{path}__gte": convert(start), f"{path}__lte": convert(end)})

    def anniversary(self, path: str, first: int, last: int) -> Q:
        by_month: dict[int, list[int]] = {}
        for month, day in anniversary_days(self.ctx.today, first, last):
            by_month.setdefault(month, []).append(day)
        condition = FALSE
        for month, days in by_month.items():
            condition |= Q(**{f"{path}__month": month, f"{path}__day__in": sorted(days)})
        return condition

    def tags(self, op: str, names: list[str]) -> Q:
        tag_model = _model("customers.Tag")
        links = _model("customers.CustomerTag").objects

        def having(tag_names):
            match = Q()
            for name in tag_names:
                match |= Q(name__iexact=name)
            ids = tag_model.objects.filter(match).values("id")
            return Q(pk__in=links.filter(tag_id__in=ids).values("customer_id"))
        if op == "has_all":
            condition = TRUE
            for name in names:
                condition &= having([name])
            return condition
        if op == "has_none":
            return ~having(names)
        return having(names)

    def multi_choice(self, spec: FieldSpec, op: str, values: list[str]) -> Q:
        # A JSON list: compare each position (portable; SQLite has no JSON containment).
        positions = max(len(spec.choices() if spec.choices else []), 1)

        def has(value):
            condition = FALSE
            for position in range(positions):
                condition |= Q(**{f"{spec.path}__{position}": value})
            return condition
        if op == "has_all":
            condition = TRUE
            for value in values:
                condition &= has(value)
            return condition
        any_of = FALSE
        for value in values:
            any_of |= has(value)
        if op == "has_none":
            return ~Q(pk__in=_model("customers.Customer").objects.filter(any_of).values("pk"))
        return any_of

    # Behaviour -------------------------------------------------------------------------------

    def window(self, time_field: str, node) -> Q:
        """`within_days` (the last D×24 hours up to now), `between` (local dates, inclusive)
        or neither (all time)."""
        if node.get("within_days"):
            return Q(**{f"{time_field}__gte": self.ctx.now - timedelta(days=node["within_days"]),
                        f"{time_field}__lte": self.ctx.now})
        if not node.get("between"):
            return Q()
        start, end = (date.fromisoformat(day) for day in node["between"])
        return Q(**{f"{time_field}__gte": _start_of(start),
                    f"{time_field}__lt": _start_of(end + timedelta(days=1))})

    @staticmethod
    def purchases():
        """Orders that are purchases, as the transactions app defines them (pending,
        cancelled, returned and refunded orders are not)."""
        order = _model("transactions.Order")
        return order.objects.filter(status__in=order.PURCHASE_STATUSES)

    def activity(self, node) -> Q:
        kind = node["type"]
        if kind == "purchase":
            rows = self.purchases().filter(self.window("ordered_at", node))
            if node.get("product"):
                lines = _model("transactions.OrderLine").objects.filter(
                    product__sku=node["product"])
                rows = rows.filter(pk__in=lines.values("order_id"))
            elif node.get("category"):
                lines = _model("transactions.OrderLine").objects.filter(
                    product__category=node["category"])
                rows = rows.filter(pk__in=lines.values("order_id"))
        elif kind == "event":
            rows = _model("interactions.Event").objects.filter(
                self.window("occurred_at", node))
            if node.get("name"):
                rows = rows.filter(event_type=node["name"])
            for item in node.get("where", []):
                rows = rows.filter(self.property(item))
        elif kind == "interaction":
            rows = _model("interactions.Interaction").objects.filter(
                self.window("occurred_at", node))
            if node.get("name"):
                rows = rows.filter(kind=node["name"])
        else:
            rows = _model("transactions.Ticket").objects.filter(
                self.window("opened_at", node))
            if node.get("name"):
                rows = rows.filter(kind=node["name"])
        count = node["count"]
        return self.aggregate(rows.order_by(), Count("id"), count["op"], count["value"])

    def aggregate(self, rows, measure, op: str, value) -> Q:
        """Customers whose measure over `rows` compares to `value`; customers without any row
        have measure 0."""
        zero_matches = {"gte": 0 >= value, "gt": 0 > value, "lte": 0 <= value,
                        "lt": 0 < value, "eq": 0 == value}[op]
        if not zero_matches:
            if op in ("gte", "gt") and isinstance(measure, Count) and (
                    value == 1 if op == "gte" else value == 0):
                # At least one row: no grouping needed.
                if SEMI_JOIN == "exists":
                    return Q(Exists(rows.filter(customer_id=OuterRef("pk"))))
                return Q(pk__in=rows.values("customer_id"))
            return Q(pk__in=self._having(rows, measure, op, value))
        negated = {"gte": "lt", "gt": "lte", "lte": "gt", "lt": "gte", "eq": "ne"}[op]
        if negated == "gt" and value == 0 and isinstance(measure, Count):
            return ~Q(pk__in=rows.values("customer_id"))
        return ~Q(pk__in=self._having(rows, measure, negated, value))

    @staticmethod
    def _having(rows, measure, op: str, value):
        grouped = rows.values("customer_id").annotate(measure=measure)
        if op == "ne":
            grouped = grouped.exclude(measure=value)
        elif op == "eq":
            grouped = grouped.filter(measure=value)
        else:
            grouped = grouped.filter(**{f"measure__{op}": value})
        return grouped.values("customer_id")

    def spend(self, node) -> Q:
        rows = self.purchases().filter(self.window("ordered_at", node))
        return self.aggregate(rows.order_by(), Sum("total_amount"), node["op"],
                              _decimal(node["value"]))

    @staticmethod
    def property(item) -> Q:
        path = f"properties__{item['property']}"
        op, value = item["op"], item.get("value")
        if op == "is_set":
            return Q(properties__has_key=item["property"]) & ~Q(**{path: None})
        if op == "is_not_set":
            return ~(Q(properties__has_key=item["property"]) & ~Q(**{path: None}))
        if op == "eq":
            return Q(**{path: value})
        if op == "ne":
            # A missing key is "not equal" too (it would compare as NULL).
            return Q(**{f"{path}__isnull": True}) | ~Q(**{path: value})
        if op == "contains":
            return Q(**{f"{path}__icontains": value})
        if op == "starts_with":
            return Q(**{f"{path}__istartswith": value})
        return Q(**{f"{path}__{op}": value})
