"""My tasks: snooze and reassign (services, pages, API), the tabs and their filters."""

import datetime as dt
import json
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from kehu.core.errors import NotFound, ValidationFailed
from kehu.core.models import AuditEntry, DomainEvent
from kehu.interactions import selectors, services
from kehu.interactions.models import FollowUpTask
from kehu.notifications.models import Notification
from tests.factories import CustomerFactory, TeamFactory
from tests.unchanged import db_snapshot

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def _task(customer, assignee, days=0, title="回访"):
    return FollowUpTask.objects.create(customer=customer, assignee=assignee, title=title,
                                       due_date=timezone.localdate() + dt.timedelta(days=days))


def _post(client, url, body):
    return client.post(url, data=json.dumps(body), content_type="application/json")


# Services -------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs,days", [({"days": 1}, 1), ({"days": 3}, 3), ({"days": 7}, 7)])
def test_snooze_by_days_counts_from_today(rep, customer, actor_for, kwargs, days):
    task = _task(customer, rep, days=-4)  # overdue: +1 means tomorrow, not three days ago
    services.follow_up_snooze(actor=actor_for(rep), task=task, **kwargs)
    task.refresh_from_db()
    assert task.due_date == timezone.localdate() + dt.timedelta(days=days)
    event = DomainEvent.objects.get(type="followup.snoozed")
    assert event.changes["due_date"]["after"] == task.due_date.isoformat()
    assert AuditEntry.objects.filter(action="followup.snooze", object_id=str(task.pk)).exists()


def test_snooze_to_a_day_and_refusals(rep, customer, actor_for):
    task = _task(customer, rep)
    day = timezone.localdate() + dt.timedelta(days=10)
    services.follow_up_snooze(actor=actor_for(rep), task=task, until=day)
    task.refresh_from_db()
    assert task.due_date == day
    for kwargs, field in [({}, "until"), ({"days": 0}, "days"), ({"days": 400}, "days"),
                          ({"days": 1, "until": day}, "until"),
                          ({"until": timezone.localdate() - dt.timedelta(days=1)}, "until")]:
        with pytest.raises(ValidationFailed) as caught:
            services.follow_up_snooze(actor=actor_for(rep), task=task, **kwargs)
        assert field in caught.value.details
    task.refresh_from_db()
    assert task.due_date == day
    assert DomainEvent.objects.filter(type="followup.snoozed").count() == 1


def test_reassign_within_the_team_notifies_the_new_assignee(rep, colleague, customer,
                                                            actor_for):
    task = _task(customer, rep)
    services.follow_up_reassign(actor=actor_for(rep), task=task, assignee=colleague)
    task.refresh_from_db()
    assert task.assignee == colleague
    event = DomainEvent.objects.get(type="followup.reassigned")
    assert event.changes["assignee"] == {"before": rep.pk, "after": colleague.pk}
    note = Notification.objects.get(recipient=colleague)
    assert note.kind == "followup.assigned" and "回访" in note.title
    assert note.customer_id == customer.pk
    # The colleague now sees it among their tasks.
    assert [t.pk for t in selectors.follow_up_tab(colleague, tab="today")] == [task.pk]


def test_reassign_outside_whom_one_may_assign_changes_nothing(rep, customer, actor_for,
                                                              make_user):
    stranger = make_user("sales_rep", team=TeamFactory())
    task = _task(customer, rep)
    before = db_snapshot()
    with pytest.raises(ValidationFailed) as caught:
        services.follow_up_reassign(actor=actor_for(rep), task=task, assignee=stranger)
    assert "assignee" in caught.value.details
    with pytest.raises(ValidationFailed):
        services.follow_up_reassign(actor=actor_for(rep), task=task, assignee=rep)
    stranger.is_active = False
    with pytest.raises(ValidationFailed):
        services.follow_up_reassign(actor=actor_for(rep), task=task, assignee=stranger)
    assert db_snapshot() == before


def test_a_manager_with_customer_assign_may_hand_to_anyone(make_user, rep, customer,
                                                           actor_for):
    manager = make_user("admin")
    elsewhere = make_user("sales_rep", team=TeamFactory())
    task = _task(customer, rep)
    services.follow_up_reassign(actor=actor_for(manager), task=task, assignee=elsewhere)
    assert FollowUpTask.objects.get(pk=task.pk).assignee == elsewhere


def test_someone_outside_the_scope_cannot_snooze_or_reassign(make_user, rep, customer,
                                                             actor_for):
    outsider = make_user("sales_rep", team=TeamFactory())
    task = _task(customer, rep)
    before = db_snapshot()
    with pytest.raises(NotFound):
        services.follow_up_snooze(actor=actor_for(outsider), task=task, days=1)
    with pytest.raises(NotFound):
        services.follow_up_reassign(actor=actor_for(outsider), task=task, assignee=outsider)
    assert db_snapshot() == before


# Tabs -------------------------------------------------------------------------------------


def test_tabs_split_the_tasks_and_count_them(rep, customer, actor_for):
    overdue, today, later = _task(customer, rep, -2, "逾期"), _task(customer, rep, 0, "今天"), \
        _task(customer, rep, 5, "以后")
    done = _task(customer, rep, 0, "已完成")
    services.follow_up_complete(actor=actor_for(rep), task=done)
    ids = {tab: [t.pk for t in selectors.follow_up_tab(rep, tab=tab)]
           for tab in selectors.TASK_TABS}
    assert ids == {"open": [overdue.pk, today.pk, later.pk], "today": [today.pk],
                   "overdue": [overdue.pk], "upcoming": [later.pk], "done": [done.pk]}
    assert selectors.follow_up_tab_counts(rep) == {"open": 3, "today": 1, "overdue": 1,
                                                   "upcoming": 1, "done": 1}
    assert [t.pk for t in selectors.follow_up_tab(rep, tab="open", search="以后")] == [later.pk]
    assert selectors.follow_up_tab_counts(rep, search=customer.name[:1])["open"] == 3


# Pages ------------------------------------------------------------------------------------


@pytest.fixture
def browser(client, rep):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    client.force_login(rep)
    return client


def test_tab_pages(browser, rep, customer, actor_for):
    _task(customer, rep, -1, "逾期任务")
    _task(customer, rep, 3, "以后任务")
    url = reverse("interactions:follow_ups")
    html = browser.get(url, {"tab": "overdue"}).content.decode()
    assert "逾期任务" in html and "以后任务" not in html
    assert 'data-testid="tab-overdue"' in html and 'aria-current="page"' in html
    html = browser.get(url, {"tab": "upcoming", "q": "以后"}).content.decode()
    assert "以后任务" in html and "逾期任务" not in html
    html = browser.get(url).content.decode()  # all open: the three sections
    assert 'data-testid="follow-ups-overdue"' in html and "以后任务" in html


def test_snooze_and_reassign_through_the_page(browser, rep, colleague, customer):
    task = _task(customer, rep)
    response = browser.post(reverse("interactions:follow_up_snooze", args=[task.pk]),
                            {f"s{task.pk}-days": "3"}, **HTMX)
    assert response.status_code == 200
    assert response.content.decode().lstrip().startswith(f'<tr id="task-{task.pk}"')
    task.refresh_from_db()
    assert task.due_date == timezone.localdate() + dt.timedelta(days=3)
    form = browser.get(reverse("interactions:follow_up_reassign", args=[task.pk]), **HTMX)
    assert f'value="{colleague.pk}"' in form.content.decode()
    assert f'value="{rep.pk}"' not in form.content.decode()  # already theirs
    response = browser.post(reverse("interactions:follow_up_reassign", args=[task.pk]),
                            {f"r{task.pk}-assignee": str(colleague.pk)}, **HTMX)
    assert response.status_code == 200
    assert f'data-testid="handed-to-{task.pk}"' in response.content.decode()
    assert FollowUpTask.objects.get(pk=task.pk).assignee == colleague


def test_page_refusals_change_nothing(browser, rep, customer, make_user):
    task = _task(customer, rep)
    stranger = make_user("sales_rep", team=TeamFactory())
    foreign = _task(CustomerFactory(owner=stranger), stranger)
    before = db_snapshot()
    response = browser.post(reverse("interactions:follow_up_reassign", args=[task.pk]),
                            {f"r{task.pk}-assignee": str(stranger.pk)}, **HTMX)
    assert response.status_code == 200 and "errorlist" in response.content.decode()
    response = browser.post(reverse("interactions:follow_up_snooze", args=[task.pk]),
                            {f"s{task.pk}-days": "5"}, **HTMX)  # not an offered choice
    assert "errorlist" in response.content.decode()
    assert browser.post(reverse("interactions:follow_up_snooze", args=[foreign.pk]),
                        {f"s{foreign.pk}-days": "1"}).status_code == 404
    assert db_snapshot() == before


# API --------------------------------------------------------------------------------------


def test_api_tabs_snooze_and_reassign(api_client_for, rep, colleague, customer):
    overdue, later = _task(customer, rep, -1), _task(customer, rep, 4)
    client = api_client_for(rep)
    listed = client.get("/api/v1/follow-ups", {"tab": "overdue"}).json()
    assert [t["id"] for t in listed["items"]] == [overdue.pk]
    snoozed = _post(client, f"/api/v1/follow-ups/{overdue.pk}/snooze", {"days": 1})
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    assert snoozed.status_code == 200 and snoozed.json()["due_date"] == tomorrow.isoformat()
    day = (timezone.localdate() + dt.timedelta(days=9)).isoformat()
    assert _post(client, f"/api/v1/follow-ups/{later.pk}/snooze",
                 {"until": day}).json()["due_date"] == day
    moved = _post(client, f"/api/v1/follow-ups/{later.pk}/reassign",
                  {"assignee": colleague.username})
    assert moved.status_code == 200 and moved.json()["assignee"] == colleague.username
    assert client.get("/api/v1/follow-ups", {"tab": "upcoming"}).json()["count"] == 1


@pytest.mark.parametrize("body", [{}, {"days": 0}, {"days": True}, {"days": 1, "until": "x"},
                                  {"until": "2001-01-01"}])
def test_api_snooze_refusals(api_client_for, rep, customer, body):
    task = _task(customer, rep)
    client = api_client_for(rep)
    before = db_snapshot()
    response = _post(client, f"/api/v1/follow-ups/{task.pk}/snooze", body)
    assert response.status_code == 422
    assert db_snapshot() == before


def test_api_reassign_refusals(api_client_for, rep, customer, make_user):
    task = _task(customer, rep)
    stranger = make_user("sales_rep", team=TeamFactory())
    client = api_client_for(rep)
    foreign = _task(CustomerFactory(owner=stranger), stranger)
    read_only = api_client_for(rep, scopes=("read",))
    before = db_snapshot()
    for body in ({"assignee": stranger.username}, {"assignee": "nobody"}, {},
                 {"assignee": rep.username, "assignee_id": rep.pk}):
        assert _post(client, f"/api/v1/follow-ups/{task.pk}/reassign", body).status_code == 422
    assert _post(client, f"/api/v1/follow-ups/{foreign.pk}/reassign",
                 {"assignee_id": rep.pk}).status_code == 404
    assert _post(read_only, f"/api/v1/follow-ups/{task.pk}/snooze",
                 {"days": 1}).status_code == 403
    assert db_snapshot() == before


def test_snooze_to_a_day_through_the_page(browser, rep, customer):
    task = _task(customer, rep)
    day = (timezone.localdate() + dt.timedelta(days=12)).isoformat()
    response = browser.post(reverse("interactions:follow_up_snooze", args=[task.pk]),
                            {f"s{task.pk}-until": day})
    assert response.status_code == 302
    task.refresh_from_db()
    assert task.due_date.isoformat() == day
    assert DomainEvent.objects.filter(type="followup.snoozed").count() == 1


def test_the_tasks_page_costs_the_same_queries_for_more_tasks(browser, rep, customer):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for days in (-1, 0, 2):
        _task(customer, rep, days)
    url = reverse("interactions:follow_ups")
    browser.get(url)
    with CaptureQueriesContext(connection) as few:
        browser.get(url)
    for days in (-3, -2, 0, 1, 3, 4, 5, 6):
        _task(CustomerFactory(owner=rep), rep, days)
    with CaptureQueriesContext(connection) as many:
        html = browser.get(url).content.decode()
    assert len(re.findall(r'data-testid="task-\d+"', html)) == 11
    assert len(many) == len(few)
