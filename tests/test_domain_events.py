"""Every service that changes data emits its domain event, with the before/after it changed.

`SERVICES` names each one (module.function) with a case that runs it; a scan of the source
finds every function that emits (record_change, record_changes_many, emit_many,
record_card_change) and every service-module function that writes without emitting, so a new
service that is not listed here — or that writes without an event — fails this test.
"""

from __future__ import annotations

import ast
import csv
import datetime as dt
import io
from collections.abc import Callable
from pathlib import Path

import pytest
from django.utils import timezone

from kehu.core.actor import Actor
from kehu.core.events import EVENT_TYPES
from kehu.core.models import DomainEvent

ROOT = Path(__file__).resolve().parents[1] / "src" / "kehu"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "events.md"
EMITTERS = {"record_change", "record_changes_many", "emit_many", "record_card_change"}
WRITES = {"save", "create", "delete", "update", "bulk_create", "bulk_update", "insert_rows",
          "update_rows", "get_or_create", "update_or_create", "_insert", "_upsert"}

# Functions that write without an event of their own, and why.
EXEMPT = {
    "kehu.accounts.services.apikey_authenticate": "stamps a key's last use (bookkeeping)",
    "kehu.customers.services._common.snapshot": "reads (dict.update)",
    "kehu.customers.services.activity.customer_touch_activity":
        "derived column moved by the calling service, whose event carries the change",
    "kehu.customers.services.activity.customers_touch_activity":
        "derived column moved by the calling bulk service, whose events carry the change",
    "kehu.customers.services.identity.save_identifier":
        "helper of the card services, which emit customer.field_changed",
    "kehu.identity.scan.dedup_scan_run":
        "the scan job's progress; each candidate it finds emits duplicate.found",
    "kehu.interchange.services.import_job_create": "job bookkeeping (the job system's)",
    "kehu.interchange.services.import_job_cancel": "job bookkeeping (the job system's)",
    "kehu.interchange.services.import_job_configure": "job bookkeeping (the job system's)",
    "kehu.interchange.services.import_job_interrupted": "job bookkeeping (the job system's)",
    "kehu.identity.scan.dedup_scan_interrupted": "job bookkeeping (the job system's)",
    "kehu.interchange.services.upload_discard": "deletes a finished job's upload file (bookkeeping)",
    "kehu.customers.services.bulk._ChunkWriter.row":
        "plans one row in memory; the chunk's flush writes it with its events",
    "kehu.scoring.services.scoring_settings_get": "creates the defaults row on first read",
    "kehu.integration.services.webhook_deliveries_enqueue":
        "a subscriber: queues the calls for an event that is already recorded (delivery log)",
    "kehu.notifications.services.notification_mark_read":
        "a recipient's read marks on their own notifications (bookkeeping)",
}
# Audited reads: they change nothing, so they have no event.
READ_ONLY_AUDITS = {
    "kehu.core.views.audit_export", "kehu.customers.services.customers.customer_reveal_id_number",
    "kehu.interchange.export.customers_export", "kehu.interchange.export.segment_members_export",
    "kehu.customers.services.lookups.customer_sensitive_lookup",  # and its rate-limit alert
}
# The events machinery itself.
OWN = {"kehu.core.events.record_change", "kehu.core.events.delivery_replay"}


def _calls(node: ast.AST) -> set[str]:
    out = set()
    for item in ast.walk(node):
        if isinstance(item, ast.Call):
            func = item.func
            if isinstance(func, ast.Name):
                out.add(func.id)
            elif isinstance(func, ast.Attribute):
                out.add(func.attr)
    return out


def scan_source() -> tuple[set[str], set[str], set[str]]:
    """(functions that emit, service functions that write without emitting, functions that
    call audit_record directly), as module.function (module.Class.method for methods).
    Private module helpers count for the public functions calling them."""
    emitting, silent, audit_only = set(), set(), set()
    for path in sorted(ROOT.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        module = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        functions: dict[str, set[str]] = {}
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                functions[node.name] = _calls(node)
            elif isinstance(node, ast.ClassDef):
                for method in node.body:
                    if isinstance(method, ast.FunctionDef):
                        functions[f"{node.name}.{method.name}"] = _calls(method)

        def reach(name: str, seen: set[str], functions=functions) -> set[str]:
            found = set(functions.get(name, ()))
            for callee in list(found):
                if callee.startswith("_") and callee in functions and callee not in seen:
                    seen.add(callee)
                    found |= reach(callee, seen)
            return found

        is_service = "services" in module or module.endswith(".scan")
        for name in functions:
            if name.rsplit(".", 1)[-1].startswith("_"):
                continue
            calls = reach(name, {name})
            qualified = f"{module}.{name}"
            if calls & EMITTERS:
                emitting.add(qualified)
            elif is_service and calls & WRITES:
                silent.add(qualified)
            if "audit_record" in calls and not calls & EMITTERS:
                audit_only.add(qualified)
    return emitting, silent, audit_only


# The cases ----------------------------------------------------------------------------------

SERVICES: dict[str, tuple[str, Callable]] = {}


def case(service: str, event: str):
    def register(run: Callable):
        SERVICES[service] = (event, run)
        return run

    return register


class Ctx:
    """What the cases share: an administrator acting, and quick ways to make rows."""

    def __init__(self, admin, tmp_path: Path):
        self.user = admin
        self.actor = Actor(user=admin)
        self.tmp = tmp_path

    def customer(self, name="王芳", **fields):
        from kehu.customers.services import customer_create

        return customer_create(actor=self.actor, name=name, **fields)

    def product(self, sku="CUP-1"):
        from kehu.transactions.services import product_create

        return product_create(actor=self.actor, sku=sku, name="保温杯", unit_price="99.00")

    def order(self, customer=None):
        from kehu.transactions.services import order_create

        return order_create(actor=self.actor, customer=customer or self.customer(),
                            lines=[{"product": self.product(), "quantity": 1}])

    def ticket(self, customer=None):
        from kehu.transactions.services import ticket_open

        return ticket_open(actor=self.actor, customer=customer or self.customer(),
                           kind="service_request", subject="打印机卡纸")

    def csv(self, name: str, header: list[str], rows: list[list[str]]) -> Path:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        writer.writerows(rows)
        path = self.tmp / name
        path.write_text(buffer.getvalue(), encoding="utf-8")
        return path

    def run_import(self, path: Path, kind: str = "customers"):
        from kehu.interchange.services import import_job_create, import_job_run

        job = import_job_create(actor=self.actor, file=path, filename=path.name, kind=kind)
        return import_job_run(job_id=job.pk, actor=self.actor)


# Customers

@case("kehu.customers.services.customers.customer_create", "customer.created")
def _customer_create(c):
    c.customer(name="王芳", gender="female")
    return {"name": (None, "王芳"), "gender": (None, "female")}


@case("kehu.customers.services.customers.customer_update", "customer.field_changed")
def _customer_update(c):
    from kehu.customers.services import customer_update

    customer = c.customer(name="王芳")
    mark = c.mark()
    customer_update(actor=c.actor, customer=customer, expected_version=customer.version,
                    changes={"name": "王芳芳", "mobile": "13812345678"})
    return mark, {"name": ("王芳", "王芳芳"),
                  "mobile": {"ref": "customer.mobile", "cleared": False}}


@case("kehu.customers.services.customers.customer_delete", "customer.deleted")
def _customer_delete(c):
    from kehu.customers.services import customer_delete

    customer = c.customer()
    mark = c.mark()
    customer_delete(actor=c.actor, customer=customer)
    return mark, {"status": ("active", "deleted")}


@case("kehu.customers.services.customers.record_card_change", "customer.field_changed")
def _record_card_change(c):
    from kehu.customers.services._common import snapshot
    from kehu.customers.services.customers import record_card_change

    customer = c.customer()
    mark = c.mark()
    before = snapshot(customer)
    record_card_change(actor=c.actor, customer=customer, action="customer.contact_save",
                       before=before, extra={"contact": {"before": None, "after": "#1 李雷"}})
    return mark, {"contact": (None, "#1 李雷")}


@case("kehu.customers.services.cards.identifier_add", "customer.field_changed")
def _identifier_add(c):
    from kehu.customers.services import identifier_add

    customer = c.customer()
    mark = c.mark()
    identifier_add(actor=c.actor, customer=customer, kind="email", value="Wang@Example.com")
    return mark, {"email": {"ref": "customer.email", "cleared": False},
                  "identifier.email": {"ref": "customer.email", "cleared": False}}


@case("kehu.customers.services.cards.identifier_remove", "customer.field_changed")
def _identifier_remove(c):
    from kehu.customers.services import identifier_remove

    customer = c.customer(mobile="13812345678")
    mark = c.mark()
    identifier_remove(actor=c.actor, identifier=customer.identifiers.get())
    return mark, {"mobile": {"ref": "customer.mobile", "cleared": True}}


@case("kehu.customers.services.cards.identifier_set_primary", "customer.field_changed")
def _identifier_set_primary(c):
    from kehu.customers.services import identifier_add, identifier_set_primary

    customer = c.customer(mobile="13812345678")
    second = identifier_add(actor=c.actor, customer=customer, kind="phone", value="13912345678")
    mark = c.mark()
    identifier_set_primary(actor=c.actor, identifier=second)
    return mark, {"mobile": {"ref": "customer.mobile", "cleared": False}}


@case("kehu.customers.services.cards.address_set", "customer.field_changed")
def _address_set(c):
    from kehu.customers.services import address_set

    customer = c.customer()
    mark = c.mark()
    address_set(actor=c.actor, customer=customer, raw="上海市浦东新区世纪大道100号")
    return mark, {"province": ("", "上海市"),
                  "address": {"ref": "customer.address", "cleared": False}}


@case("kehu.customers.services.cards.address_remove", "customer.field_changed")
def _address_remove(c):
    from kehu.customers.services import address_remove, address_set

    customer = c.customer()
    address = address_set(actor=c.actor, customer=customer, raw="上海市浦东新区世纪大道100号")
    mark = c.mark()
    address_remove(actor=c.actor, address=address)
    return mark, {"province": ("上海市", ""),
                  "address": {"ref": "customer.address", "cleared": True}}


@case("kehu.customers.services.cards.contact_link_save", "customer.field_changed")
def _contact_link_save(c):
    from kehu.customers.services import contact_link_save

    org = c.customer(name="长城公司", kind="organisation")
    person = c.customer(name="李雷")
    mark = c.mark()
    contact_link_save(actor=c.actor, organisation=org, person=person, job_title="经理")
    return mark, {"contact": (None, f"#{person.pk} 李雷 经理")}


@case("kehu.customers.services.cards.contact_link_remove", "customer.field_changed")
def _contact_link_remove(c):
    from kehu.customers.services import contact_link_remove, contact_link_save

    org = c.customer(name="长城公司", kind="organisation")
    person = c.customer(name="李雷")
    link = contact_link_save(actor=c.actor, organisation=org, person=person)
    mark = c.mark()
    contact_link_remove(actor=c.actor, link=link)
    return mark, {"contact": (f"#{person.pk} 李雷 ", None)}


@case("kehu.customers.services.cards.tag_add", "tag.added")
def _tag_add(c):
    from kehu.customers.services import tag_add

    customer = c.customer()
    mark = c.mark()
    tag_add(actor=c.actor, customer=customer, name="VIP")
    return mark, {"tag": (None, "VIP")}


@case("kehu.customers.services.cards.tag_remove", "tag.removed")
def _tag_remove(c):
    from kehu.customers.services import tag_add, tag_remove

    customer = c.customer()
    tag = tag_add(actor=c.actor, customer=customer, name="VIP")
    mark = c.mark()
    tag_remove(actor=c.actor, customer=customer, tag=tag)
    return mark, {"tag": ("VIP", None)}


@case("kehu.customers.services.cards.customers_assign_owner", "customer.field_changed")
def _customers_assign_owner(c):
    from kehu.customers.services import customers_assign_owner
    from tests.factories import UserFactory

    customer = c.customer()
    other = UserFactory(role_code="sales_rep", username="rep9")
    mark = c.mark()
    customers_assign_owner(actor=c.actor, customer_ids=[customer.pk], owner=other)
    return mark, {"owner": (c.user.username, "rep9")}


@case("kehu.customers.services.cards.customers_add_tag", "tag.added")
def _customers_add_tag(c):
    from kehu.customers.services import customers_add_tag

    customer = c.customer()
    mark = c.mark()
    customers_add_tag(actor=c.actor, customer_ids=[customer.pk], name="复购")
    return mark, {"tag": (None, "复购")}


@case("kehu.customers.services.cards.saved_view_save", "savedview.saved")
def _saved_view_save(c):
    from kehu.customers.services import saved_view_save

    saved_view_save(actor=c.actor, name="我的客户", params={"q": "王"})
    return {"name": (None, "我的客户")}


@case("kehu.customers.services.cards.saved_view_delete", "savedview.deleted")
def _saved_view_delete(c):
    from kehu.customers.services import saved_view_delete, saved_view_save

    view = saved_view_save(actor=c.actor, name="我的客户", params={"q": "王"})
    mark = c.mark()
    saved_view_delete(actor=c.actor, view=view)
    return mark, {}


@case("kehu.customers.services.custom_fields.custom_field_define", "customfield.created")
def _custom_field_define(c):
    from kehu.customers.services import custom_field_define

    custom_field_define(actor=c.actor, key="level", label="等级", field_type="choice",
                        choices=["A", "B"])
    return {"key": (None, "level")}


@case("kehu.customers.services.custom_fields.custom_field_update", "customfield.updated")
def _custom_field_update(c):
    from kehu.customers.services import custom_field_define, custom_field_update

    definition = custom_field_define(actor=c.actor, key="level", label="等级",
                                     field_type="text")
    mark = c.mark()
    custom_field_update(actor=c.actor, definition=definition, label="级别",
                        applies_to="both", required=False)
    return mark, {"label": ("等级", "级别")}


@case("kehu.customers.services.tag_groups.tag_group_save", "tag_group.created")
def _tag_group_save(c):
    from kehu.customers.services.tag_groups import tag_group_save

    tag_group_save(actor=c.actor, name="兴趣", color="#336699")
    return {"name": (None, "兴趣")}


@case("kehu.customers.services.tag_groups.tag_group_delete", "tag_group.deleted")
def _tag_group_delete(c):
    from kehu.customers.services.tag_groups import tag_group_delete, tag_group_save

    group = tag_group_save(actor=c.actor, name="兴趣", color="#336699")
    mark = c.mark()
    tag_group_delete(actor=c.actor, group=group)
    return mark, {"name": ("兴趣", None)}


@case("kehu.customers.services.tag_groups.tag_update", "tag.updated")
def _tag_update(c):
    from kehu.customers.services import tag_add
    from kehu.customers.services.tag_groups import tag_update

    tag = tag_add(actor=c.actor, customer=c.customer(), name="VIP")
    mark = c.mark()
    tag_update(actor=c.actor, tag=tag, group=None, color="#112233")
    return mark, {"color": (tag.color, "#112233")}


# Accounts

@case("kehu.accounts.services.roles_ensure_defaults", "role.created")
def _roles_ensure_defaults(c):
    from kehu.accounts.models import Role
    from kehu.accounts.services import roles_ensure_defaults

    Role.objects.filter(code="compliance_auditor").delete()
    mark = c.mark()
    roles_ensure_defaults(actor=c.actor)
    return mark, {}


@case("kehu.accounts.services.role_save", "role.updated")
def _role_save(c):
    from kehu.accounts.models import Role
    from kehu.accounts.services import role_save

    role = Role.objects.get(code="read_only")
    mark = c.mark()
    role_save(actor=c.actor, role=role, code=role.code, name="只读者",
              description=role.description, permissions=role.permissions,
              record_scope=role.record_scope, field_permissions=role.field_permissions)
    return mark, {"name": (role.name, "只读者")}


@case("kehu.accounts.services.team_save", "team.created")
def _team_save(c):
    from kehu.accounts.services import team_save

    team_save(actor=c.actor, name="华东")
    return {"name": (None, "华东")}


@case("kehu.accounts.services.user_create", "user.created")
def _user_create(c):
    from kehu.accounts.services import user_create

    user_create(actor=c.actor, username="lilei", password="pw-Kehu-2026!x", display_name="李雷")
    return {"username": (None, "lilei")}


@case("kehu.accounts.services.user_update", "user.updated")
def _user_update(c):
    from kehu.accounts.services import user_update
    from tests.factories import UserFactory

    user = UserFactory(role_code="sales_rep", display_name="李雷")
    mark = c.mark()
    user_update(actor=c.actor, user=user, display_name="李蕾", email=user.email, role=user.role,
                team=user.team, is_active=True)
    return mark, {"display_name": ("李雷", "李蕾")}


@case("kehu.accounts.services.user_set_password", "user.password_changed")
def _user_set_password(c):
    from kehu.accounts.services import user_set_password
    from tests.factories import UserFactory

    user = UserFactory(role_code="sales_rep")
    mark = c.mark()
    user_set_password(actor=c.actor, user=user, password="an-Other-pw-2026!")
    return mark, {}


@case("kehu.accounts.services.user_unlock", "user.unlocked")
def _user_unlock(c):
    from kehu.accounts.services import user_unlock
    from tests.factories import UserFactory

    user = UserFactory(role_code="sales_rep")
    mark = c.mark()
    user_unlock(actor=c.actor, user=user)
    return mark, {"failed_attempts_cleared": 0}


@case("kehu.accounts.services.apikey_create", "apikey.created")
def _apikey_create(c):
    from kehu.accounts.services import apikey_create

    apikey_create(actor=c.actor, user=c.user, scopes=["read"])
    return {"scopes": (None, ["read"])}


@case("kehu.accounts.services.apikey_revoke", "apikey.revoked")
def _apikey_revoke(c):
    from kehu.accounts.services import apikey_create, apikey_revoke

    key, _token = apikey_create(actor=c.actor, user=c.user, scopes=["read"])
    mark = c.mark()
    apikey_revoke(actor=c.actor, key=key)
    return mark, {}


# Orders, tickets, interactions

@case("kehu.transactions.services.product_create", "product.created")
def _product_create(c):
    c.product("TEA-2")
    return {"sku": (None, "TEA-2"), "unit_price": (None, "99.00")}


@case("kehu.transactions.services.product_update", "product.updated")
def _product_update(c):
    from kehu.transactions.services import product_update

    product = c.product()
    mark = c.mark()
    product_update(actor=c.actor, product=product, sku="CUP-1", name="保温杯",
                   unit_price="89.00")
    return mark, {"unit_price": ("99.00", "89.00")}


@case("kehu.transactions.services.order_create", "order.created")
def _order_create(c):
    customer = c.customer()
    product = c.product()
    mark = c.mark()
    from kehu.transactions.services import order_create

    order_create(actor=c.actor, customer=customer, lines=[{"product": product, "quantity": 2}])
    return mark, {"status": (None, "pending"), "total_amount": (None, "198.00"),
                  "customer": (None, customer.pk)}


@case("kehu.transactions.services.order_update_status", "order.status_changed")
def _order_update_status(c):
    from kehu.transactions.services import order_update_status

    order = c.order()
    mark = c.mark()
    order_update_status(actor=c.actor, order=order, status="paid")
    return mark, {"status": ("pending", "paid")}


@case("kehu.transactions.services.ticket_open", "ticket.opened")
def _ticket_open(c):
    c.ticket()
    return {"subject": (None, "打印机卡纸"), "status": (None, "open")}


@case("kehu.transactions.services.ticket_update", "ticket.closed")
def _ticket_update(c):
    from kehu.transactions.services import ticket_update

    ticket = c.ticket()
    mark = c.mark()
    ticket_update(actor=c.actor, ticket=ticket, status="resolved", priority="normal",
                  assignee=c.user, resolution="换了搓纸轮")
    return mark, {"status": ("open", "resolved"), "resolution": ("", "换了搓纸轮")}


@case("kehu.transactions.services.ticket_rate", "ticket.rated")
def _ticket_rate(c):
    from kehu.transactions.services import ticket_rate, ticket_update

    ticket = c.ticket()
    ticket = ticket_update(actor=c.actor, ticket=ticket, status="resolved", priority="normal",
                           assignee=c.user, resolution="好了")
    mark = c.mark()
    ticket_rate(actor=c.actor, ticket=ticket, satisfaction=5)
    return mark, {"satisfaction": (None, 5)}


@case("kehu.interactions.services.interaction_log", "interaction.logged")
def _interaction_log(c):
    from kehu.interactions.services import interaction_log

    customer = c.customer()
    mark = c.mark()
    interaction_log(actor=c.actor, customer=customer, kind="call", summary="询问保修")
    return mark, {"summary": (None, "询问保修"), "kind": (None, "call")}


@case("kehu.interactions.services.follow_up_create", "followup.created")
def _follow_up_create(c):
    from kehu.interactions.services import follow_up_create

    customer = c.customer()
    mark = c.mark()
    follow_up_create(actor=c.actor, customer=customer, title="回访",
                     due_date=timezone.localdate())
    return mark, {"title": (None, "回访"), "status": (None, "open")}


def _task(c):
    from kehu.interactions.services import follow_up_create

    return follow_up_create(actor=c.actor, customer=c.customer(), title="回访",
                            due_date=timezone.localdate())


@case("kehu.interactions.services.follow_up_complete", "followup.completed")
def _follow_up_complete(c):
    from kehu.interactions.services import follow_up_complete

    task = _task(c)
    mark = c.mark()
    follow_up_complete(actor=c.actor, task=task)
    return mark, {"status": ("open", "done")}


@case("kehu.interactions.services.follow_up_reschedule", "followup.rescheduled")
def _follow_up_reschedule(c):
    from kehu.interactions.services import follow_up_reschedule

    task = _task(c)
    later = timezone.localdate() + dt.timedelta(days=3)
    mark = c.mark()
    follow_up_reschedule(actor=c.actor, task=task, due_date=later)
    return mark, {"due_date": (timezone.localdate().isoformat(), later.isoformat())}


@case("kehu.interactions.services.follow_up_cancel", "followup.cancelled")
def _follow_up_cancel(c):
    from kehu.interactions.services import follow_up_cancel

    task = _task(c)
    mark = c.mark()
    follow_up_cancel(actor=c.actor, task=task)
    return mark, {"status": ("open", "cancelled")}


@case("kehu.interactions.services.follow_up_snooze", "followup.snoozed")
def _follow_up_snooze(c):
    from kehu.interactions.services import follow_up_snooze

    task = _task(c)
    later = timezone.localdate() + dt.timedelta(days=3)
    mark = c.mark()
    follow_up_snooze(actor=c.actor, task=task, days=3)
    return mark, {"due_date": (timezone.localdate().isoformat(), later.isoformat())}


@case("kehu.interactions.services.follow_up_reassign", "followup.reassigned")
def _follow_up_reassign(c):
    from kehu.interactions.services import follow_up_reassign
    from tests.factories import UserFactory

    task = _task(c)
    other = UserFactory(role_code="sales_rep")
    mark = c.mark()
    follow_up_reassign(actor=c.actor, task=task, assignee=other)
    return mark, {"assignee": (task.assignee_id, other.pk)}


@case("kehu.notifications.services.outbound_retry", "message.requeued")
def _outbound_retry(c):
    from kehu.notifications.models import OutboundMessage
    from kehu.notifications.services import outbound_retry

    message = OutboundMessage.objects.create(channel="email", to=["a@example.com"],
                                             subject="x", text="y", status="failed",
                                             attempts=5)
    mark = c.mark()
    outbound_retry(actor=c.actor, message_id=message.pk)
    return mark, {"status": ("failed", "queued")}


@case("kehu.notifications.services.outbound_messages_redact", "message.redacted")
def _outbound_messages_redact(c):
    from kehu.notifications.models import OutboundMessage
    from kehu.notifications.services import outbound_messages_redact

    customer = c.customer()
    OutboundMessage.objects.create(channel="sms", to=["+8613812345678"], text="生日快乐",
                                   status="sent", customer_id=customer.pk)
    mark = c.mark()
    outbound_messages_redact(actor=c.actor, customer_id=customer.pk)
    return mark, {"messages": 1}


@case("kehu.notifications.services.notification_send", "notification.sent")
def _notification_send(c):
    from kehu.notifications.services import notification_send

    mark = c.mark()
    notification_send(actor=c.actor, recipients=[c.user], kind="test", title="提醒")
    return mark, {"recipient": (None, c.user.pk), "title": (None, "提醒")}


@case("kehu.interactions.services.event_ingest", "event.ingested")
def _event_ingest(c):
    from kehu.interactions.services import event_ingest

    customer = c.customer()
    mark = c.mark()
    event_ingest(actor=c.actor, events=[{
        "customer_id": customer.pk, "event_type": "page_view", "source": "web",
        "occurred_at": "2024-03-01T10:00:00+08:00", "properties": {"email": "x@y.cn"}}])
    return mark, {"event_type": (None, "page_view"), "source": (None, "web")}


# Bulk writers (imports)

INTERACTIONS = ["客户手机", "互动类型", "方向", "渠道", "时间", "内容", "结果"]
ORDERS = ["订单号", "客户手机", "商品编码", "商品名称", "数量", "单价", "实付金额", "下单时间",
          "订单状态", "支付方式"]


@case("kehu.interactions.services.interactions_log_many", "interaction.logged")
def _interactions_log_many(c):
    c.customer(mobile="13812345678")
    path = c.csv("i.csv", INTERACTIONS, [
        ["13812345678", "电话", "呼入", "400热线", "2024-03-05 14:30", "询问保修", "已解答"]])
    mark = c.mark()
    c.run_import(path, "interactions")
    return mark, {"summary": (None, "询问保修")}


@case("kehu.transactions.services.orders_record_many", "order.created")
def _orders_record_many(c):
    c.customer(mobile="13812345678")
    c.product()
    path = c.csv("o.csv", ORDERS, [["SO-9", "13812345678", "CUP-1", "保温杯", "1", "99", "99",
                                    "2024-03-05 10:00", "已付款", "微信"]])
    mark = c.mark()
    c.run_import(path, "orders")
    return mark, {"number": (None, "SO-9"), "status": (None, "paid")}


@case("kehu.customers.services.bulk._ChunkWriter.flush", "customer.created")
def _bulk_flush(c):
    path = c.csv("c.csv", ["客户名称", "手机"], [["赵敏", "13712345678"]])
    mark = c.mark()
    c.run_import(path)
    return mark, {"name": (None, "赵敏"), "mobile": {"ref": "customer.mobile", "cleared": False}}


@case("kehu.interchange.services.import_job_run", "import.finished")
def _import_job_run(c):
    path = c.csv("c.csv", ["客户名称"], [["赵敏"], ["周芷若"]])
    mark = c.mark()
    c.run_import(path)
    return mark, {"status": ("running", "done")}


@case("kehu.interchange.setup.import_template_save", "import_template.saved")
def _import_template_save(c):
    from kehu.interchange.setup import import_template_save

    import_template_save(actor=c.actor, name="客户表", kind="customers",
                         headers=["客户名称"], mapping={0: "name"})
    return {"columns": (None, {"客户名称": "name"})}


@case("kehu.interchange.setup.import_template_delete", "import_template.deleted")
def _import_template_delete(c):
    from kehu.interchange.setup import import_template_delete, import_template_save

    template = import_template_save(actor=c.actor, name="客户表", kind="customers",
                                    headers=["客户名称"], mapping={0: "name"})
    mark = c.mark()
    import_template_delete(actor=c.actor, template_id=template.pk)
    return mark, {"columns": ({"客户名称": "name"}, None)}


# Identity

@case("kehu.identity.services.customer_merge", "customer.merged")
def _customer_merge(c):
    from kehu.identity.services import customer_merge

    survivor, other = c.customer(name="王芳"), c.customer(name="王芳", mobile="13812345678")
    mark = c.mark()
    customer_merge(actor=c.actor, survivor_id=survivor.pk, other_ids=[other.pk])
    return mark, {"merged": (None, [{"id": other.pk, "name": "王芳"}])}


@case("kehu.identity.services.customer_unmerge", "customer.unmerged")
def _customer_unmerge(c):
    from kehu.identity.services import customer_merge, customer_unmerge

    survivor, other = c.customer(name="王芳"), c.customer(name="王芳")
    merge = customer_merge(actor=c.actor, survivor_id=survivor.pk, other_ids=[other.pk])
    mark = c.mark()
    customer_unmerge(actor=c.actor, merge_id=merge.pk)
    return mark, {"restored": (None, [{"id": other.pk, "name": "王芳"}])}


@case("kehu.identity.services.candidate_dismiss", "duplicate.dismissed")
def _candidate_dismiss(c):
    from kehu.identity.models import DuplicateCandidate
    from kehu.identity.services import candidate_dismiss

    a, b = c.customer(name="王芳"), c.customer(name="王芳")
    candidate = DuplicateCandidate.objects.create(key=f"{a.pk}-{b.pk}", probability=0.97)
    for customer in (a, b):
        candidate.members.create(customer=customer)
    mark = c.mark()
    candidate_dismiss(actor=c.actor, candidate=candidate)
    return mark, {"customers": [a.pk, b.pk], "probability": 0.97}


@case("kehu.identity.services.survivorship_rules_set", "survivorship.changed")
def _survivorship_rules_set(c):
    from kehu.identity import survivorship
    from kehu.identity.services import survivorship_rules_set

    survivorship_rules_set(actor=c.actor, rules={"name": survivorship.MOST_RECENT})
    return {"rule": (survivorship.AGREEMENT, survivorship.MOST_RECENT)}


@case("kehu.identity.scan.dedup_scan_create", "duplicate.scan_requested")
def _dedup_scan_create(c):
    from kehu.identity.scan import dedup_scan_create

    dedup_scan_create(actor=c.actor, threshold=0.9)
    return {"threshold": 0.9, "filters": {}}


@case("kehu.identity.scan.candidates_queue_pairs", "duplicate.found")
def _candidates_queue_pairs(c):
    from kehu.identity.scan import candidates_queue_pairs

    a, b = c.customer(name="李寻欢"), c.customer(name="张伟")
    mark = c.mark()
    candidates_queue_pairs(actor=c.actor, pairs=[(b.pk, a.pk)])
    return mark, {"customers": (None, [a.pk, b.pk]), "found_by": "import"}


@case("kehu.identity.scan.candidate_record", "duplicate.found")
def _candidate_record(c):
    from kehu.identity.scan import candidate_record
    from kehu.matching import MatchPair

    a, b = c.customer(name="王芳"), c.customer(name="王芳")
    mark = c.mark()
    candidate_record(members=[a.pk, b.pk], pairs=[MatchPair(a.pk, b.pk, 0.96, [])], found_by="scan")
    return mark, {"customers": (None, [a.pk, b.pk])}


# Value, quality, segments

@case("kehu.scoring.services.scoring_settings_update", "scoring.settings_changed")
def _scoring_settings_update(c):
    from kehu.scoring.services import scoring_settings_update

    scoring_settings_update(actor=c.actor, changes={"window_days": 180})
    return {"window_days": (365, 180)}


@case("kehu.scoring.services.lifecycle_set", "lifecycle.changed")
def _lifecycle_set(c):
    from kehu.scoring.services import lifecycle_set

    customer = c.customer()
    mark = c.mark()
    lifecycle_set(actor=c.actor, customer=customer, stage="prospect")
    return mark, {"lifecycle_stage": ("lead", "prospect")}


@case("kehu.scoring.services.rfm_score", "value.tier_changed")
def _rfm_score(c):
    from kehu.scoring.services import rfm_score

    customer = c.customer()
    from kehu.transactions.services import order_update_status

    order_update_status(actor=c.actor, order=c.order(customer), status="paid")
    mark = c.mark()
    rfm_score(actor=c.actor)
    from kehu.scoring.models import CustomerValue

    tier = CustomerValue.objects.get(customer=customer).value_tier
    assert tier
    return mark, {"value_tier": (None, tier)}


@case("kehu.quality.services.field_rule_create", "fieldrule.created")
def _field_rule_create(c):
    from kehu.quality.services import field_rule_create

    field_rule_create(actor=c.actor, field="email", rule="required")
    return {"field": (None, "email"), "rule": (None, "required")}


@case("kehu.quality.services.field_rule_update", "fieldrule.updated")
def _field_rule_update(c):
    from kehu.quality.services import field_rule_create, field_rule_update

    rule = field_rule_create(actor=c.actor, field="email", rule="required")
    mark = c.mark()
    field_rule_update(actor=c.actor, rule=rule, is_active=False)
    return mark, {"is_active": (True, False)}


@case("kehu.quality.services.field_rule_delete", "fieldrule.deleted")
def _field_rule_delete(c):
    from kehu.quality.services import field_rule_create, field_rule_delete

    rule = field_rule_create(actor=c.actor, field="email", rule="required")
    mark = c.mark()
    field_rule_delete(actor=c.actor, rule=rule)
    return mark, {"field": ("email", None)}


@case("kehu.quality.services.quality_settings_update", "quality.settings_changed")
def _quality_settings_update(c):
    from kehu.quality.services import quality_settings_update

    quality_settings_update(actor=c.actor, stale_days=100)
    return {"stale_days": (180, 100)}


@case("kehu.quality.services.quality_recompute", "quality.recomputed")
def _quality_recompute(c):
    from kehu.quality.services import quality_recompute

    c.customer()
    mark = c.mark()
    quality_recompute(actor=c.actor)
    return mark, {}


@case("kehu.quality.services.quality_snapshot_take", "quality.snapshot_taken")
def _quality_snapshot_take(c):
    from kehu.quality.services import quality_snapshot_take

    quality_snapshot_take(actor=c.actor)
    return {}


@case("kehu.quality.services.quality_remind", "quality.reminders_created")
def _quality_remind(c):
    from kehu.quality.services import quality_remind

    quality_remind(actor=c.actor)
    return {"days": 180, "created": 0}


EAST = {"type": "group", "match": "all",
        "conditions": [{"type": "field", "field": "region", "op": "eq", "value": "华东"}]}


@case("kehu.segments.services.segment_create", "segment.created")
def _segment_create(c):
    from kehu.segments.services import segment_create

    segment_create(actor=c.actor, name="华东客户", definition=EAST, compute=False)
    return {"name": (None, "华东客户")}


@case("kehu.segments.services.segment_update", "segment.updated")
def _segment_update(c):
    from kehu.segments.services import segment_create, segment_update

    segment = segment_create(actor=c.actor, name="华东客户", definition=EAST, compute=False)
    mark = c.mark()
    segment_update(actor=c.actor, segment=segment, name="东部客户", definition=EAST,
                   compute=False)
    return mark, {"name": ("华东客户", "东部客户")}


@case("kehu.segments.services.segment_delete", "segment.deleted")
def _segment_delete(c):
    from kehu.segments.services import segment_create, segment_delete

    segment = segment_create(actor=c.actor, name="华东客户", definition=EAST, compute=False)
    mark = c.mark()
    segment_delete(actor=c.actor, segment=segment)
    return mark, {"name": ("华东客户", None)}


@case("kehu.segments.services.segment_refresh", "segment.entered")
def _segment_refresh(c):
    from kehu.segments.services import segment_create, segment_refresh

    segment = segment_create(actor=c.actor, name="上海客户", definition=EAST, compute=False)
    c.customer(address="上海市浦东新区世纪大道100号")
    mark = c.mark()
    segment_refresh(actor=c.actor, segment=segment)
    return mark, {"segment": (None, {"id": segment.pk, "name": "上海客户"})}


# Outbound webhooks


def _webhook(c, url="https://example.com/hook"):
    from kehu.integration.services import webhook_create

    endpoint, _secret = webhook_create(actor=c.actor, url=url, event_types=["customer.*"],
                                       allow_private_network=True)
    return endpoint


@case("kehu.integration.services.webhook_create", "webhook.created")
def _webhook_create(c):
    from kehu.integration.services import webhook_create

    webhook_create(actor=c.actor, url="https://example.com/hook", event_types=["customer.*"])
    return {"url": "https://example.com/hook", "event_types": ["customer.*"]}


@case("kehu.integration.services.webhook_update", "webhook.updated")
def _webhook_update(c):
    from kehu.integration.services import webhook_update

    endpoint = _webhook(c)
    mark = c.mark()
    webhook_update(actor=c.actor, endpoint_id=endpoint.pk, event_types=["order.*"])
    return mark, {"event_types": (["customer.*"], ["order.*"])}


@case("kehu.integration.services.webhook_rotate_secret", "webhook.secret_rotated")
def _webhook_rotate(c):
    from kehu.integration.services import webhook_rotate_secret

    endpoint = _webhook(c)
    mark = c.mark()
    webhook_rotate_secret(actor=c.actor, endpoint_id=endpoint.pk)
    return mark, {}


@case("kehu.integration.services.webhook_delete", "webhook.deleted")
def _webhook_delete(c):
    from kehu.integration.services import webhook_delete

    endpoint = _webhook(c)
    mark = c.mark()
    webhook_delete(actor=c.actor, endpoint_id=endpoint.pk)
    return mark, {"url": "https://example.com/hook"}


def _gone_receiver():
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Gone(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers["content-length"]))
            self.send_response(410)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Gone)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@case("kehu.integration.services.webhook_attempt", "webhook.disabled")
def _webhook_attempt(c):
    from kehu.core.events import dispatch
    from kehu.integration.models import WebhookDelivery
    from kehu.integration.services import webhook_attempt

    server = _gone_receiver()
    try:
        _webhook(c, url=f"http://127.0.0.1:{server.server_port}/")
        c.customer()
        dispatch()
        mark = c.mark()
        webhook_attempt(delivery_id=WebhookDelivery.objects.get().pk)
    finally:
        server.shutdown()
        server.server_close()
    return mark, {"is_active": (True, False)}


@case("kehu.integration.services.webhooks_send_due", "webhook.disabled")
def _webhooks_send_due(c):
    from kehu.core.events import dispatch
    from kehu.integration.services import webhooks_send_due

    server = _gone_receiver()
    try:
        _webhook(c, url=f"http://127.0.0.1:{server.server_port}/")
        c.customer()
        dispatch()
        mark = c.mark()
        webhooks_send_due()
    finally:
        server.shutdown()
        server.server_close()
    return mark, {"is_active": (True, False)}


@case("kehu.integration.services.webhook_delivery_replay", "webhook.replayed")
def _webhook_replay(c):
    from kehu.core.events import dispatch
    from kehu.integration.models import WebhookDelivery
    from kehu.integration.services import webhook_delivery_replay

    _webhook(c)
    c.customer()
    dispatch()
    delivery = WebhookDelivery.objects.get()
    mark = c.mark()
    webhook_delivery_replay(actor=c.actor, delivery_id=delivery.pk)
    return mark, {"status": ("pending", "pending")}


# Event ingestion and stitching


@case("kehu.integration.ingest.events_ingest", "visitor.events_ingested")
def _events_ingest(c):
    from kehu.integration.ingest import events_ingest

    events_ingest(actor=c.actor, source="test", items=[
        {"type": "page", "anonymousId": "anon-1", "name": "Home"}])
    return {"count": 1, "visitors": 1}


def _visitor_with_event(c):
    from kehu.integration.ingest import events_ingest
    from kehu.integration.models import Visitor

    events_ingest(actor=c.actor, source="test", items=[
        {"type": "page", "anonymousId": "anon-2", "name": "Home"}])
    return Visitor.objects.get(key="a:anon-2")


@case("kehu.integration.stitching.visitor_stitch", "visitor.stitched")
def _visitor_stitch(c):
    from kehu.integration.stitching import visitor_stitch

    visitor, customer = _visitor_with_event(c), c.customer()
    mark = c.mark()
    visitor_stitch(actor=c.actor, visitor=visitor, customer=customer)
    return mark, {"customer": (None, customer.pk), "events": (None, 1)}


@case("kehu.integration.stitching.stitch_undo", "visitor.unstitched")
def _stitch_undo(c):
    from kehu.integration.stitching import stitch_undo, visitor_stitch

    visitor, customer = _visitor_with_event(c), c.customer()
    stitch = visitor_stitch(actor=c.actor, visitor=visitor, customer=customer)
    mark = c.mark()
    stitch_undo(actor=c.actor, stitch_id=stitch.pk)
    return mark, {"customer": (customer.pk, None), "events": (1, 0)}


# Command line

@case("kehu.cli.demo_customers.demo_customers_load", "demo.loaded")
def _demo_customers_load(c):
    from kehu.cli.demo_customers import demo_customers_load

    demo_customers_load(customers=3, seed=1, events_per_customer=1, chunk_size=3)
    return {"seed": 1, "events_per_customer": 1}


# The tests ----------------------------------------------------------------------------------


class Mark:
    def __init__(self):
        self.after = DomainEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0

    def events(self) -> list[DomainEvent]:
        return list(DomainEvent.objects.filter(id__gt=self.after).order_by("id"))


@pytest.fixture
def ctx(admin_user, tmp_path):
    context = Ctx(admin_user, tmp_path)
    context.mark = Mark
    return context


@pytest.mark.django_db
@pytest.mark.parametrize("service", sorted(SERVICES))
def test_service_emits_its_event_with_before_and_after(service, ctx):
    event_type, run = SERVICES[service]
    start = Mark()
    result = run(ctx)
    mark, expected = result if isinstance(result, tuple) else (start, result)
    emitted = [e for e in mark.events() if e.type == event_type]
    assert emitted, f"{service} emitted {[e.type for e in mark.events()]}"
    event = emitted[0]
    for name, change in expected.items():
        if isinstance(change, tuple):
            change = {"before": change[0], "after": change[1]}
        assert event.changes.get(name) == change, (name, event.changes)
    assert event.audit_seq is not None or event_type in {
        "lifecycle.changed", "value.tier_changed", "value.segment_changed", "import.finished",
        "duplicate.found"}
    if event.object_id and event.object_type in ("order", "ticket", "interaction", "followup",
                                                  "customer"):
        assert event.customer_id is not None


def test_every_service_that_changes_data_is_listed_and_emits():
    emitting, silent, audit_only = scan_source()
    assert emitting - OWN == set(SERVICES), (
        "services that emit but have no case here (add one), or cases for services that "
        f"no longer emit: {sorted((emitting - OWN) ^ set(SERVICES))}")
    assert silent <= set(EXEMPT), (
        f"services that write without an event: {sorted(silent - set(EXEMPT))}")
    assert audit_only - OWN == READ_ONLY_AUDITS, (
        "audit_record is for audited reads; changes go through record_change: "
        f"{sorted((audit_only - OWN) ^ READ_ONLY_AUDITS)}")


def test_every_event_type_is_documented():
    docs = DOCS.read_text(encoding="utf-8")
    assert {event for event, _run in SERVICES.values()} <= EVENT_TYPES
    missing = sorted(t for t in EVENT_TYPES if f"`{t}`" not in docs)
    assert not missing, f"not in docs/events.md: {missing}"
