"""Segment-compatible event ingestion: track, page, screen, group, identify and alias calls,
one at a time or in a batch, from websites, apps, mini-programs and servers.

Who an event belongs to: `userId` is the app's own user id, stored on the customer as an
external identifier of system "app" (never read as a kehu customer id: an app's user 42 is
not customer 42). An event whose userId no customer has yet, or that has only an
`anonymousId`, belongs to a profile-less visitor until an identify or alias links the two
(kehu.integration.stitching). Events for a customer are stored by
`kehu.interactions.services.event_ingest`; identify traits go through the customer services.

Every accepted messageId is remembered per source (API key or user), so a replayed event or
batch stores nothing twice. Items are checked one by one: a bad item is reported with its
index and the rest are stored.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from kehu.core.actor import Actor
from kehu.core.bulkdb import JSONText, insert_rows
from kehu.core.errors import DomainError
from kehu.core.events import record_change
from kehu.customers.models import Customer, Identifier
from kehu.customers.services import customer_create, customer_update, identifier_add
from kehu.identity.scan import candidates_queue_pairs
from kehu.integration.models import IngestMessage, Stitch, Visitor, VisitorEvent
from kehu.integration.stitching import StitchLimit, is_junk_id, visitor_stitch
from kehu.interactions.services import event_ingest

EVENT_MAX_BYTES = 32 * 1024
BATCH_MAX_BYTES = 500 * 1024
BATCH_MAX_ITEMS = 2500
APP_SYSTEM = "app"
TYPES = ("track", "page", "screen", "group", "identify", "alias")
ID_MAX = 200
_SLUG = re.compile(r"[^a-z0-9_.:-]+")
_DUMPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str).encode


class RateLimited(DomainError):
    code = "rate_limited"
    status = 429

    def __init__(self, retry_after: int):
        super().__init__(_("Too many events for this key; retry after %d seconds.")
                         % retry_after, details={"retry_after": retry_after})
        self.retry_after = retry_after


@dataclass
class IngestOutcome:
    """What a call did: items accepted (replays included), replays, and per-item errors."""

    accepted: int = 0
    duplicates: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    review: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"accepted": self.accepted, "duplicates": self.duplicates,
                               "errors": self.errors}
        if self.review:
            out["review"] = self.review
        return out


def rate_check(*, source: str, count: int) -> None:
    """Count `count` events against the source's per-minute budget (KEHU_INGEST_RATE_LIMIT,
    events per minute per key); RateLimited with the seconds to wait once it is spent."""
    limit = int(getattr(settings, "KEHU_INGEST_RATE_LIMIT", 600_000))
    now = timezone.now().timestamp()
    window = int(now // 60)
    key = f"kehu-ingest-rate:{source}:{window}"
    cache.add(key, 0, timeout=120)
    try:
        used = cache.incr(key, count)
    except ValueError:
        cache.set(key, count, timeout=120)
        used = count
    if used > limit:
        raise RateLimited(max(1, int(60 - now % 60) + 1))


def event_type_of(item: dict[str, Any]) -> str:
    """The stored event type: `page_view`, `screen_view`, `group`, or the track event's name
    as a slug ("Order Completed" -> "order_completed"; the name itself stays in properties)."""
    kind = item["type"]
    if kind == "page":
        return "page_view"
    if kind == "screen":
        return "screen_view"
    if kind == "group":
        return "group"
    slug = _SLUG.sub("_", str(item.get("event", "")).strip().lower()).strip("_")
    if not slug or not slug[0].isalpha():
        slug = "e_" + slug
    return slug[:40]


def _time(item: dict[str, Any], now: dt.datetime) -> dt.datetime | None:
    for name in ("timestamp", "originalTimestamp"):
        value = item.get(name)
        if value in (None, ""):
            continue
        parsed = parse_datetime(value) if isinstance(value, str) else None
        if parsed is None:
            return None
        if timezone.is_naive(parsed):
            parsed = timezone.make_aware(parsed, dt.UTC)
        return min(parsed, now)  # a client clock ahead of ours: now
    return now


def _an_id(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        return "\x00"  # refused below as not an id
    return str(value).strip()


def _error(index: int, item: Any, code: str, message) -> dict[str, Any]:
    message_id = item.get("messageId") if isinstance(item, dict) else None
    return {"index": index, "messageId": message_id if isinstance(message_id, str) else None,
            "code": code, "message": str(message)}


def _check(index: int, item: Any, now: dt.datetime) -> tuple[dict | None, dict | None]:
    """(cleaned item, None) or (None, per-item error)."""
    if not isinstance(item, dict):
        return None, _error(index, item, "invalid", _("Each item must be a JSON object."))
    kind = item.get("type")
    if kind not in TYPES:
        return None, _error(index, item, "invalid_type",
                            _("type must be one of: %s.") % ", ".join(TYPES))
    try:
        size = len(_DUMPS(item).encode())
    except (TypeError, ValueError):
        return None, _error(index, item, "invalid", _("The item is not plain JSON."))
    if size > EVENT_MAX_BYTES:
        return None, _error(index, item, "too_large",
                            _("An event may be at most %d bytes.") % EVENT_MAX_BYTES)
    user_id, anonymous_id = _an_id(item.get("userId")), _an_id(item.get("anonymousId"))
    for name, value in (("userId", user_id), ("anonymousId", anonymous_id)):
        if value is None:
            continue
        if value == "\x00" or len(value) > ID_MAX:
            return None, _error(index, item, "invalid_id",
                                _("%s must be text of at most %d characters.") % (name, ID_MAX))
        if is_junk_id(value):
            return None, _error(index, item, "junk_id",
                                _("%(name)s “%(value)s” is a placeholder, not a person's id.")
                                % {"name": name, "value": value})
    if kind != "alias" and not user_id and not anonymous_id:
        return None, _error(index, item, "missing_id", _("Give userId or anonymousId."))
    message_id = item.get("messageId")
    if message_id is not None and (not isinstance(message_id, str) or not message_id.strip()
                                   or len(message_id) > ID_MAX):
        return None, _error(index, item, "invalid_message_id",
                            _("messageId must be text of at most %d characters.") % ID_MAX)
    occurred_at = _time(item, now)
    if occurred_at is None:
        return None, _error(index, item, "invalid_timestamp",
                            _("timestamp must be an ISO 8601 time."))
    clean = {"index": index, "type": kind, "userId": user_id, "anonymousId": anonymous_id,
             "messageId": message_id, "occurred_at": occurred_at, "raw": item}
    for name in ("properties", "traits", "context"):
        value = item.get(name)
        if value is not None and not isinstance(value, dict):
            return None, _error(index, item, "invalid", _("%s must be an object.") % name)
    if kind == "identify":
        clean["wechat"] = []
        for system, value in wechat_ids(item):
            if (not isinstance(value, str) or not value.strip() or len(value) > 128
                    or any(c.isspace() for c in value) or is_junk_id(value)):
                return None, _error(index, item, "invalid_id", _(
                    "A WeChat openid or unionid is text of at most 128 characters, "
                    "without spaces."))
            clean["wechat"].append((system, value.strip()))
    if kind == "track":
        event = item.get("event")
        if not isinstance(event, str) or not event.strip() or len(event) > 200:
            return None, _error(index, item, "missing_event",
                                _("A track call names its event (text, at most 200)."))
    elif kind == "group":
        if _an_id(item.get("groupId")) in (None, "", "\x00"):
            return None, _error(index, item, "missing_group", _("A group call gives groupId."))
    elif kind == "alias":
        previous = _an_id(item.get("previousId"))
        if not previous or previous == "\x00" or not user_id or len(previous) > ID_MAX:
            return None, _error(index, item, "missing_id",
                                _("An alias gives previousId and userId."))
        if is_junk_id(previous):
            return None, _error(index, item, "junk_id",
                                _("previousId “%s” is a placeholder, not a person's id.")
                                % previous)
        clean["previousId"] = previous
    return clean, None


_APP_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
WECHAT_UNIONID = "wechat:unionid"  # one person across a developer's WeChat apps


def _pick(source: Any, *names: str) -> Any:
    if not isinstance(source, dict):
        return None
    return next((source[n] for n in names if source.get(n) not in (None, "")), None)


def wechat_ids(item: dict[str, Any]) -> list[tuple[str, Any]]:
    """The WeChat identifiers an identify carries, as (external id system, value):
    `context.wechat` {appId, openId, unionId, miniProgram} or the traits unionId / openId /
    miniProgramOpenId. A unionid is `wechat:unionid`; an openid belongs to its app:
    `wechat:openid:<appId>` (official account, web) or `wechat:mini:<appId>` (mini-program)."""
    traits, context = item.get("traits"), item.get("context")
    wx = _pick(context, "wechat") or {}
    app = _pick(wx, "appId", "appid", "app_id")
    mini = bool(_pick(wx, "miniProgram", "mini_program")) or _pick(wx, "type") == "miniprogram"
    suffix = f":{app}" if isinstance(app, str) and _APP_ID.match(app) else ""
    found = []
    union = _pick(wx, "unionId", "unionid") or _pick(traits, "unionId", "unionid")
    if union is not None:
        found.append((WECHAT_UNIONID, union))
    openid = _pick(wx, "openId", "openid") or _pick(traits, "openId", "openid")
    if openid is not None:
        found.append(((f"wechat:mini{suffix}" if mini else f"wechat:openid{suffix}"), openid))
    mini_openid = _pick(traits, "miniProgramOpenId", "mini_openid")
    if mini_openid is not None:
        found.append((f"wechat:mini{suffix}", mini_openid))
    return found


def _properties(clean: dict[str, Any]) -> dict[str, Any]:
    item = clean["raw"]
    props = dict(item.get("properties") or {})
    if clean["type"] == "group":
        props = {"groupId": str(item.get("groupId")), "traits": item.get("traits") or {}}
    if clean["type"] == "track":
        props["$event"] = item["event"]
    elif item.get("name") and clean["type"] in ("page", "screen"):
        props["$name"] = str(item["name"])[:200]
    context = item.get("context") or {}
    page = context.get("page") if isinstance(context, dict) else None
    if isinstance(page, dict) and "url" in page and "url" not in props:
        props["url"] = page["url"]
    if clean["messageId"]:
        props["$message_id"] = clean["messageId"]
    if clean["anonymousId"]:
        props["$anonymous_id"] = clean["anonymousId"]
    return props


# Who --------------------------------------------------------------------------------------


def _customers_by_user_id(actor: Actor, user_ids: set[str]) -> dict[str, int]:
    if not user_ids:
        return {}
    customers = Customer.objects.filter(status=Customer.STATUS_ACTIVE)
    if actor.access is not None:
        customers = actor.access.restrict(customers)
    return dict(Identifier.objects.filter(
        kind=Identifier.EXTERNAL, system=APP_SYSTEM, value__in=user_ids, is_live=True,
        customer__in=customers).values_list("value", "customer_id"))


def _visitors(keys: set[str], now: dt.datetime) -> dict[str, Visitor]:
    if not keys:
        return {}
    found = {v.key: v for v in Visitor.objects.filter(key__in=keys)}
    missing = keys - set(found)
    if missing:
        Visitor.objects.bulk_create([Visitor(key=k, first_seen=now, last_seen=now)
                                     for k in sorted(missing)], ignore_conflicts=True)
        found.update({v.key: v for v in Visitor.objects.filter(key__in=missing)})
    return found


def _strong_matches(actor: Actor, traits: dict[str, Any]) -> dict[str, set[int]]:
    """Per contact trait (`email`, `mobile`): the customers holding it (live identifiers)."""
    from kehu.customers.services.identity import normalize_identifier

    customers = Customer.objects.filter(status=Customer.STATUS_ACTIVE)
    if actor.access is not None:
        customers = actor.access.restrict(customers)
    found: dict[str, set[int]] = {}
    for trait, change, kind in (("email", "email", Identifier.EMAIL),
                                ("phone", "mobile", "phone"), ("mobile", "mobile", "phone")):
        value = traits.get(trait)
        if change in found or not isinstance(value, str) or not value.strip():
            continue
        try:
            normal = normalize_identifier(kind, value)
        except ValueError:
            continue
        found[change] = set(Identifier.objects.filter(
            kind=normal["kind"], value=normal["value"], is_live=True,
            customer__in=customers).values_list("customer_id", flat=True))
    return found


def _wechat_matches(actor: Actor, wechat: list[tuple[str, str]]) -> dict[str, set[int]]:
    """Per WeChat id system: the customers holding the id (live identifiers), in one query."""
    if not wechat:
        return {}
    customers = Customer.objects.filter(status=Customer.STATUS_ACTIVE)
    if actor.access is not None:
        customers = actor.access.restrict(customers)
    found: dict[str, set[int]] = {system: set() for system, _value in wechat}
    wanted = set(wechat)
    for system, value, customer_id in Identifier.objects.filter(
            kind=Identifier.EXTERNAL, system__in=found, value__in={v for _s, v in wechat},
            is_live=True, customer__in=customers).values_list("system", "value",
                                                               "customer_id"):
        if (system, value) in wanted:
            found[system].add(customer_id)
    return found


_TRAITS = ("name", "gender", "birthday", "title", "company")  # a person's fields


def _trait_changes(traits: dict[str, Any], *, skip_contacts: bool) -> dict[str, Any]:
    """Segment traits as customer fields: name (or lastName + firstName), email, phone,
    gender, birthday, title, company (its name), address; other traits are not stored."""
    changes: dict[str, Any] = {}
    for name in _TRAITS:
        value = traits.get(name)
        if name == "company" and isinstance(value, dict):
            value = value.get("name")
        if isinstance(value, str | int | float) and str(value).strip():
            changes[name] = str(value).strip()
    if "name" not in changes:
        first, last = traits.get("firstName"), traits.get("lastName")
        parts = [str(p).strip() for p in (last, first) if isinstance(p, str) and p.strip()]
        if parts:
            joined = "".join(parts) if any(ord(ch) > 0x2E80 for p in parts for ch in p) \
                else " ".join(reversed(parts))
            changes["name"] = joined
    if not skip_contacts:
        if isinstance(traits.get("email"), str) and traits["email"].strip():
            changes["email"] = traits["email"].strip()
        phone = traits.get("phone") or traits.get("mobile")
        if isinstance(phone, str) and phone.strip():
            changes["mobile"] = phone.strip()
    address = traits.get("address")
    if isinstance(address, dict):
        parts = {"province": address.get("state") or address.get("province") or "",
                 "city": address.get("city") or "",
                 "district": address.get("district") or "",
                 "detail": address.get("street") or address.get("detail") or "",
                 "postal_code": address.get("postalCode") or address.get("postal_code") or ""}
        if any(str(v).strip() for v in parts.values()):
            changes["address"] = {k: str(v) for k, v in parts.items()}
    elif isinstance(address, str) and address.strip():
        changes["address"] = address.strip()
    return changes


def _stitch_all(actor: Actor, customer: Customer, keys: set[str], user_id: str | None,
                reason: str, now: dt.datetime) -> int:
    visitors = Visitor.objects.filter(key__in=keys, customer__isnull=True)
    if user_id:
        visitors = visitors | Visitor.objects.filter(user_id=user_id, customer__isnull=True)
    count = 0
    for visitor in visitors.distinct():
        visitor_stitch(actor=actor, visitor=visitor, customer=customer, reason=reason)
        count += 1
    return count


def _identify(actor: Actor, clean: dict[str, Any], outcome: IngestOutcome,
              now: dt.datetime) -> None:
    """Find or create the customer of an identify, update its traits through the customer
    services, and stitch the visitors it names. Two customers the identify would join become a
    duplicate-review candidate; nothing is merged."""
    traits = clean["raw"].get("traits") or {}
    user_id, anonymous_id = clean["userId"], clean["anonymousId"]
    wechat = clean.get("wechat") or []
    keys = {f"a:{anonymous_id}"} if anonymous_id else set()
    if not user_id and not wechat:
        # Anonymous traits: used only once the visitor is linked to a customer.
        visitor = Visitor.objects.filter(key=f"a:{anonymous_id}").first()
        if visitor is None or visitor.customer_id is None:
            return
        customer = Customer.objects.get(pk=visitor.customer_id)
        changes = _trait_changes(traits, skip_contacts=True)
        if changes:
            customer_update(actor=actor, customer=customer, expected_version=None,
                            changes=changes)
        return
    if user_id:
        keys.add(f"u:{user_id}")
    owner = _customers_by_user_id(actor, {user_id}).get(user_id) if user_id else None
    held = _strong_matches(actor, traits)
    held.update(_wechat_matches(actor, wechat))
    strong = set().union(*held.values()) if held else set()
    others = strong - {owner} if owner else strong
    conflicting = bool(others) and (owner is not None or len(others) > 1)
    if conflicting:
        members = sorted(({owner} if owner else set()) | others)
        pairs = [(members[0], other) for other in members[1:]]
        candidates_queue_pairs(actor=actor, pairs=pairs)
        outcome.review.append({"index": clean["index"], "messageId": clean["messageId"],
                               "customers": members})
    if owner is None and len(strong) == 1:
        owner = next(iter(strong))
        if user_id:
            identifier_add(actor=actor, customer=Customer.objects.get(pk=owner),
                           kind=Identifier.EXTERNAL, system=APP_SYSTEM, value=user_id,
                           source="ingest")
    elif owner is None and conflicting:
        # Which of several customers this user is, a person decides: keep the visitor.
        if user_id:
            Visitor.objects.filter(key=f"u:{user_id}").update(user_id=user_id)
        return
    changes = _trait_changes(traits, skip_contacts=conflicting)
    if owner is None:
        name = changes.pop("name", None) or changes.get("email") or changes.get("mobile") \
            or user_id or _("WeChat user %s") % wechat[0][1][-6:]
        contacts = {k: changes.pop(k) for k in ("email", "mobile") if k in changes}
        customer = customer_create(actor=actor, name=name, source="ingest",
                                   **contacts, **changes)
        if user_id:
            identifier_add(actor=actor, customer=customer, kind=Identifier.EXTERNAL,
                           system=APP_SYSTEM, value=user_id, source="ingest")
    else:
        customer = Customer.objects.get(pk=owner)
        for change, holders in held.items():
            if owner in holders:  # the customer has it already
                changes.pop(change, None)
        if changes:
            customer_update(actor=actor, customer=customer, expected_version=None,
                            changes=changes)
    for system, value in wechat:  # the WeChat ids no customer holds yet join the card
        if not held.get(system):
            identifier_add(actor=actor, customer=customer, kind=Identifier.EXTERNAL,
                           system=system, value=value, source="ingest")
    _stitch_all(actor, customer, keys, user_id, Stitch.IDENTIFY, now)


def _alias(actor: Actor, clean: dict[str, Any], now: dt.datetime) -> None:
    """previousId (an anonymous id or an older user id) is the same person as userId: its
    visitor is stitched to userId's customer, or remembered until userId is identified."""
    previous, user_id = clean["previousId"], clean["userId"]
    keys = {f"a:{previous}", f"u:{previous}"}
    owner = _customers_by_user_id(actor, {user_id}).get(user_id)
    if owner is None:
        _visitors({f"a:{previous}"}, now)
        Visitor.objects.filter(key__in=keys, customer__isnull=True).update(user_id=user_id)
        return
    _stitch_all(actor, Customer.objects.get(pk=owner), keys, None, Stitch.ALIAS, now)


# The entry point -------------------------------------------------------------------------


def _seen(source: str, message_ids: list[str]) -> set[str]:
    seen: set[str] = set()
    for start in range(0, len(message_ids), 500):
        seen |= set(IngestMessage.objects.filter(
            source=source, message_id__in=message_ids[start:start + 500])
            .values_list("message_id", flat=True))
    return seen


def events_ingest(*, actor: Actor, source: str, items: list[Any]) -> IngestOutcome:
    """Ingest Segment-shaped calls (each with its `type`). Identify and alias calls run first,
    each on its own (a failing one is reported and changes nothing: a savepoint); then the
    events of known customers go through event_ingest and the others to their visitors, all
    in one transaction, with every accepted messageId remembered for `source`."""
    actor.require("interaction.add")
    now = timezone.now()
    outcome = IngestOutcome()
    cleaned: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        clean, error = _check(index, item, now)
        if error:
            outcome.errors.append(error)
        else:
            cleaned.append(clean)
    ids = [c["messageId"] for c in cleaned if c["messageId"]]
    seen = _seen(source, ids) if ids else set()
    fresh: list[dict[str, Any]] = []
    for clean in cleaned:
        message_id = clean["messageId"]
        if message_id and message_id in seen:
            outcome.duplicates += 1
            outcome.accepted += 1
            continue
        if message_id:
            seen.add(message_id)
        fresh.append(clean)
    with transaction.atomic():  # one commit per call; each identify or alias a savepoint
        _write(actor, source, fresh, outcome, now)
    outcome.errors.sort(key=lambda e: e["index"])
    return outcome


def _write(actor: Actor, source: str, fresh: list[dict[str, Any]], outcome: IngestOutcome,
           now: dt.datetime) -> None:
    remembered: list[str] = []
    events: list[dict[str, Any]] = []
    for clean in fresh:
        if clean["type"] not in ("identify", "alias"):
            events.append(clean)
            continue
        try:
            with transaction.atomic():
                if clean["type"] == "identify":
                    _identify(actor, clean, outcome, now)
                else:
                    _alias(actor, clean, now)
                if clean["messageId"]:
                    IngestMessage.objects.create(source=source, message_id=clean["messageId"],
                                                 received_at=now)
        except StitchLimit as exc:
            outcome.errors.append(_error(clean["index"], clean["raw"], exc.code, exc.message))
        except DomainError as exc:
            detail = "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in
                               exc.details.items()) if isinstance(exc.details, dict) else ""
            outcome.errors.append(_error(clean["index"], clean["raw"], exc.code,
                                         f"{exc.message} {detail}".strip()))
        else:
            outcome.accepted += 1
    if events:
        _store_events(actor, source, events, outcome, now, remembered)


def _store_events(actor: Actor, source: str, events: list[dict[str, Any]],
                  outcome: IngestOutcome, now: dt.datetime, remembered: list[str]) -> None:
    owners = _customers_by_user_id(actor, {c["userId"] for c in events if c["userId"]})
    keys = set()
    for clean in events:
        if clean["userId"] and clean["userId"] not in owners:
            keys.add(f"u:{clean['userId']}")
        elif not clean["userId"]:
            keys.add(f"a:{clean['anonymousId']}")
    with transaction.atomic():
        visitors = _visitors(keys, now)
        to_customers: list[dict[str, Any]] = []
        to_customer_items: list[dict[str, Any]] = []
        visitor_rows: list[list[Any]] = []
        for clean in events:
            customer_id = owners.get(clean["userId"]) if clean["userId"] else None
            visitor = None
            if customer_id is None:
                key = f"u:{clean['userId']}" if clean["userId"] else f"a:{clean['anonymousId']}"
                visitor = visitors[key]
                customer_id = visitor.customer_id
            # Serialised once, here: stored as this text (no second encoding on insert).
            row = {"event_type": event_type_of(clean["raw"]), "occurred_at": clean["occurred_at"],
                   "properties": JSONText(_DUMPS(_properties(clean))), "source": "ingest"}
            if customer_id is not None:
                to_customers.append({"customer_id": customer_id, **row})
                to_customer_items.append(clean)
            else:
                visitor_rows.append([visitor.pk, row["event_type"], row["occurred_at"],
                                     row["properties"], row["source"], now])
        stored: list[dict[str, Any]] = []
        if to_customers:
            result = event_ingest(actor=actor, events=to_customers, skip_invalid=True)
            bad = {r["index"]: r["errors"] for r in result.rejected}
            for position, clean in enumerate(to_customer_items):
                if position in bad:
                    outcome.errors.append(_error(
                        clean["index"], clean["raw"], "invalid",
                        "; ".join(f"{k}: {' '.join(map(str, v))}"
                                  for k, v in bad[position].items())))
                else:
                    stored.append(clean)
        if visitor_rows:
            insert_rows(VisitorEvent, ("visitor_id", "event_type", "occurred_at", "properties",
                                       "source", "received_at"), visitor_rows)
            touched = {row[0] for row in visitor_rows}
            Visitor.objects.filter(pk__in=touched).update(last_seen=now)
            record_change(actor=actor, action="visitor.ingest", event="visitor.events_ingested",
                          object_type="visitor", object_repr=_("%d visitor events")
                          % len(visitor_rows),
                          changes={"count": len(visitor_rows), "visitors": len(touched)})
        routed = {id(c) for c in to_customer_items}
        stored_items = stored + [c for c in events if id(c) not in routed]
        message_ids = [c["messageId"] for c in stored_items if c["messageId"]]
        if message_ids:
            insert_rows(IngestMessage, ("source", "message_id", "received_at"),
                        [[source, m, now] for m in message_ids])
        remembered.extend(message_ids)
        outcome.accepted += len(stored_items)
