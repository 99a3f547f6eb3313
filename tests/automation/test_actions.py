"""Each action through its owning service: tasks for the owner's manager, notifications,
emails and SMS (consent seam, per-language templates, skipped counts), set field (field
rules honoured), tags."""

from __future__ import annotations

import pytest

from kehu.automation import services
from kehu.automation.models import RuleRun
from kehu.interactions.models import FollowUpTask
from kehu.notifications.models import Notification, OutboundMessage
from tests.automation.conftest import ALL, customer, deliver, runs

pytestmark = pytest.mark.django_db


def _fire(people, actions):
    rule = services.rule_create(actor=people["actor"], name="动作", trigger={
        "kind": "customer_created"}, conditions=ALL, actions=actions)
    services.rule_activate(actor=people["actor"], rule=rule, backfill=False)
    return rule


def test_tasks_and_notifications_for_owner_and_manager(people):
    rule = _fire(people, [
        {"kind": "follow_up", "to": "owner_and_manager", "title": "看看{{ customer.name }}",
         "due_days": 3},
        {"kind": "notify", "to": "manager", "title": "{{ customer.name }}需要关注",
         "body": "负责人：{{ customer.owner }}"}])
    c = customer(people["rep"], name="王芳")
    deliver()
    assert sorted(FollowUpTask.objects.filter(customer=c).values_list("assignee__username",
                                                                      flat=True)) == [
        "boss", "rep"]
    note = Notification.objects.get()
    assert (note.recipient, note.title, note.customer_id) == (people["boss"], "王芳需要关注", c.pk)
    assert people["rep"].display_name in note.body
    assert runs(rule)[0].status == RuleRun.DONE


def test_marketing_email_respects_the_consent_ledger_and_language(people):
    """Marketing reaches only customers with a live consent for the purpose and channel in
    the privacy app's ledger (the one seam: automation.consent.may_contact)."""
    from kehu.privacy.services import consent_record

    rule = _fire(people, [
        {"kind": "email_customer", "subject": "{{ customer.name }}您好", "body": "中文正文",
         "subject_en": "Hello {{ customer.name }}", "body_en": "English body"},
        {"kind": "sms_customer", "text": "短信：{{ customer.name }}"}])
    yes = customer(people["rep"], name="愿意", email="yes@example.com", mobile="13800138001",
                   preferred_channel="email")
    english = customer(people["rep"], name="Ann", email="ann@example.com",
                       preferred_channel="email", custom={})
    no = customer(people["rep"], name="不愿意", email="no@example.com", mobile="13800138002",
                  preferred_channel="phone")
    from kehu.customers.models import Customer

    Customer.objects.filter(pk=english.pk).update(custom={"language": "en"})
    for granted in (yes, english):
        consent_record(actor=people["actor"], customer_id=granted.pk, purpose="marketing",
                       channel="email", status="granted", source="form")
    # "no" prefers the phone and never consented: nothing reaches them.
    deliver()
    sent = {tuple(m.to): (m.subject, m.text.split("\n\n")[0]) for m in
            OutboundMessage.objects.filter(channel="email")}
    assert sent == {("yes@example.com",): ("愿意您好", "中文正文"),
                    ("ann@example.com",): ("Hello Ann", "English body")}
    # Every marketing email ends with a one-click withdrawal link that works once.
    from kehu.privacy.selectors import consent_allows
    from kehu.privacy.services import consent_link_use

    text = OutboundMessage.objects.get(to=["yes@example.com"]).text
    token = text.rsplit("/privacy/link/", 1)[1].strip().rstrip("/")
    consent_link_use(token=token)
    assert not consent_allows(customer_id=yes.pk, channel="email", purpose="marketing")
    assert consent_allows(customer_id=english.pk, channel="email", purpose="marketing")
    assert not OutboundMessage.objects.filter(channel="sms").exists()  # no SMS consent
    refused = next(r for r in runs(rule) if r.customer_id == no.pk)
    assert refused.status == RuleRun.DONE
    assert [o["status"] for o in refused.outcome] == ["skipped", "skipped"]
    assert refused.outcome[0]["consent_skipped"] == 1
    assert yes.pk in [r.customer_id for r in runs(rule)]


def test_set_field_and_tags_go_through_the_customer_services(people):
    from kehu.customers.services import tag_add

    rule = _fire(people, [{"kind": "set_field", "field": "lifecycle_stage", "value": "prospect"},
                          {"kind": "remove_tag", "tag": "旧"},
                          {"kind": "set_field", "field": "lifecycle_stage", "value": "nonsense"}])
    c = customer(people["rep"], name="改字段")
    tag_add(actor=people["actor"], customer=c, name="旧")
    deliver()
    c.refresh_from_db()
    assert c.lifecycle_stage == "prospect"
    assert not c.tag_links.filter(tag__name="旧").exists()
    run = runs(rule)[0]
    assert run.status == RuleRun.RETRY  # the bad value is refused by the field rules
    assert [o["status"] for o in run.outcome] == ["done", "done", "failed"]
    assert "lifecycle_stage" in run.error


def test_assign_owner_uses_the_assignment_contract_and_skips_owned(people, monkeypatch):
    import sys
    import types
    from dataclasses import dataclass

    from kehu.customers.services import customer_update

    @dataclass
    class Decision:
        customer_id: int
        explanation: str

    calls = []

    def assignment_apply(*, actor, customer_ids, rule_id=None):
        calls.append((customer_ids, rule_id))
        for pk in customer_ids:
            from kehu.customers.models import Customer

            customer_update(actor=actor, customer=Customer.objects.get(pk=pk),
                            expected_version=None, changes={"owner": people["boss"]})
        return [Decision(pk, "按华东区规则轮询分配给 经理") for pk in customer_ids]

    fake = types.ModuleType("kehu.assignment.services")
    fake.assignment_apply = assignment_apply
    monkeypatch.setitem(sys.modules, "kehu.assignment.services", fake)
    rule = _fire(people, [{"kind": "assign_owner"},
                          {"kind": "follow_up", "to": "owner", "title": "首次联系",
                           "due_days": 1}])
    lead = customer(None, name="新线索")
    owned = customer(people["rep"], name="已有负责人")
    deliver()
    assert calls == [([lead.pk], None)]
    by_customer = {r.customer_id: r for r in runs(rule)}
    assert by_customer[lead.pk].outcome[0]["detail"] == "按华东区规则轮询分配给 经理"
    assert by_customer[owned.pk].outcome[0]["status"] == "skipped"
    assert FollowUpTask.objects.get(customer=lead).assignee == people["boss"]
    assert FollowUpTask.objects.get(customer=owned).assignee == people["rep"]


def test_call_a_webhook_reaches_that_webhook_only_signed_and_once(people):
    """The "call a webhook" action sends the rule's call to the chosen endpoint (Standard
    Webhooks signature, retries, delivery log), not to endpoints that subscribed to "*"."""
    from standardwebhooks.webhooks import Webhook

    from kehu.core.events import dispatch
    from kehu.integration.models import WebhookDelivery
    from kehu.integration.services import webhook_create, webhooks_send_due
    from tests.integration.test_webhooks import Receiver

    chosen, everything = Receiver(), Receiver()
    try:
        target, secret = webhook_create(actor=people["actor"], url=chosen.url,
                                        event_types=["deal.won"], allow_private_network=True)
        webhook_create(actor=people["actor"], url=everything.url, event_types=["*"],
                       allow_private_network=True)
        rule = _fire(people, [{"kind": "call_webhook", "webhook": str(target.pk)}])
        c = customer(people["rep"], name="回调客户")
        deliver()
        deliver()  # a second pass acts on nothing twice
        dispatch()
        webhooks_send_due()
        (call,) = chosen.calls
        payload = Webhook(secret).verify(call["body"], call["headers"])
        assert payload["type"] == "rule.webhook_called"
        assert payload["data"]["customer_id"] == c.pk
        assert payload["data"]["changes"]["rule"] == {"id": rule.pk, "name": "动作"}
        import json

        seen = [json.loads(c["body"])["type"] for c in everything.calls]
        assert "customer.created" in seen and "rule.webhook_called" not in seen
        assert WebhookDelivery.objects.filter(endpoint=target).count() == 1
        assert runs(rule)[0].status == RuleRun.DONE
    finally:
        chosen.close()
        everything.close()
