"""interaction_log and the follow-up services: permission, scope, validation, audit, tasks."""

import datetime as dt

import pytest
from django.utils import timezone

from kehu.core.errors import NotFound, PermissionDenied, ValidationFailed
from kehu.core.models import AuditEntry
from kehu.customers.models import Customer
from kehu.interactions import services
from kehu.interactions.models import FollowUpTask, Interaction
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_log_records_interaction_audit_and_last_activity(rep, customer, actor_for):
    at = timezone.now() - dt.timedelta(hours=2)
    interaction = services.interaction_log(
        actor=actor_for(rep), customer=customer, kind="call", summary="  询问打印机报价 ",
        occurred_at=at, direction="inbound", channel="400热线", outcome="发送报价",
    )
    assert interaction.summary == "询问打印机报价"
    assert interaction.actor == rep and interaction.direction == "inbound"
    customer.refresh_from_db()
    assert customer.last_activity_at == at
    entry = AuditEntry.objects.get(action="interaction.create")
    assert entry.object_id == str(interaction.pk)
    assert entry.actor_user_id == rep.pk
    assert entry.changes["summary"] == {"before": None, "after": "询问打印机报价"}
    assert entry.changes["kind"]["after"] == "call"
    assert not FollowUpTask.objects.exists()


def test_last_activity_never_moves_back(rep, customer, actor_for):
    recent = timezone.now() - dt.timedelta(minutes=5)
    Customer.objects.filter(pk=customer.pk).update(last_activity_at=recent)
    services.interaction_log(actor=actor_for(rep), customer=customer, kind="note",
                             summary="补记上周拜访", occurred_at=recent - dt.timedelta(days=7))
    customer.refresh_from_db()
    assert customer.last_activity_at == recent


def test_next_follow_up_creates_task_for_owner(make_user, rep, customer, actor_for):
    agent = make_user("service_agent")
    due = timezone.localdate() + dt.timedelta(days=3)
    interaction = services.interaction_log(
        actor=actor_for(agent), customer=customer, kind="call", summary="客户来电咨询",
        outcome="需要销售回电", next_follow_up=due)
    task = FollowUpTask.objects.get()
    assert task.assignee == rep  # the owner, not the agent who logged it
    assert task.customer == customer and task.interaction == interaction
    assert task.due_date == due and task.status == "open"
    # The task names what the call was about, not how it ended.
    assert "客户来电咨询" in task.title and "需要销售回电" not in task.title
    assert AuditEntry.objects.filter(action="followup.create", object_id=str(task.pk)).count() == 1


def test_next_follow_up_goes_to_actor_when_customer_has_no_owner(make_user, actor_for):
    agent = make_user("service_agent")
    orphan = CustomerFactory(owner=None)
    services.interaction_log(actor=actor_for(agent), customer=orphan, kind="visit",
                             summary="上门", next_follow_up=timezone.localdate())
    assert FollowUpTask.objects.get().assignee == agent


def test_log_needs_interaction_add(make_user, customer, actor_for):
    reader = make_user("read_only")
    with pytest.raises(PermissionDenied):
        services.interaction_log(actor=actor_for(reader), customer=customer, kind="call",
                                 summary="x")
    assert not Interaction.objects.exists() and not AuditEntry.objects.exists()


def test_log_on_customer_outside_scope_is_not_found(rep, others_customer, actor_for):
    with pytest.raises(NotFound):
        services.interaction_log(actor=actor_for(rep), customer=others_customer, kind="call",
                                 summary="x")
    assert not Interaction.objects.exists()


def test_log_on_merged_customer_is_not_found(rep, customer, actor_for):
    Customer.objects.filter(pk=customer.pk).update(status="merged")
    with pytest.raises(NotFound):
        services.interaction_log(actor=actor_for(rep), customer=customer, kind="call",
                                 summary="x")


def test_log_validates_fields_together(rep, customer, actor_for):
    with pytest.raises(ValidationFailed) as caught:
        services.interaction_log(
            actor=actor_for(rep), customer=customer, kind="call", summary="   ",
            occurred_at=timezone.now() + dt.timedelta(days=2),
            next_follow_up=timezone.localdate() - dt.timedelta(days=1))
    assert set(caught.value.details) == {"summary", "occurred_at", "next_follow_up"}
    with pytest.raises(ValidationFailed) as caught:
        services.interaction_log(actor=actor_for(rep), customer=customer, kind="telegram",
                                 summary="x")
    assert "kind" in caught.value.details
    assert not Interaction.objects.exists() and not AuditEntry.objects.exists()


def test_failed_task_rolls_back_the_interaction(rep, customer, actor_for, monkeypatch):
    def boom(**kwargs):
        raise ValidationFailed(details={"title": ["bad"]})

    monkeypatch.setattr(services, "_follow_up_insert", boom)
    with pytest.raises(ValidationFailed):
        services.interaction_log(actor=actor_for(rep), customer=customer, kind="call",
                                 summary="x", next_follow_up=timezone.localdate())
    assert not Interaction.objects.exists()
    assert not AuditEntry.objects.exists()
    customer.refresh_from_db()
    assert customer.last_activity_at is None


def test_no_update_or_delete_service_exists():
    names = {name for name in dir(services) if name.startswith("interaction")}
    # interaction_prepare only checks and builds; interactions_log_many appends many.
    assert names == {"interaction_log", "interaction_prepare", "interactions_log_many"}


# Follow-ups -----------------------------------------------------------------------


def _task(actor, customer, **kwargs):
    kwargs.setdefault("due_date", timezone.localdate())
    return services.follow_up_create(actor=actor, customer=customer, title="回访", **kwargs)


def test_follow_up_create_defaults_to_owner(colleague, rep, customer, actor_for, make_user):
    manager = make_user("admin")
    task = _task(actor_for(manager), customer)
    assert task.assignee == rep
    assert AuditEntry.objects.filter(action="followup.create").count() == 1


def test_follow_up_create_rejects_past_date(rep, customer, actor_for):
    with pytest.raises(ValidationFailed) as caught:
        _task(actor_for(rep), customer, due_date=timezone.localdate() - dt.timedelta(days=1))
    assert list(caught.value.details) == ["due_date"]


def test_complete_sets_done_and_audits(rep, customer, actor_for):
    task = _task(actor_for(rep), customer)
    done = services.follow_up_complete(actor=actor_for(rep), task=task)
    assert done.status == "done" and done.done_at is not None
    entry = AuditEntry.objects.get(action="followup.complete")
    assert entry.changes["status"] == {"before": "open", "after": "done"}
    with pytest.raises(ValidationFailed) as caught:
        services.follow_up_complete(actor=actor_for(rep), task=task)
    assert list(caught.value.details) == ["status"]


def test_assignee_may_complete_even_outside_scope(make_user, customer, actor_for, rep):
    helper = make_user("read_only")
    task = _task(actor_for(rep), customer, assignee=helper)
    services.follow_up_complete(actor=actor_for(helper), task=task)
    assert FollowUpTask.objects.get(pk=task.pk).status == "done"


def test_stranger_cannot_complete(rep, colleague, customer, actor_for):
    task = _task(actor_for(rep), customer)
    with pytest.raises(NotFound):
        services.follow_up_complete(actor=actor_for(colleague), task=task)
    assert FollowUpTask.objects.get(pk=task.pk).status == "open"


def test_reschedule_moves_due_date(rep, customer, actor_for):
    task = _task(actor_for(rep), customer)
    later = timezone.localdate() + dt.timedelta(days=10)
    services.follow_up_reschedule(actor=actor_for(rep), task=task, due_date=later)
    assert FollowUpTask.objects.get(pk=task.pk).due_date == later
    entry = AuditEntry.objects.get(action="followup.reschedule")
    assert entry.changes["due_date"]["after"] == later.isoformat()
    with pytest.raises(ValidationFailed):
        services.follow_up_reschedule(actor=actor_for(rep), task=task,
                                      due_date=timezone.localdate() - dt.timedelta(days=1))


def test_cancel_keeps_the_task(rep, customer, actor_for):
    task = _task(actor_for(rep), customer)
    services.follow_up_cancel(actor=actor_for(rep), task=task)
    assert FollowUpTask.objects.get(pk=task.pk).status == "cancelled"
