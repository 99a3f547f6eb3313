"""The stale-customer reminder job: one open follow-up per forgotten customer, never two."""

import datetime as dt

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone, translation
from django.utils.translation import gettext

from kehu.core.models import AuditEntry
from kehu.customers.models import Customer
from kehu.interactions import services as interaction_services
from kehu.interactions.models import FollowUpTask
from kehu.quality import services
from tests.factories import create_customer
from tests.unchanged import db_snapshot

pytestmark = pytest.mark.django_db


def _age(customer, days):
    then = timezone.now() - dt.timedelta(days=days)
    Customer.objects.filter(pk=customer.pk).update(created_at=then, updated_at=then)


@pytest.fixture
def book(rep, as_user):
    forgotten = create_customer(owner=rep, name="被遗忘的客户")
    called = create_customer(owner=rep, name="刚联系过")
    ownerless = create_customer(name="无主客户")
    new = create_customer(owner=rep, name="新客户")
    for c in (forgotten, called, ownerless):
        _age(c, 200)
    interaction_services.interaction_log(actor=as_user(rep), customer=called, kind="call",
                                         summary="回访")
    return {"forgotten": forgotten, "called": called, "ownerless": ownerless, "new": new}


def test_remind_creates_one_task_per_stale_customer_and_is_idempotent(system, rep, book):
    first = services.quality_remind(actor=system)
    assert (first.days, first.created, first.already_open) == (180, 1, 0)
    task = FollowUpTask.objects.get()
    assert (task.customer_id, task.assignee_id, task.status, task.due_date) == (
        book["forgotten"].pk, rep.pk, "open", timezone.localdate())
    with translation.override(settings.LANGUAGE_CODE):  # written in the site's language
        assert task.title == gettext("No contact for %(days)d days: get in touch with %(name)s"
                                     ) % {"days": 180, "name": "被遗忘的客户"}
    second = services.quality_remind(actor=system)
    assert (second.created, second.already_open) == (0, 1)
    assert FollowUpTask.objects.count() == 1
    assert list(AuditEntry.objects.filter(action__in=["followup.create", "quality.remind"])
                .order_by("seq").values_list("action", flat=True)) == [
        "followup.create", "quality.remind", "quality.remind"]


def test_a_done_reminder_lets_the_next_run_remind_again(system, rep, book, as_user):
    services.quality_remind(actor=system)
    interaction_services.follow_up_complete(actor=as_user(rep), task=FollowUpTask.objects.get())
    assert services.quality_remind(actor=system).created == 1
    assert FollowUpTask.objects.filter(status="open").count() == 1


def test_days_is_configurable(system, book):
    assert services.quality_remind(actor=system, days=365).created == 0
    services.quality_settings_update(actor=system, stale_days=100)
    assert services.quality_remind(actor=system).days == 100


def test_remind_needs_quality_configure(rep, as_user, book):
    from kehu.core.errors import PermissionDenied

    before = db_snapshot()
    with pytest.raises(PermissionDenied):
        services.quality_remind(actor=as_user(rep))
    assert FollowUpTask.objects.count() == 0
    assert db_snapshot() == before


def test_cli_remind_json(book, capsys):
    call_command("quality", "remind", "--days", "180", "--json")
    assert capsys.readouterr().out.strip() == (
        '{"days": 180, "created": 1, "already_open": 0}')
    call_command("quality", "score", "--json")
    out = capsys.readouterr().out
    assert '"customers": 4' in out
