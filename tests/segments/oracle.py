"""An independent, plain-Python reading of the segment language, and seeded random data and
definitions to hold the compiler to it. It shares no code with kehu.segments."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.utils import timezone

from kehu.customers.models import Address, Customer, CustomerTag, CustomFieldDefinition, Tag
from kehu.interactions.models import Event, Interaction
from kehu.transactions.models import Order, OrderLine, Product, Ticket

REGIONS = ["华东", "华南", "华北", "西南"]
PROVINCES = ["浙江省", "江苏省", "广东省", "四川省", ""]
CITIES = ["杭州市", "南京市", "广州市", "成都市", ""]
DISTRICTS = ["西湖区", "鼓楼区", "天河区", "武侯区"]
STAGES = ["lead", "prospect", "customer", "loyal", "churned"]
TAGS = ["白金会员", "VIP", "近期有投诉", "Wholesale"]
EVENTS = ["page_view", "product_view", "email_open", "cart_add"]
URLS = ["/products/a", "/products/b/accessories", "/products/B/Accessories/x", "/about", "/"]
SKUS = ["SKU-A", "SKU-B", "SKU-C"]
CATEGORIES = {"SKU-A": "打印机", "SKU-B": "配件", "SKU-C": "配件"}
LEVELS = ["金", "银", "铜"]
HOBBIES = ["跑步", "读书", "旅行"]
STATUSES = ["pending", "paid", "shipped", "completed", "cancelled", "returned", "refunded"]
# The documented meaning of "a purchase" (docs/segments.md), written out here on purpose and
# never read from kehu: an order that was paid for and not taken back. A pending order is not
# a purchase yet; cancelled, returned and refunded ones are not purchases.
PURCHASES = {"paid", "shipped", "completed"}


def local_start(day: date) -> datetime:
    return datetime.combine(day, time.min, timezone.get_current_timezone())


def build(seed: int, *, customers: int, users, teams, now: datetime) -> dict:
    """Customers with every kind of attribute and behaviour, as rows, plus their Python view."""
    rng = random.Random(seed)
    today = timezone.localtime(now).date()
    CustomFieldDefinition.objects.get_or_create(key="level", defaults={
        "label": "等级", "field_type": "choice", "choices": LEVELS})
    CustomFieldDefinition.objects.get_or_create(key="score", defaults={
        "label": "评分", "field_type": "number"})
    CustomFieldDefinition.objects.get_or_create(key="hobbies", defaults={
        "label": "爱好", "field_type": "multi_choice", "choices": HOBBIES})
    CustomFieldDefinition.objects.get_or_create(key="joined", defaults={
        "label": "入会", "field_type": "date"})
    CustomFieldDefinition.objects.get_or_create(key="vip", defaults={
        "label": "VIP", "field_type": "boolean"})
    tags = {name: Tag.objects.get_or_create(name=name)[0] for name in TAGS}
    products = {sku: Product.objects.get_or_create(sku=sku, defaults={
        "name": sku, "category": CATEGORIES[sku], "unit_price": "10.00"})[0] for sku in SKUS}
    owners = [None, *users]
    rows = []
    for i in range(customers):
        custom = {}
        if rng.random() < 0.7:
            custom["level"] = rng.choice(LEVELS)
        if rng.random() < 0.7:
            custom["score"] = rng.choice([0, 3, 5, 7.5, 10])
        if rng.random() < 0.6:
            custom["hobbies"] = rng.sample(HOBBIES, rng.randint(0, 3))
        if rng.random() < 0.6:
            custom["joined"] = (today - timedelta(days=rng.randint(0, 400))).isoformat()
        if rng.random() < 0.6:
            custom["vip"] = rng.random() < 0.5
        birthday = None
        if rng.random() < 0.8:
            birthday = rng.choice([
                date(1992, 2, 29), date(1985, 12, 31), date(1988, 1, 1),
                date(1984, today.month, today.day),
                (today + timedelta(days=rng.randint(-10, 40))).replace(year=1992)
                if not (today.month == 2 and today.day == 29) else date(1992, 3, 1),
            ])
        owner = rng.choice(owners)
        rows.append(Customer(
            kind=rng.choice(["person", "person", "organisation"]), name=f"客户{seed}-{i}",
            gender=rng.choice(["male", "female", ""]), birthday=birthday,
            region=rng.choice(REGIONS + [""]), province=rng.choice(PROVINCES),
            city=rng.choice(CITIES), lifecycle_stage=rng.choice(STAGES),
            source=rng.choice(["展会", "官网", ""]), owner=owner,
            team=(owner.team if owner is not None and rng.random() < 0.8
                  else rng.choice([None, *teams])),
            primary_mobile=rng.choice(["", "+8613800000000"]),
            quality_score=rng.choice([None, 20, 55, 80, 100]), custom=custom,
            last_activity_at=rng.choice([None, now - timedelta(days=rng.randint(0, 90))]),
            status=rng.choice(["active"] * 9 + ["deleted"])))
    created = Customer.objects.bulk_create(rows)
    for customer in created:
        Customer.objects.filter(pk=customer.pk).update(
            created_at=now - timedelta(days=rng.randint(0, 200), hours=rng.randint(0, 23)))
    addresses, links, events, interactions, tickets = [], [], [], [], []
    orders = []
    for customer in created:
        for _ in range(rng.randint(0, 2)):
            addresses.append(Address(customer=customer, district=rng.choice(DISTRICTS)))
        for tag in rng.sample(TAGS, rng.randint(0, 3)):
            links.append(CustomerTag(customer=customer, tag=tags[tag]))
        for _ in range(rng.randint(0, 6)):
            properties = {}
            if rng.random() < 0.8:
                properties["url"] = rng.choice(URLS)
            if rng.random() < 0.5:
                properties["price"] = rng.choice([5, 10, 20.5, 100])
            if rng.random() < 0.3:
                properties["campaign"] = rng.choice(["双十一", "618"])
            events.append(Event(customer=customer, event_type=rng.choice(EVENTS),
                                occurred_at=now - timedelta(days=rng.randint(0, 60),
                                                            minutes=rng.randint(0, 600)),
                                properties=properties))
        for _ in range(rng.randint(0, 3)):
            interactions.append(Interaction(
                customer=customer, kind=rng.choice(["call", "visit", "email"]), summary="x",
                occurred_at=now - timedelta(days=rng.randint(0, 60))))
        for _ in range(rng.randint(0, 2)):
            tickets.append(Ticket(customer=customer, number=f"T{seed}-{len(tickets)}",
                                  kind=rng.choice(["complaint", "inquiry"]), subject="x",
                                  opened_at=now - timedelta(days=rng.randint(0, 60))))
        for _ in range(rng.randint(0, 4)):
            orders.append(Order(customer=customer, number=f"O{seed}-{len(orders)}",
                                status=rng.choice(STATUSES),
                                ordered_at=now - timedelta(days=rng.randint(0, 120)),
                                total_amount=Decimal(rng.choice([50, 120, 300, 999]))))
    Address.objects.bulk_create(addresses)
    CustomerTag.objects.bulk_create(links)
    Event.objects.bulk_create(events)
    Interaction.objects.bulk_create(interactions)
    Ticket.objects.bulk_create(tickets)
    Order.objects.bulk_create(orders)
    lines = []
    for order in orders:
        for sku in rng.sample(SKUS, rng.randint(1, 2)):
            lines.append(OrderLine(order=order, product=products[sku], quantity=1,
                                   unit_price="10.00", amount="10.00"))
    OrderLine.objects.bulk_create(lines)
    return snapshot(now)


def snapshot(now: datetime) -> dict:
    """Every customer as plain Python data (read back, so types are what the database holds)."""
    people = {}
    for c in Customer.objects.all():
        people[c.pk] = {
            "id": c.pk, "kind": c.kind, "name": c.name, "gender": c.gender,
            "birthday": c.birthday, "region": c.region, "province": c.province, "city": c.city,
            "owner": c.owner_id, "team": c.team_id, "lifecycle_stage": c.lifecycle_stage,
            "source": c.source, "industry": c.industry, "preferred_channel": c.preferred_channel,
            "mobile": c.primary_mobile, "email": c.primary_email,
            "quality_score": c.quality_score, "created_at": c.created_at,
            "last_activity_at": c.last_activity_at, "custom": c.custom, "status": c.status,
            "districts": set(), "tags": set(), "events": [], "interactions": [],
            "tickets": [], "orders": []}
    for a in Address.objects.all():
        people[a.customer_id]["districts"].add(a.district)
    for link in CustomerTag.objects.select_related("tag"):
        people[link.customer_id]["tags"].add(link.tag.name.lower())
    for e in Event.objects.all():
        people[e.customer_id]["events"].append((e.event_type, e.occurred_at, e.properties))
    for i in Interaction.objects.all():
        people[i.customer_id]["interactions"].append((i.kind, i.occurred_at))
    for t in Ticket.objects.all():
        people[t.customer_id]["tickets"].append((t.kind, t.opened_at))
    skus: dict[int, set] = {}
    for line in OrderLine.objects.select_related("product"):
        skus.setdefault(line.order_id, set()).add((line.product.sku, line.product.category))
    for o in Order.objects.all():
        people[o.customer_id]["orders"].append((o.status, o.ordered_at, o.total_amount,
                                                skus.get(o.pk, set())))
    return people


# The evaluator ---------------------------------------------------------------------------------


class Oracle:
    def __init__(self, now: datetime, user_id: int | None = None):
        self.now = now
        self.today = timezone.localtime(now).date()
        self.user_id = user_id

    def matches(self, people: dict, definition: dict) -> set[int]:
        return {pk for pk, c in people.items()
                if c["status"] == "active" and self.node(c, definition)}

    def node(self, c, n) -> bool:
        t = n.get("type", "field" if "field" in n else None)
        if t == "group":
            results = [self.node(c, child) for child in n.get("conditions", [])]
            return all(results) if n.get("match", "all") == "all" else (
                any(results) if results else True)
        if t == "not":
            return not self.node(c, n["condition"])
        if t == "field":
            return self.field(c, n)
        if t == "spend":
            total = sum((o[2] for o in c["orders"] if o[0] in PURCHASES and self.inside(o[1], n)),
                        Decimal(0))
            return compare(total, n.get("op", "gte"), Decimal(str(n["value"])))
        return self.activity(c, t, n)

    def inside(self, moment: datetime, n) -> bool:
        if "within_days" in n:
            return self.now - timedelta(days=n["within_days"]) <= moment <= self.now
        if "between" in n:
            start, end = (date.fromisoformat(d) for d in n["between"])
            return local_start(start) <= moment < local_start(end + timedelta(days=1))
        return True

    def activity(self, c, t, n) -> bool:
        if t == "event":
            rows = [e for e in c["events"] if (not n.get("name") or e[0] == n["name"])
                    and self.inside(e[1], n)
                    and all(prop_match(e[2], p) for p in n.get("where", []))]
        elif t == "interaction":
            rows = [i for i in c["interactions"] if (not n.get("name") or i[0] == n["name"])
                    and self.inside(i[1], n)]
        elif t == "ticket":
            rows = [i for i in c["tickets"] if (not n.get("name") or i[0] == n["name"])
                    and self.inside(i[1], n)]
        else:
            rows = [o for o in c["orders"] if o[0] in PURCHASES and self.inside(o[1], n)
                    and (not n.get("product") or any(s == n["product"] for s, _c in o[3]))
                    and (not n.get("category") or any(cat == n["category"]
                                                       for _s, cat in o[3]))]
        count = n.get("count", {"op": "gte", "value": 1})
        result = compare(len(rows), count.get("op", "gte"), count["value"])
        return result if n.get("did", True) else not result

    def field(self, c, n) -> bool:
        key, op, value = n["field"], n["op"], n.get("value")
        if key.startswith("custom."):
            return self.custom(c["custom"], key[len("custom."):], op, value)
        if key == "tags":
            names = [v.lower() for v in (value if isinstance(value, list) else [value])]
            if op == "has_any":
                return any(v in c["tags"] for v in names)
            if op == "has_all":
                return all(v in c["tags"] for v in names)
            return not any(v in c["tags"] for v in names)
        if key == "district":
            values = value if isinstance(value, list) else [value]
            hit = bool(c["districts"] & set(values))
            return not hit if op == "not_in" else hit
        current = c[key]
        if key in ("owner",):
            value = [self.user_id if v == "me" else v for v in value] if isinstance(
                value, list) else (self.user_id if value == "me" else value)
        if op == "is_set":
            return current not in (None, "")
        if op == "is_not_set":
            return current in (None, "")
        if key == "birthday" or key in ("created_at", "last_activity_at"):
            return self.dates(current, op, value, moment=key != "birthday")
        if op == "eq":
            return current == value
        if op == "ne":
            return current != value
        if op == "in":
            return current in value
        if op == "not_in":
            return current not in value
        if op == "contains":
            return value.casefold() in current.casefold()
        if op == "starts_with":
            return current.casefold().startswith(value.casefold())
        if op == "between":
            return current is not None and value[0] <= current <= value[1]
        return current is not None and compare(current, op, value)

    def dates(self, current, op, value, *, moment: bool) -> bool:
        if op == "anniversary_next_days":
            return self.anniversary(current, 0, value - 1)
        if op == "anniversary_days":
            return self.anniversary(current, value[0], value[1])
        if op == "not_in_last_days":
            return not self.dates(current, "in_last_days", value, moment=moment)
        if current is None:
            return False
        if moment:
            if op == "in_last_days":
                return self.now - timedelta(days=value) <= current <= self.now
            if op == "before":
                return current < local_start(date.fromisoformat(value))
            if op == "after":
                return current >= local_start(date.fromisoformat(value) + timedelta(days=1))
            return (local_start(date.fromisoformat(value[0])) <= current
                    < local_start(date.fromisoformat(value[1]) + timedelta(days=1)))
        if isinstance(current, str):
            current = date.fromisoformat(current)
        if op == "in_last_days":
            return self.today - timedelta(days=value) <= current <= self.today
        if op == "before":
            return current < date.fromisoformat(value)
        if op == "after":
            return current > date.fromisoformat(value)
        return date.fromisoformat(value[0]) <= current <= date.fromisoformat(value[1])

    def anniversary(self, born, first, last) -> bool:
        if born is None:
            return False
        for year in (self.today.year, self.today.year + 1):
            try:
                day = born.replace(year=year)
            except ValueError:  # 29 February in a common year: the 28th
                day = date(year, 2, 28)
            offset = (day - self.today).days
            if first <= offset <= last:
                return True
        return False

    def custom(self, values, key, op, value) -> bool:
        current = values.get(key)
        if op == "is_set":
            return current not in (None, "")
        if op == "is_not_set":
            return current in (None, "")
        if key == "hobbies":
            have = current if isinstance(current, list) else []
            if op == "has_any":
                return any(v in have for v in value)
            if op == "has_all":
                return all(v in have for v in value)
            return not any(v in have for v in value)
        if key == "joined":
            return self.dates(current, op, value, moment=False)
        if op == "eq":
            return current == value and type(current) is type(value) or (
                isinstance(current, int | float) and not isinstance(current, bool)
                and isinstance(value, int | float) and current == value)
        if op == "ne":
            return not self.custom(values, key, "eq", value)
        if op == "in":
            return current in value
        if op == "not_in":
            return current not in value
        if current is None or isinstance(current, bool) or not isinstance(current, int | float):
            return False
        if op == "between":
            return value[0] <= current <= value[1]
        return compare(current, op, value)


def compare(left, op, right) -> bool:
    return {"gte": left >= right, "gt": left > right, "lte": left <= right, "lt": left < right,
            "eq": left == right, "ne": left != right}[op]


def prop_match(properties: dict, p: dict) -> bool:
    op, value = p.get("op", "eq"), p.get("value")
    present = p["property"] in properties and properties[p["property"]] is not None
    current = properties.get(p["property"])
    if op == "is_set":
        return present
    if op == "is_not_set":
        return not present
    if op == "eq":
        return present and current == value and type(current) is type(value)
    if op == "ne":
        return not (present and current == value and type(current) is type(value))
    if not present:
        return False
    if op == "contains":
        return isinstance(current, str) and value.casefold() in current.casefold()
    if op == "starts_with":
        return isinstance(current, str) and current.casefold().startswith(value.casefold())
    return isinstance(current, int | float) and compare(current, op, value)


# Random definitions -----------------------------------------------------------------------------


def random_condition(rng: random.Random, kind: str, today: date) -> dict:
    def window(n):
        r = rng.random()
        if r < 0.45:
            n["within_days"] = rng.choice([1, 7, 30, 45, 90])
        elif r < 0.75:
            start = today - timedelta(days=rng.randint(10, 70))
            n["between"] = [start.isoformat(), (start + timedelta(days=rng.randint(0, 30)))
                            .isoformat()]
        return n

    def count(n):
        r = rng.random()
        if r < 0.3:
            n["did"] = False
        elif r < 0.8:
            n["count"] = {"op": rng.choice(["gte", "gt", "lte", "lt", "eq"]),
                          "value": rng.randint(0, 3)}
        return n
    if kind == "field":
        return rng.choice(FIELD_MAKERS)(rng, today)
    if kind == "event":
        n = {"type": "event"}
        if rng.random() < 0.8:
            n["name"] = rng.choice(EVENTS)
        where = []
        for _ in range(rng.randint(0, 2)):
            where.append(rng.choice([
                {"property": "url", "op": "contains", "value": rng.choice(
                    ["accessories", "/products", "about"])},
                {"property": "url", "op": "starts_with", "value": "/products/b"},
                {"property": "url", "op": "eq", "value": rng.choice(URLS)},
                {"property": "url", "op": "ne", "value": "/"},
                {"property": "price", "op": rng.choice(["gt", "gte", "lt", "lte"]),
                 "value": rng.choice([5, 10, 20])},
                {"property": "campaign", "op": rng.choice(["is_set", "is_not_set"])},
            ]))
        if where:
            n["where"] = where
        return count(window(n))
    if kind in ("interaction", "ticket"):
        n = {"type": kind}
        if rng.random() < 0.7:
            n["name"] = rng.choice(["call", "visit", "email"] if kind == "interaction"
                                   else ["complaint", "inquiry"])
        return count(window(n))
    if kind == "purchase":
        n = {"type": "purchase"}
        r = rng.random()
        if r < 0.4:
            n["product"] = rng.choice(SKUS)
        elif r < 0.7:
            n["category"] = rng.choice(["打印机", "配件"])
        return count(window(n))
    return window({"type": "spend", "op": rng.choice(["gte", "gt", "lte", "lt", "eq"]),
                   "value": rng.choice([0, 120, 300, 500, 1500])})


def _f(field, op, value=None):
    n = {"type": "field", "field": field, "op": op}
    if value is not None:
        n["value"] = value
    return n


FIELD_MAKERS = [
    lambda r, t: _f("region", r.choice(["eq", "ne"]), r.choice(REGIONS)),
    lambda r, t: _f("region", r.choice(["in", "not_in"]), r.sample(REGIONS, 2)),
    lambda r, t: _f("region", r.choice(["is_set", "is_not_set"])),
    lambda r, t: _f("province", r.choice(["eq", "contains", "starts_with"]),
                    r.choice(["浙江", "江苏省", "广东省"])),
    lambda r, t: _f("city", "in", r.sample(CITIES[:4], 2)),
    lambda r, t: _f("district", r.choice(["in", "not_in"]), r.sample(DISTRICTS, 2)),
    lambda r, t: _f("district", "eq", r.choice(DISTRICTS)),
    lambda r, t: _f("lifecycle_stage", r.choice(["eq", "ne"]), r.choice(STAGES)),
    lambda r, t: _f("kind", "eq", r.choice(["person", "organisation"])),
    lambda r, t: _f("gender", r.choice(["is_set", "is_not_set"])),
    lambda r, t: _f("tags", r.choice(["has_any", "has_all", "has_none"]),
                    r.sample(TAGS, r.randint(1, 2))),
    lambda r, t: _f("quality_score", r.choice(["gt", "gte", "lt", "lte", "eq", "ne"]),
                    r.choice([20, 55, 80])),
    lambda r, t: _f("quality_score", r.choice(["is_set", "is_not_set"])),
    lambda r, t: _f("quality_score", "between", [50, 90]),
    lambda r, t: _f("mobile", r.choice(["is_set", "is_not_set"])),
    lambda r, t: _f("source", r.choice(["eq", "ne"]), "展会"),
    lambda r, t: _f("birthday", "anniversary_next_days", r.choice([1, 7, 30, 366])),
    lambda r, t: _f("birthday", "anniversary_days", sorted([r.randint(0, 40), r.randint(0, 40)])),
    lambda r, t: _f("birthday", r.choice(["before", "after"]), "1988-01-01"),
    lambda r, t: _f("created_at", r.choice(["in_last_days", "not_in_last_days"]),
                    r.choice([7, 30, 100])),
    lambda r, t: _f("created_at", r.choice(["before", "after"]),
                    (t - timedelta(days=r.randint(0, 150))).isoformat()),
    lambda r, t: _f("created_at", "between", [(t - timedelta(days=120)).isoformat(),
                                              (t - timedelta(days=30)).isoformat()]),
    lambda r, t: _f("last_activity_at", r.choice(["not_in_last_days", "in_last_days"]), 30),
    lambda r, t: _f("custom.level", r.choice(["eq", "ne"]), r.choice(LEVELS)),
    lambda r, t: _f("custom.level", r.choice(["in", "not_in"]), r.sample(LEVELS, 2)),
    lambda r, t: _f("custom.level", r.choice(["is_set", "is_not_set"])),
    lambda r, t: _f("custom.score", r.choice(["gt", "gte", "lt", "lte", "eq", "ne"]),
                    r.choice([3, 5, 7.5])),
    lambda r, t: _f("custom.score", "between", [3, 7.5]),
    lambda r, t: _f("custom.hobbies", r.choice(["has_any", "has_all", "has_none"]),
                    r.sample(HOBBIES, r.randint(1, 2))),
    lambda r, t: _f("custom.joined", r.choice(["before", "after"]),
                    (t - timedelta(days=200)).isoformat()),
    lambda r, t: _f("custom.joined", r.choice(["in_last_days", "not_in_last_days"]), 100),
    lambda r, t: _f("custom.vip", "eq", r.choice([True, False])),
    lambda r, t: _f("custom.vip", r.choice(["is_set", "is_not_set"])),
]


def random_tree(rng: random.Random, today: date, depth: int = 0) -> dict:
    children = []
    for _ in range(rng.randint(1, 3)):
        r = rng.random()
        if depth < 2 and r < 0.25:
            child = random_tree(rng, today, depth + 1)
        else:
            child = random_condition(rng, rng.choice(
                ["field", "field", "event", "interaction", "ticket", "purchase", "spend"]),
                today)
        if rng.random() < 0.2:
            child = {"type": "not", "condition": child}
        children.append(child)
    return {"type": "group", "match": rng.choice(["all", "any"]), "conditions": children}
