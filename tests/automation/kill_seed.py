"""Seed for the killed-worker test (run in a child process on a fresh KEHU_HOME): an event
rule and a time rule, active, and `count` new customers (their customer.created events wait
for the dispatcher; all of them qualify for the time rule)."""

from __future__ import annotations

import datetime as dt


def seed(count: int) -> None:
    from django.utils import timezone

    from kehu.automation import services
    from kehu.core.actor import Actor
    from kehu.customers.models import Customer
    from kehu.customers.services import customer_create

    actor = Actor.system(via="system")
    every = {"type": "group", "match": "all", "conditions": []}
    task = {"kind": "follow_up", "to": "owner", "title": "事件 {{ customer.name }}",
            "due_days": 1}
    created = services.rule_create(actor=actor, name="新客户", trigger={
        "kind": "customer_created"}, conditions=every,
        actions=[task, {"kind": "add_tag", "tag": "新客"}], max_runs_per_hour=100000)
    services.rule_activate(actor=actor, rule=created, backfill=False)
    quiet = services.rule_create(actor=actor, name="沉默", trigger={
        "kind": "no_interaction", "days": 30}, conditions=every,
        actions=[{**task, "title": "沉默 {{ customer.name }}"}], max_runs_per_hour=100000)
    services.rule_activate(actor=actor, rule=quiet, backfill=True)
    from django.contrib.auth import get_user_model

    owner = get_user_model().objects.order_by("pk").first()
    for index in range(count):
        customer_create(actor=actor, name=f"客户{index:04d}", owner=owner)
    Customer.objects.update(created_at=timezone.now() - dt.timedelta(days=90))
