"""Pages: "My follow-ups" with htmx completion, and the card's quick-log view contract."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from kehu.interactions.models import FollowUpTask, Interaction
from tests.unchanged import db_snapshot

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def browser(client, rep):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    client.force_login(rep)
    return client


def test_follow_up_page_groups_tasks(browser, rep, customer):
    today = timezone.localdate()
    for days, title in [(-1, "逾期任务"), (0, "今天任务"), (2, "即将任务")]:
        FollowUpTask.objects.create(customer=customer, assignee=rep, title=title,
                                    due_date=today + dt.timedelta(days=days))
    response = browser.get(reverse("interactions:follow_ups"))
    assert response.status_code == 200
    html = response.content.decode()
    overdue = html.index('data-testid="follow-ups-overdue"')
    today_at = html.index('data-testid="follow-ups-today"')
    upcoming = html.index('data-testid="follow-ups-upcoming"')
    assert overdue < html.index("逾期任务") < today_at < html.index("今天任务") < upcoming
    assert html.index("即将任务") > upcoming
    assert "<script>" not in html and "style=" not in html


def test_complete_with_htmx_returns_the_row(browser, rep, customer):
    task = FollowUpTask.objects.create(customer=customer, assignee=rep, title="回访",
                                       due_date=timezone.localdate())
    response = browser.post(reverse("interactions:follow_up_complete", args=[task.pk]), **HTMX)
    assert response.status_code == 200
    assert response.content.decode().lstrip().startswith(f'<tr id="task-{task.pk}"')
    assert FollowUpTask.objects.get(pk=task.pk).status == "done"


def test_reschedule_without_htmx_redirects(browser, rep, customer):
    task = FollowUpTask.objects.create(customer=customer, assignee=rep, title="回访",
                                       due_date=timezone.localdate())
    later = timezone.localdate() + dt.timedelta(days=3)
    response = browser.post(reverse("interactions:follow_up_reschedule", args=[task.pk]),
                            {f"t{task.pk}-due_date": later.isoformat()})
    assert response.status_code == 302
    assert FollowUpTask.objects.get(pk=task.pk).due_date == later


def test_someone_elses_task_is_404(client, make_user, customer, rep):
    task = FollowUpTask.objects.create(customer=customer, assignee=rep, title="x",
                                       due_date=timezone.localdate())
    client.force_login(make_user("sales_rep"))
    before = db_snapshot()
    response = client.post(reverse("interactions:follow_up_complete", args=[task.pk]))
    assert response.status_code == 404
    assert db_snapshot() == before
    assert FollowUpTask.objects.get(pk=task.pk).status == "open"


def test_log_get_returns_the_form(browser, customer):
    response = browser.get(reverse("interactions:log", args=[customer.pk]), {"target": "#tl"})
    html = response.content.decode()
    assert response.status_code == 200
    assert f'id="log-form-{customer.pk}"' in html and 'hx-target="#tl"' in html


def test_log_post_returns_timeline_item_and_fresh_form(browser, rep, customer):
    due = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    response = browser.post(reverse("interactions:log", args=[customer.pk]), {
        "kind": "visit", "direction": "outbound", "summary": "上门演示新机型",
        "outcome": "有意向", "next_follow_up": due, "timeline_target": "#timeline"}, **HTMX)
    assert response.status_code == 200
    interaction = Interaction.objects.get()
    html = response.content.decode()
    assert f'id="timeline-interaction-{interaction.pk}"' in html and "上门演示新机型" in html
    assert 'hx-swap-oob="true"' in html
    assert FollowUpTask.objects.get().assignee == rep
    assert response["HX-Trigger"] == "followUpsChanged"  # the card's follow-up tab reloads


def test_log_post_without_follow_up_announces_nothing(browser, customer):
    response = browser.post(reverse("interactions:log", args=[customer.pk]), {
        "kind": "call", "direction": "outbound", "summary": "电话没人接",
        "timeline_target": "#timeline"}, **HTMX)
    assert response.status_code == 200 and Interaction.objects.count() == 1
    assert "HX-Trigger" not in response


def test_log_post_with_errors_retargets_the_form(browser, customer):
    response = browser.post(reverse("interactions:log", args=[customer.pk]), {
        "kind": "call", "direction": "outbound", "summary": "x",
        "next_follow_up": "2001-01-01"}, **HTMX)
    assert response.status_code == 200
    assert response["HX-Retarget"] == f"#log-form-{customer.pk}"
    assert response["HX-Reswap"] == "outerHTML"
    assert "errorlist" in response.content.decode()
    assert not Interaction.objects.exists()


def test_log_permission_and_scope(client, make_user, customer, others_customer, rep):
    client.force_login(make_user("read_only"))
    before = db_snapshot()
    url = reverse("interactions:log", args=[customer.pk])
    assert client.post(url, {"kind": "call", "summary": "x"}, **HTMX).status_code == 403
    client.force_login(rep)
    url = reverse("interactions:log", args=[others_customer.pk])
    assert client.post(url, {"kind": "call", "direction": "outbound", "summary": "x"},
                       **HTMX).status_code == 404
    assert not Interaction.objects.exists()
    assert db_snapshot() == before


def test_partials_render_for_the_card(rf, rep, customer):
    from django.template.loader import render_to_string

    from kehu.interactions.selectors import TimelineItem

    request = rf.get("/")
    request.user = rep
    placeholder = render_to_string("interactions/_log_form.html", {"customer": customer},
                                   request=request)
    assert 'hx-trigger="load"' in placeholder
    assert reverse("interactions:log", args=[customer.pk]) in placeholder
    order_item = TimelineItem(kind="order", at=timezone.now(), title="订单 SO1", body="A × 2",
                              meta={"total_amount": "10.00"}, object_id=7)
    html = render_to_string("interactions/_timeline_item.html", {"item": order_item})
    assert reverse("transactions:order", args=[7]) in html and "¥10.00" in html
