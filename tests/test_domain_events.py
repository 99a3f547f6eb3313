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
from kehu.core.events import EVENT_TYPES, as_delivered
from kehu.core.models import DomainEvent

ROOT = Path(__file__).resolve().parents[1] / "src" / "kehu"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "events.md"
EMITTERS = {"record_change", "record_changes_many", "emit_many", "record_card_change"}
WRITES = {"save", "create", "delete", "update", "bulk_create", "bulk_update", "insert_rows",
          "update_rows", "get_or_create", "update_or_create", "_insert", "_upsert"}

# Functions that write without an event of their own, and why.
EXEMPT = {
    "kehu.service.services.sla.sla_recompute":
        "derived SLA clock rows rebuilt from the status history; the ticket or policy change "
        "that caused it carries the event",
    "kehu.accounts.services.apikey_authenticate": "stamps a key's last use (bookkeeping)",
    "kehu.privacy.services.consent_minor_refresh":
        "derived column (the under-14 date of a grant) recomputed from the "
        "customer.field_changed event that carries the change",
    "kehu.accounts.services.apikey_usage_flush": "a key's request counts (bookkeeping)",
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
    "kehu.insights.services.churn_settings_get": "creates the defaults row on first read",
    "kehu.insights.services.signal_rules_ensure":
        "creates the default rule row of each registered signal kind on first read",
    "kehu.assignment.services.book_transfer_create":
        "records the transfer (book_transfer_start emits) and links its job (bookkeeping)",
    "kehu.assignment.services.book_transfer_run":
        "moves customers and tasks through customers_assign_owner and follow_ups_reassign, "
        "which emit; the transfer row's progress is bookkeeping",
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
    "kehu.interchange.pipeline_export.deals_export",
    "kehu.interchange.pipeline_export.payments_export",
    "kehu.privacy.archive.customer_archive_write",
    "kehu.reports.services.report_export",
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


@case("kehu.transactions.ticket_services.ticket_open", "ticket.opened")
def _ticket_open(c):
    c.ticket()
    return {"subject": (None, "打印机卡纸"), "status": (None, "open")}


@case("kehu.transactions.ticket_services.ticket_update", "ticket.closed")
def _ticket_update(c):
    from kehu.transactions.services import ticket_update

    ticket = c.ticket()
    mark = c.mark()
    ticket_update(actor=c.actor, ticket=ticket, status="resolved", priority="normal",
                  assignee=c.user, resolution="换了搓纸轮")
    return mark, {"status": ("open", "resolved"), "resolution": ("", "换了搓纸轮")}


@case("kehu.transactions.ticket_services.ticket_rate", "ticket.rated")
def _ticket_rate(c):
    from kehu.transactions.services import ticket_rate, ticket_update

    ticket = c.ticket()
    ticket = ticket_update(actor=c.actor, ticket=ticket, status="resolved", priority="normal",
                           assignee=c.user, resolution="好了")
    mark = c.mark()
    ticket_rate(actor=c.actor, ticket=ticket, satisfaction=5, source="agent_phone")
    return mark, {"satisfaction": (None, 5), "satisfaction_source": ("", "agent_phone")}


@case("kehu.transactions.ticket_services.ticket_message_add", "ticket.replied")
def _ticket_message_add(c):
    from kehu.transactions.ticket_services import ticket_message_add

    ticket = c.ticket()
    mark = c.mark()
    ticket_message_add(actor=c.actor, ticket=ticket, kind="reply", body="您好", channel="phone")
    return mark, {"channel": "phone", "status": ("open", "in_progress")}


@case("kehu.transactions.ticket_services.ticket_escalate", "ticket.escalated")
def _ticket_escalate(c):
    from kehu.transactions.ticket_services import ticket_escalate

    ticket = c.ticket()
    mark = c.mark()
    ticket_escalate(actor=c.actor, ticket=ticket, reason="客户很急")
    return mark, {"priority": ("normal", "high"), "reason": "客户很急"}


@case("kehu.transactions.ticket_services.ticket_merge", "ticket.merged")
def _ticket_merge(c):
    from kehu.transactions.ticket_services import ticket_merge

    customer = c.customer()
    survivor, duplicate = c.ticket(customer), c.ticket(customer)
    mark = c.mark()
    ticket_merge(actor=c.actor, duplicate=duplicate, into=survivor)
    return mark, {"status": ("open", "closed"), "merged_into": (None, survivor.pk)}


@case("kehu.transactions.ticket_services.ticket_unmerge", "ticket.unmerged")
def _ticket_unmerge(c):
    from kehu.transactions.ticket_services import ticket_merge, ticket_unmerge

    customer = c.customer()
    survivor, duplicate = c.ticket(customer), c.ticket(customer)
    ticket_merge(actor=c.actor, duplicate=duplicate, into=survivor)
    mark = c.mark()
    ticket_unmerge(actor=c.actor, duplicate=duplicate)
    return mark, {"status": ("closed", "open"), "merged_into": (survivor.pk, None)}


# Service desk

def _calendar():
    from kehu.service.models import BusinessCalendar

    return BusinessCalendar.objects.get(is_default=True)


@case("kehu.service.services.calendars.calendar_create", "calendar.created")
def _calendar_create(c):
    from kehu.service.services.calendars import calendar_create

    calendar_create(actor=c.actor, name="7×24", workdays=range(7), lunch_start=None,
                    lunch_end=None)
    return {"name": (None, "7×24"), "workdays": (None, [0, 1, 2, 3, 4, 5, 6])}


@case("kehu.service.services.calendars.calendar_update", "calendar.updated")
def _calendar_update(c):
    import datetime as dt

    from kehu.service.services.calendars import calendar_update

    calendar = _calendar()
    calendar_update(actor=c.actor, calendar=calendar, name=calendar.name,
                    time_zone="Asia/Shanghai", workdays=[0, 1, 2, 3, 4],
                    day_start=dt.time(8, 30), lunch_start=dt.time(12),
                    lunch_end=dt.time(13), day_end=dt.time(17, 30))
    return {"day_start": ("09:00:00", "08:30:00"), "day_end": ("18:00:00", "17:30:00")}


@case("kehu.service.services.calendars.calendar_day_set", "calendar.day_set")
def _calendar_day_set(c):
    import datetime as dt

    from kehu.service.services.calendars import calendar_day_set

    calendar_day_set(actor=c.actor, calendar=_calendar(), date=dt.date(2026, 3, 2),
                     kind="holiday", name="司庆")
    return {"date": "2026-03-02", "kind": (None, "holiday"), "name": (None, "司庆")}


@case("kehu.service.services.calendars.calendar_day_remove", "calendar.day_removed")
def _calendar_day_remove(c):
    import datetime as dt

    from kehu.service.services.calendars import calendar_day_remove

    calendar_day_remove(actor=c.actor, calendar=_calendar(), date=dt.date(2026, 1, 4))
    return {"date": "2026-01-04", "kind": ("workday", None)}


@case("kehu.service.services.calendars.calendar_load_prc", "calendar.holidays_loaded")
def _calendar_load_prc(c):
    from kehu.service.services.calendars import calendar_load_prc

    calendar_load_prc(actor=c.actor, calendar=_calendar(), years=[2026])
    return {"years": [2026], "removed": 39, "written": 39}


@case("kehu.service.services.sla.sla_policy_create", "sla_policy.created")
def _sla_policy_create(c):
    from kehu.service.services.sla import sla_policy_create

    sla_policy_create(actor=c.actor, name="VIP", customer_tier="high_value",
                      first_response_hours="0.5")
    return {"name": (None, "VIP"), "first_response_hours": (None, "0.50")}


@case("kehu.service.services.sla.sla_policy_update", "sla_policy.updated")
def _sla_policy_update(c):
    from kehu.service.models import SLAPolicy
    from kehu.service.services.sla import sla_policy_update

    sla_policy_update(actor=c.actor, policy=SLAPolicy.objects.get(priority="normal"),
                      resolution_hours="16")
    return {"resolution_hours": ("24.00", "16.00")}


@case("kehu.service.services.sla.sla_policy_delete", "sla_policy.deleted")
def _sla_policy_delete(c):
    from kehu.service.models import SLAPolicy
    from kehu.service.services.sla import sla_policy_delete

    sla_policy_delete(actor=c.actor, policy=SLAPolicy.objects.get(priority="low"))
    return {"name": ("低优先级工单", None)}


@case("kehu.service.services.sla.sla_check", "ticket.sla_breached")
def _sla_check(c):
    import datetime as dt

    from django.utils import timezone

    from kehu.service.services.sla import sla_check

    c.ticket()
    mark = c.mark()
    sla_check(now=timezone.now() + dt.timedelta(days=30))
    return mark, {"clock": "first_response", "priority": "normal"}


@case("kehu.service.services.surveys.survey_send", "survey.sent")
def _survey_send(c):
    from kehu.service.services.surveys import survey_send
    from kehu.transactions.services import ticket_update

    ticket = c.ticket()
    ticket = ticket_update(actor=c.actor, ticket=ticket, status="resolved", priority="normal",
                           assignee=c.user, resolution="好了")
    mark = c.mark()
    survey_send(actor=c.actor, ticket=ticket, channel="link")
    return mark, {"channel": "link", "ticket": ticket.pk}


@case("kehu.service.services.surveys.survey_answer", "survey.answered")
def _survey_answer(c):
    from kehu.service.models import SatisfactionSurvey
    from kehu.service.services.surveys import survey_answer, survey_token
    from kehu.transactions.services import ticket_update

    ticket = ticket_update(actor=c.actor, ticket=c.ticket(), status="resolved",
                           priority="normal", assignee=c.user, resolution="好了")
    survey = SatisfactionSurvey.objects.get(ticket=ticket)
    mark = c.mark()
    survey_answer(token=survey_token(survey), rating=5, nps=9, comment="好")
    return mark, {"rating": 5, "nps": 9, "by_agent": False}


@case("kehu.service.services.surveys.survey_record_by_agent", "survey.answered")
def _survey_record_by_agent(c):
    from kehu.service.services.surveys import survey_record_by_agent
    from kehu.transactions.services import ticket_update

    ticket = ticket_update(actor=c.actor, ticket=c.ticket(), status="resolved",
                           priority="normal", assignee=c.user, resolution="好了")
    mark = c.mark()
    survey_record_by_agent(actor=c.actor, ticket=ticket, rating=3)
    return mark, {"rating": 3, "by_agent": True}


@case("kehu.service.services.complaints.complaint_record", "complaint.recorded")
def _complaint_record(c):
    from kehu.service.services.complaints import complaint_record
    from kehu.transactions.ticket_services import ticket_open

    ticket = ticket_open(actor=c.actor, customer=c.customer(), kind="complaint",
                         subject="发货慢")
    mark = c.mark()
    complaint_record(actor=c.actor, ticket=ticket, category="delivery", severity="high")
    return mark, {"category": (None, "delivery"), "severity": (None, "high")}


@case("kehu.service.services.complaints.complaint_update", "complaint.updated")
def _complaint_update(c):
    from kehu.service.services.complaints import complaint_open, complaint_update

    complaint = complaint_open(actor=c.actor, customer=c.customer(), subject="多扣款",
                               category="billing")
    mark = c.mark()
    complaint_update(actor=c.actor, ticket=complaint.ticket, category="billing",
                     severity="medium", root_cause="重复扣款", corrective_action="加幂等")
    return mark, {"root_cause": ("", "重复扣款"), "corrective_action": ("", "加幂等")}


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


@case("kehu.prediction.services.clv_score", "prediction.scored")
def _clv_score(c):
    from kehu.prediction.services import clv_score

    fit = clv_score(actor=c.actor, full=True)  # no orders: says so instead of scoring
    assert fit.status == "insufficient"
    return {"model": (None, "bgnbd"), "status": (None, "insufficient"),
            "customers_scored": (None, 0)}


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


@case("kehu.integration.services.webhook_call_from_rule", "rule.webhook_called")
def _webhook_call_from_rule(c):
    from kehu.integration.services import webhook_call_from_rule

    endpoint = _webhook(c)
    customer = c.customer()
    mark = c.mark()
    webhook_call_from_rule(actor=c.actor, endpoint_id=endpoint.pk, rule={"id": 1, "name": "r"},
                           run_id=7, customer_id=customer.pk, customer_name=customer.name)
    return mark, {"webhook": endpoint.pk, "run": 7}


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
# Pipeline

def _pl_deal(c, amount="1000.00"):
    from kehu.pipeline.services import deal_create

    return deal_create(actor=c.actor, customer=c.customer(), title="ERP 项目", amount=amount,
                       expected_close_date=timezone.localdate())


def _pl_stage(name):
    from kehu.pipeline.models import Stage

    return Stage.objects.get(pipeline__is_default=True, name=name)


def _pl_quote(c, deal=None):
    from kehu.pipeline.services import quote_create

    return quote_create(actor=c.actor, deal=deal or _pl_deal(c),
                        valid_until=timezone.localdate() + dt.timedelta(days=5),
                        lines=[{"product": c.product().pk, "quantity": 1}])


def _pl_contract(c, *, signed=False, plan=False):
    from kehu.pipeline.services import contract_create, contract_set_status, payment_plan_set

    contract = contract_create(actor=c.actor, deal=_pl_deal(c), title="合同", amount="100",
                               start_date=timezone.localdate(),
                               end_date=timezone.localdate() + dt.timedelta(days=20))
    if plan:
        payment_plan_set(actor=c.actor, contract=contract, instalments=[
            {"due_date": timezone.localdate() - dt.timedelta(days=3), "amount": "100"}])
    if signed:
        contract_set_status(actor=c.actor, contract=contract, status="approving")
        contract = contract_set_status(actor=c.actor, contract=contract, status="signed")
    return contract


PL_STAGES = [{"name": "报备", "probability": 20}, {"name": "成交", "probability": 100,
                                                   "kind": "won"},
             {"name": "丢单", "probability": 0, "kind": "lost"}]


@case("kehu.pipeline.services.deals.pipeline_create", "pipeline.created")
def _pipeline_create(c):
    from kehu.pipeline.services import pipeline_create

    pipeline_create(actor=c.actor, name="渠道销售", stages=PL_STAGES)
    return {"name": (None, "渠道销售")}


@case("kehu.pipeline.services.deals.pipeline_update", "pipeline.updated")
def _pipeline_update(c):
    from kehu.pipeline.services import pipeline_create, pipeline_update

    pipeline = pipeline_create(actor=c.actor, name="渠道销售", stages=PL_STAGES)
    mark = c.mark()
    pipeline_update(actor=c.actor, pipeline=pipeline, name="渠道", stages=PL_STAGES)
    return mark, {"name": ("渠道销售", "渠道")}


@case("kehu.pipeline.services.deals.pipeline_ensure_default", "pipeline.created")
def _pipeline_ensure_default(c):
    from kehu.pipeline.models import Pipeline
    from kehu.pipeline.services import pipeline_ensure_default

    Pipeline.objects.all().delete()
    pipeline_ensure_default(actor=c.actor)
    return {"name": (None, "销售管道")}


@case("kehu.pipeline.services.deals.deal_create", "deal.created")
def _deal_create(c):
    _pl_deal(c)
    return {"title": (None, "ERP 项目"), "amount": (None, "1000.00")}


@case("kehu.pipeline.services.deals.deal_update", "deal.updated")
def _deal_update(c):
    from kehu.pipeline.services import deal_update

    deal = _pl_deal(c)
    mark = c.mark()
    deal_update(actor=c.actor, deal=deal, changes={"amount": "1500"})
    return mark, {"amount": ("1000.00", "1500.00")}


@case("kehu.pipeline.services.deals.deal_move", "deal.stage_changed")
def _deal_move(c):
    from kehu.pipeline.services import deal_move

    deal = _pl_deal(c)
    mark = c.mark()
    deal_move(actor=c.actor, deal=deal, stage=_pl_stage("需求确认"))
    return mark, {"stage_name": ("初步接洽", "需求确认"), "probability": (10, 30)}


@case("kehu.pipeline.services.deals.deal_create_order", "deal.updated")
def _deal_create_order(c):
    from kehu.pipeline.services import deal_create, deal_create_order, deal_move

    deal = deal_create(actor=c.actor, customer=c.customer(), title="ERP",
                       expected_close_date=timezone.localdate(),
                       lines=[{"product": c.product().pk, "quantity": 1}])
    deal_move(actor=c.actor, deal=deal, stage=_pl_stage("赢单"))
    mark = c.mark()
    order = deal_create_order(actor=c.actor, deal=deal)
    return mark, {"order": (None, order.pk)}


@case("kehu.pipeline.services.quotes.quote_create", "quote.created")
def _quote_create(c):
    _pl_quote(c)
    return {"total": (None, "111.87"), "status": (None, "draft")}


@case("kehu.pipeline.services.quotes.quote_update", "quote.updated")
def _quote_update(c):
    from kehu.pipeline.services import quote_update

    quote = _pl_quote(c)
    mark = c.mark()
    quote_update(actor=c.actor, quote=quote, valid_until=quote.valid_until,
                 lines=[{"product": quote.lines.get().product_id, "quantity": 2}])
    return mark, {"total": ("111.87", "223.74")}


@case("kehu.pipeline.services.quotes.quote_revise", "quote.created")
def _quote_revise(c):
    from kehu.pipeline.services import quote_revise

    quote = _pl_quote(c)
    mark = c.mark()
    quote_revise(actor=c.actor, quote=quote)
    return mark, {"version": (None, 2)}


def _quote_move(service, event, path):
    def run(c):
        from kehu.pipeline import services

        quote = _pl_quote(c)
        for step in path:
            quote = getattr(services, step)(actor=c.actor, quote=quote)
        mark = c.mark()
        before = quote.status
        quote = getattr(services, service)(actor=c.actor, quote=quote)
        return mark, {"status": (before, quote.status)}

    case(f"kehu.pipeline.services.quotes.{service}", event)(run)


_quote_move("quote_send", "quote.sent", [])
_quote_move("quote_accept", "quote.accepted", ["quote_send"])
_quote_move("quote_reject", "quote.rejected", ["quote_send"])
_quote_move("quote_expire", "quote.expired", [])


@case("kehu.pipeline.services.quotes.quotes_expire_due", "quote.expired")
def _quotes_expire_due(c):
    from kehu.pipeline.models import Quote
    from kehu.pipeline.services import quotes_expire_due

    quote = _pl_quote(c)
    Quote.objects.filter(pk=quote.pk).update(valid_until=timezone.localdate()
                                             - dt.timedelta(days=1))
    mark = c.mark()
    quotes_expire_due(actor=c.actor)
    return mark, {"status": ("draft", "expired")}


@case("kehu.pipeline.services.contracts.contract_create", "contract.created")
def _contract_create(c):
    _pl_contract(c)
    return {"amount": (None, "100.00"), "status": (None, "draft")}


@case("kehu.pipeline.services.contracts.contract_update", "contract.updated")
def _contract_update(c):
    from kehu.pipeline.services import contract_update

    contract = _pl_contract(c)
    mark = c.mark()
    contract_update(actor=c.actor, contract=contract, changes={"title": "年度合同"})
    return mark, {"title": ("合同", "年度合同")}


@case("kehu.pipeline.services.contracts.contract_set_status", "contract.status_changed")
def _contract_set_status(c):
    from kehu.pipeline.services import contract_set_status

    contract = _pl_contract(c)
    mark = c.mark()
    contract_set_status(actor=c.actor, contract=contract, status="approving")
    return mark, {"status": ("draft", "approving")}


@case("kehu.pipeline.services.contracts.contract_attach", "contract.attachment_added")
def _contract_attach(c):
    from kehu.pipeline.services import contract_attach

    contract = _pl_contract(c)
    mark = c.mark()
    contract_attach(actor=c.actor, contract=contract, file=io.BytesIO(b"%PDF-1.7 x"),
                    filename="合同.pdf")
    return mark, {}


@case("kehu.pipeline.services.contracts.contracts_remind_renewals", "contract.renewal_reminded")
def _contracts_remind_renewals(c):
    from kehu.pipeline.services import contracts_remind_renewals

    _pl_contract(c, signed=True)
    mark = c.mark()
    contracts_remind_renewals(actor=c.actor)
    return mark, {"renewal_reminded_on": (None, timezone.localdate().isoformat())}


@case("kehu.pipeline.services.payments.payment_plan_set", "payment_plan.set")
def _payment_plan_set(c):
    _pl_contract(c, plan=True)
    return {}


@case("kehu.pipeline.services.payments.payment_record", "payment.received")
def _payment_record(c):
    from kehu.pipeline.services import payment_record

    contract = _pl_contract(c, signed=True, plan=True)
    mark = c.mark()
    payment_record(actor=c.actor, contract=contract, received_on=timezone.localdate(),
                   amount="40", method="cash")
    return mark, {"amount": (None, "40.00")}


@case("kehu.pipeline.services.payments.instalments_flag_overdue", "payment.overdue")
def _instalments_flag_overdue(c):
    from kehu.pipeline.services import instalments_flag_overdue

    _pl_contract(c, signed=True, plan=True)
    mark = c.mark()
    instalments_flag_overdue(actor=c.actor)
    return mark, {"overdue_since": (None, timezone.localdate().isoformat())}


@case("kehu.pipeline.services.payments.invoice_request_create", "invoice.requested")
def _invoice_request_create(c):
    from kehu.pipeline.services import invoice_request_create

    contract = _pl_contract(c, signed=True)
    mark = c.mark()
    invoice_request_create(actor=c.actor, contract=contract, amount="50", kind="normal")
    return mark, {"amount": (None, "50.00")}


@case("kehu.pipeline.services.payments.invoice_request_set_status", "invoice.status_changed")
def _invoice_request_set_status(c):
    from kehu.pipeline.services import invoice_request_create, invoice_request_set_status

    request = invoice_request_create(actor=c.actor, contract=_pl_contract(c, signed=True),
                                     amount="50", kind="normal")
    mark = c.mark()
    invoice_request_set_status(actor=c.actor, request=request, status="approved")
    return mark, {"status": ("requested", "approved")}


@case("kehu.pipeline.services.targets.target_set", "target.set")
def _target_set(c):
    from kehu.pipeline.services import target_set

    target_set(actor=c.actor, user=c.user, period_kind="month", year=2026, period=5,
               amount="80000")
    return {"amount": (None, "80000.00")}


@case("kehu.pipeline.services.targets.forecast_snapshot_take", "forecast.snapshot_taken")
def _forecast_snapshot_take(c):
    from kehu.pipeline.services import forecast_snapshot_take

    _pl_deal(c)
    mark = c.mark()
    forecast_snapshot_take(actor=c.actor)
    return mark, {"owners": 1, "rows": 6}
# Automation rules

_RULE = {"trigger": {"kind": "customer_created"},
         "actions": [{"kind": "follow_up", "to": "owner", "title": "跟进", "due_days": 1}]}


@case("kehu.automation.services.rule_create", "rule.created")
def _rule_create(c):
    from kehu.automation.services import rule_create

    rule_create(actor=c.actor, name="新客户跟进", **_RULE)
    return {"name": (None, "新客户跟进"), "status": (None, "draft")}


@case("kehu.automation.services.rule_update", "rule.updated")
def _rule_update(c):
    from kehu.automation.services import rule_create, rule_update

    rule = rule_create(actor=c.actor, name="新客户跟进", **_RULE)
    mark = c.mark()
    rule_update(actor=c.actor, rule=rule, name="新客户回访", **_RULE)
    return mark, {"name": ("新客户跟进", "新客户回访"), "version": (1, 2)}


@case("kehu.automation.services.rule_activate", "rule.activated")
def _rule_activate(c):
    from kehu.automation.services import rule_activate, rule_create

    rule = rule_create(actor=c.actor, name="新客户跟进", **_RULE)
    mark = c.mark()
    rule_activate(actor=c.actor, rule=rule, backfill=False)
    return mark, {"status": ("draft", "active"), "backfill": False}


@case("kehu.automation.services.rule_pause", "rule.paused")
def _rule_pause(c):
    from kehu.automation.services import rule_activate, rule_create, rule_pause

    rule = rule_create(actor=c.actor, name="新客户跟进", **_RULE)
    rule_activate(actor=c.actor, rule=rule, backfill=False)
    mark = c.mark()
    rule_pause(actor=c.actor, rule=rule)
    return mark, {"status": ("active", "paused"), "reason": "user"}


@case("kehu.automation.services.rule_pause_for_limit", "rule.paused")
def _rule_pause_for_limit(c):
    from kehu.automation.services import rule_activate, rule_create, rule_pause_for_limit

    rule = rule_create(actor=c.actor, name="新客户跟进", **_RULE)
    rule_activate(actor=c.actor, rule=rule, backfill=False)
    mark = c.mark()
    rule_pause_for_limit(rule=rule, wanted=5)
    return mark, {"status": ("active", "paused"), "reason": "limit", "wanted": 5}


@case("kehu.automation.services.rule_delete", "rule.deleted")
def _rule_delete(c):
    from kehu.automation.services import rule_create, rule_delete

    rule = rule_create(actor=c.actor, name="新客户跟进", **_RULE)
    mark = c.mark()
    rule_delete(actor=c.actor, rule=rule)
    return mark, {"name": ("新客户跟进", None)}


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


# Insights

@case("kehu.insights.services.churn_settings_update", "churn.settings_changed")
def _churn_settings_update(c):
    from kehu.insights.services import churn_settings_update

    churn_settings_update(actor=c.actor, changes={"window_days": 90})
    return {"window_days": (180, 90)}


@case("kehu.insights.services.signal_rule_update", "signal.rule_changed")
def _signal_rule_update(c):
    from kehu.insights.services import signal_rule_update

    signal_rule_update(actor=c.actor, kind="pricing_views", changes={"min_count": 5})
    return {"min_count": (3, 5)}


@case("kehu.insights.services.churn_fit", "churn.model_fitted")
def _churn_fit(c):
    from kehu.insights.services import churn_fit

    churn_fit(actor=c.actor)
    return {"enough_data": (None, False), "labelled": (None, 0)}


@case("kehu.insights.services.churn_score", "churn.scored")
def _churn_score(c):
    from kehu.insights.services import churn_score
    from kehu.transactions.services import order_update_status

    order_update_status(actor=c.actor, order=c.order(), status="paid")
    mark = c.mark()
    churn_score(actor=c.actor)
    assert [e.type for e in mark.events()].count("churn.risk_changed") == 1
    return mark, {"scored": (None, 1), "level_changes": (None, 1)}


@case("kehu.insights.services.signals_detect", "signal.run_finished")
def _signals_detect(c):
    from kehu.insights.services import signals_detect
    from kehu.interactions.models import Event

    customer = c.customer()
    for minutes in range(3):
        Event.objects.create(customer=customer, event_type="page_view",
                             occurred_at=timezone.now() - dt.timedelta(minutes=minutes),
                             properties={"url": "/pricing"})
    mark = c.mark()
    signals_detect(actor=c.actor)
    assert [e.type for e in mark.events()].count("signal.detected") == 1
    return mark, {"customers": (None, 1), "new_signals": (None, 1)}


@case("kehu.insights.services.recommendations_build", "recommendations.built")
def _recommendations_build(c):
    from kehu.insights.services import recommendations_build
    from kehu.transactions.services import order_update_status

    order_update_status(actor=c.actor, order=c.order(), status="paid")
    mark = c.mark()
    recommendations_build(actor=c.actor)
    return mark, {"associations": (None, 0), "products": (None, 1), "customers": (None, 1)}
# Lead assignment and the form designer

def _assign_world(c):
    from kehu.accounts.models import Team
    from kehu.accounts.services import roles_ensure_defaults  # noqa: F401
    from tests.factories import UserFactory

    team = Team.objects.create(name="华东销售")
    rep = UserFactory(role_code="sales_rep", team=team, display_name="张伟")
    return team, rep


def _assign_rule(c, team, **kwargs):
    from kehu.assignment.services import assignment_rule_save

    return assignment_rule_save(actor=c.actor, name=kwargs.pop("name", "华东区"), condition={},
                                team=team, method="round_robin", **kwargs)


@case("kehu.assignment.services.assignment_rule_save", "assignment_rule.created")
def _assignment_rule_save(c):
    team, _rep = _assign_world(c)
    _assign_rule(c, team, capacity=5)
    return {"name": (None, "华东区"), "capacity": (None, 5), "team": (None, "华东销售")}


@case("kehu.assignment.services.assignment_rule_delete", "assignment_rule.deleted")
def _assignment_rule_delete(c):
    from kehu.assignment.services import assignment_rule_delete

    team, _rep = _assign_world(c)
    rule = _assign_rule(c, team)
    mark = c.mark()
    assignment_rule_delete(actor=c.actor, rule=rule)
    return mark, {"name": ("华东区", None)}


@case("kehu.assignment.services.assignment_rules_reorder", "assignment_rule.updated")
def _assignment_rules_reorder(c):
    from kehu.assignment.services import assignment_rules_reorder

    team, _rep = _assign_world(c)
    first, second = _assign_rule(c, team, name="甲"), _assign_rule(c, team, name="乙")
    mark = c.mark()
    assignment_rules_reorder(actor=c.actor, rule_ids=[second.pk, first.pk])
    return mark, {"priority": (second.priority, 10)}


@case("kehu.assignment.services.assignment_apply", "assignment.decided")
def _assignment_apply(c):
    from kehu.assignment.services import assignment_apply

    team, _rep = _assign_world(c)
    _assign_rule(c, team)
    customer = c.customer()
    mark = c.mark()
    assignment_apply(actor=c.actor, customer_ids=[customer.pk])
    return mark, {"user": "张伟", "rule": "华东区", "reason": "assigned"}


@case("kehu.assignment.services.user_leave_set", "user.updated")
def _user_leave_set(c):
    from kehu.assignment.services import user_leave_set

    _team, rep = _assign_world(c)
    day = dt.date(2030, 1, 2)
    mark = c.mark()
    user_leave_set(actor=c.actor, user=rep, leave_from=day, leave_until=None)
    return mark, {"leave_from": (None, "2030-01-02")}


@case("kehu.assignment.services.book_transfer_start", "book.transferred")
def _book_transfer_start(c):
    from kehu.assignment.services import book_transfer_create

    team, rep = _assign_world(c)
    c.customer(name="李雷")
    book_transfer_create(actor=c.actor, from_user=c.user, to_user=rep)
    return {"customers": 1, "to_user": rep.username}


@case("kehu.interactions.services.follow_ups_reassign", "followup.reassigned")
def _follow_ups_reassign(c):
    from kehu.interactions.services import follow_ups_reassign

    _team, rep = _assign_world(c)
    task = _task(c)
    mark = c.mark()
    follow_ups_reassign(actor=c.actor, customer_ids=[task.customer_id], from_user=c.user,
                        to_user=rep)
    return mark, {"assignee": (c.user.pk, rep.pk)}


@case("kehu.customers.services.forms.form_layout_save", "formlayout.saved")
def _form_layout_save(c):
    from kehu.customers.services import form_layout_save

    sections = [{"title": "基本", "fields": [{"field": "name", "width": "full"}]}]
    form_layout_save(actor=c.actor, role=None, sections=sections)
    return {"sections": (None, sections)}


@case("kehu.customers.services.forms.form_layout_reset", "formlayout.deleted")
def _form_layout_reset(c):
    from kehu.customers.services import form_layout_reset, form_layout_save

    sections = [{"title": "基本", "fields": [{"field": "name", "width": "full"}]}]
    form_layout_save(actor=c.actor, role=None, sections=sections)
    mark = c.mark()
    form_layout_reset(actor=c.actor, role=None)
    return mark, {"sections": (sections, None)}


@case("kehu.customers.services.forms.field_behaviour_save", "fieldbehaviour.saved")
def _field_behaviour_save(c):
    from kehu.customers.services import field_behaviour_save

    field_behaviour_save(actor=c.actor, field="industry", effect="required")
    return {"field": (None, "industry"), "effect": (None, "required")}


@case("kehu.customers.services.forms.field_behaviour_delete", "fieldbehaviour.deleted")
def _field_behaviour_delete(c):
    from kehu.customers.services import field_behaviour_delete, field_behaviour_save

    rule = field_behaviour_save(actor=c.actor, field="industry", effect="required")
    mark = c.mark()
    field_behaviour_delete(actor=c.actor, rule=rule)
    return mark, {"field": ("industry", None)}
# Privacy

def _privacy_customer(c, name="隐私客户"):
    return c.customer(name=name, mobile="13600000001")


@case("kehu.privacy.services.consent_record", "consent.granted")
def _consent_record(c):
    from kehu.privacy.services import consent_record

    customer = _privacy_customer(c)
    mark = c.mark()
    consent_record(actor=c.actor, customer_id=customer.pk, purpose="marketing", channel="sms",
                   status="granted", source="form", notice_version="v1")
    return mark, {"status": (None, "granted"), "purpose": "marketing", "channel": "sms"}


@case("kehu.privacy.services.consents_record_imported", "consent.withdrawn")
def _consents_record_imported(c):
    from kehu.privacy.services import ImportedConsent, consents_record_imported

    customer = _privacy_customer(c)
    mark = c.mark()
    consents_record_imported(actor=c.actor, reference="import #1 a.csv", items=[
        ImportedConsent(customer.pk, "marketing", "email", False)])
    return mark, {"status": (None, "withdrawn"), "source": "import"}


@case("kehu.privacy.services.consents_expire_due", "consent.expired")
def _consents_expire_due(c):
    from kehu.privacy.services import consent_record, consents_expire_due

    customer = _privacy_customer(c)
    consent_record(actor=c.actor, customer_id=customer.pk, purpose="marketing", channel="sms",
                   status="granted", source="form",
                   expires_at=timezone.now() + dt.timedelta(hours=1))
    mark = c.mark()
    consents_expire_due(now=timezone.now() + dt.timedelta(hours=2))
    return mark, {"status": ("granted", "expired")}


@case("kehu.privacy.services.consent_link_create", "consent.link_created")
def _consent_link_create(c):
    from kehu.privacy.services import consent_link_create

    customer = _privacy_customer(c)
    mark = c.mark()
    consent_link_create(actor=c.actor, customer_id=customer.pk, purpose="marketing",
                        channel="email", action="withdraw")
    return mark, {"action": "withdraw", "channel": "email"}


@case("kehu.privacy.services.consent_link_use", "consent.granted")
def _consent_link_use(c):
    from kehu.privacy.services import consent_link_create, consent_link_use

    customer = _privacy_customer(c)
    _link, token = consent_link_create(actor=c.actor, customer_id=customer.pk,
                                       purpose="marketing", channel="email", action="confirm")
    mark = c.mark()
    consent_link_use(token=token)
    return mark, {"status": (None, "granted"), "source": "double_opt_in"}


@case("kehu.privacy.services.consent_purpose_save", "consent_purpose.saved")
def _consent_purpose_save(c):
    from kehu.privacy.services import consent_purpose_save

    consent_purpose_save(actor=c.actor, code="surveys", name="满意度调查")
    return {"name": (None, "满意度调查"), "separate": (None, False)}


@case("kehu.privacy.services.legal_hold_place", "legal_hold.placed")
def _legal_hold_place(c):
    from kehu.privacy.services import legal_hold_place

    customer = _privacy_customer(c)
    mark = c.mark()
    legal_hold_place(actor=c.actor, customer_id=customer.pk, reason="诉讼")
    return mark, {"reason": (None, "诉讼")}


@case("kehu.privacy.services.legal_hold_release", "legal_hold.released")
def _legal_hold_release(c):
    from kehu.privacy.services import legal_hold_place, legal_hold_release

    hold = legal_hold_place(actor=c.actor, customer_id=_privacy_customer(c).pk, reason="诉讼")
    mark = c.mark()
    released = legal_hold_release(actor=c.actor, hold_id=hold.pk)
    from django.core.serializers.json import DjangoJSONEncoder

    return mark, {"released_at": (None, DjangoJSONEncoder().default(released.released_at))}


@case("kehu.privacy.services.assessment_save", "assessment.saved")
def _assessment_save(c):
    from kehu.privacy.services import assessment_save

    assessment_save(actor=c.actor, key="dpia", title="评估", body="内容")
    mark = c.mark()
    assessment_save(actor=c.actor, key="dpia", title="评估", body="第二版", risk="high")
    return mark, {"version": (1, 2), "risk": "high"}


@case("kehu.privacy.erasure.customer_erase", "customer.erased")
def _customer_erase(c):
    from kehu.privacy.erasure import customer_erase

    customer = _privacy_customer(c)
    mark = c.mark()
    customer_erase(actor=c.actor, customer_id=customer.pk, reason="本人要求")
    return mark, {"reason": "本人要求", "customers": [customer.pk]}


def _privacy_request(c, kind="access"):
    from kehu.privacy.requests import request_open

    return request_open(actor=c.actor, kind=kind, customer_id=_privacy_customer(c).pk)


@case("kehu.privacy.requests.request_open", "privacy.request_opened")
def _request_open(c):
    _privacy_request(c)
    return {"status": (None, "open"), "kind": "access"}


@case("kehu.privacy.requests.request_verify", "privacy.request_verified")
def _request_verify(c):
    from kehu.privacy.requests import request_verify

    row = _privacy_request(c)
    mark = c.mark()
    request_verify(actor=c.actor, request_id=row.pk, method="身份证")
    return mark, {"status": ("open", "verified"), "verification": "身份证"}


@case("kehu.privacy.requests.request_complete", "privacy.request_closed")
def _request_complete(c):
    from kehu.privacy.requests import request_complete, request_verify

    row = _privacy_request(c)
    request_verify(actor=c.actor, request_id=row.pk, method="身份证")
    mark = c.mark()
    request_complete(actor=c.actor, request_id=row.pk, outcome="已发送")
    return mark, {"status": ("verified", "completed"), "outcome": "已发送"}


@case("kehu.privacy.requests.request_refuse", "privacy.request_closed")
def _request_refuse(c):
    from kehu.privacy.requests import request_refuse

    row = _privacy_request(c)
    mark = c.mark()
    request_refuse(actor=c.actor, request_id=row.pk, reason="无法核实身份")
    return mark, {"status": ("open", "refused"), "refusal_reason": "无法核实身份"}


@case("kehu.privacy.requests.requests_check_deadlines", "privacy.request_escalated")
def _requests_check_deadlines(c):
    from kehu.privacy.models import PrivacyRequest
    from kehu.privacy.requests import requests_check_deadlines

    row = _privacy_request(c)
    PrivacyRequest.objects.filter(pk=row.pk).update(due_date=dt.date(2020, 1, 2))
    mark = c.mark()
    requests_check_deadlines()
    return mark, {"level": "overdue"}


@case("kehu.privacy.retention.retention_policy_update", "retention.policy_changed")
def _retention_policy_update(c):
    from kehu.privacy.retention import policies, retention_policy_update

    days = next(p.days for p in policies() if p.data_class == "exports")
    mark = c.mark()
    retention_policy_update(actor=c.actor, data_class="exports", days=3)
    return mark, {"days": (days, 3)}


@case("kehu.privacy.retention.retention_run", "retention.applied")
def _retention_run(c):
    from kehu.privacy.retention import retention_run

    retention_run(actor=c.actor)
    return {"exports": 0}


# Two-factor sign-in and sessions

def _totp_code(user):
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.get(user=user, confirmed=False)
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


@case("kehu.accounts.twofactor.totp_confirm", "user.2fa_enabled")
def _totp_confirm(c):
    from kehu.accounts.twofactor import totp_confirm, totp_start

    totp_start(user=c.user)
    totp_confirm(actor=c.actor, user=c.user, token=_totp_code(c.user))
    return {"two_factor": (False, True), "recovery_codes": 10}


@case("kehu.accounts.twofactor.two_factor_disable", "user.2fa_disabled")
def _two_factor_disable(c):
    from kehu.accounts.twofactor import totp_confirm, totp_start, two_factor_disable

    totp_start(user=c.user)
    totp_confirm(actor=c.actor, user=c.user, token=_totp_code(c.user))
    mark = c.mark()
    two_factor_disable(actor=c.actor, user=c.user)
    return mark, {"two_factor": (True, False)}


@case("kehu.accounts.twofactor.session_revoke", "user.session_revoked")
def _session_revoke(c):
    from django.test import Client

    from kehu.accounts.twofactor import _key_id, session_revoke

    client = Client()
    client.force_login(c.user)
    key = client.session.session_key
    session_revoke(actor=c.actor, user=c.user, session_id=_key_id(key))
    return {"session": _key_id(key)}


# Reports

_REPORT_SPEC = {"subject": "orders", "group_by": [{"field": "region"}], "chart": "bar"}


@case("kehu.reports.services.report_save", "report.saved")
def _report_save(c):
    from kehu.reports.services import report_save

    report_save(user=c.user, name="按区域订单", spec=_REPORT_SPEC)
    return {"name": (None, "按区域订单")}


@case("kehu.reports.services.report_delete", "report.deleted")
def _report_delete(c):
    from kehu.reports.services import report_delete, report_save

    report = report_save(user=c.user, name="按区域订单", spec=_REPORT_SPEC)
    mark = c.mark()
    report_delete(user=c.user, report_id=report.pk)
    return mark, {"name": ("按区域订单", None)}


@case("kehu.reports.services.dashboard_save", "report_dashboard.saved")
def _dashboard_save(c):
    from kehu.reports.services import dashboard_save

    dashboard_save(user=c.user, name="团队看板", shared=True)
    return {"name": (None, "团队看板"), "shared": (None, True)}


@case("kehu.reports.services.dashboard_delete", "report_dashboard.deleted")
def _dashboard_delete(c):
    from kehu.reports.services import dashboard_delete, dashboard_save

    dashboard = dashboard_save(user=c.user, name="团队看板")
    mark = c.mark()
    dashboard_delete(user=c.user, dashboard_id=dashboard.pk)
    return mark, {"name": ("团队看板", None)}


@case("kehu.reports.services.dashboard_add_report", "report_dashboard.saved")
def _dashboard_add_report(c):
    from kehu.reports.services import dashboard_add_report, dashboard_save, report_save

    report = report_save(user=c.user, name="按区域订单", spec=_REPORT_SPEC)
    dashboard = dashboard_save(user=c.user, name="团队看板")
    mark = c.mark()
    dashboard_add_report(user=c.user, dashboard_id=dashboard.pk, report_id=report.pk)
    return mark, {"reports": ([], [report.pk])}


@case("kehu.reports.services.dashboard_remove_report", "report_dashboard.saved")
def _dashboard_remove_report(c):
    from kehu.reports.services import (
        dashboard_add_report,
        dashboard_remove_report,
        dashboard_save,
        report_save,
    )

    report = report_save(user=c.user, name="按区域订单", spec=_REPORT_SPEC)
    dashboard = dashboard_save(user=c.user, name="团队看板")
    dashboard_add_report(user=c.user, dashboard_id=dashboard.pk, report_id=report.pk)
    mark = c.mark()
    dashboard_remove_report(user=c.user, dashboard_id=dashboard.pk, report_id=report.pk)
    return mark, {"reports": ([report.pk], [])}


@case("kehu.reports.services.subscription_set", "report_subscription.changed")
def _subscription_set(c):
    from kehu.reports.services import dashboard_save, subscription_set

    dashboard = dashboard_save(user=c.user, name="团队看板")
    mark = c.mark()
    subscription_set(user=c.user, dashboard_id=dashboard.pk, frequency="weekly")
    return mark, {"frequency": ("", "weekly")}


# The tests ----------------------------------------------------------------------------------


class Mark:
    def __init__(self):
        self.after = DomainEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0

    def events(self) -> list[DomainEvent]:
        return as_delivered(DomainEvent.objects.filter(id__gt=self.after).order_by("id"))


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
