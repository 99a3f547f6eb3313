"""`kehu sla recompute` and `kehu sla check`."""

import datetime as dt
import json

import pytest
from django.core.management import call_command
from django.utils import timezone

from kehu.service.models import TicketSLA
from kehu.transactions.models import Ticket

pytestmark = pytest.mark.django_db


def test_recompute_and_check(capsys, customer, admin_user):
    # a ticket written in bulk, without clocks or history (as imports and the demo do)
    Ticket.objects.create(customer=customer, number="TK-BULK-1", kind="inquiry", subject="问价",
                          opened_at=timezone.now() - dt.timedelta(days=20))
    call_command("sla", "recompute", "--json")
    assert json.loads(capsys.readouterr().out) == {"tickets": 1}
    sla = TicketSLA.objects.get()
    assert sla.policy.name == "普通工单" and sla.first_response_breached
    call_command("sla", "check", "--json")
    counts = json.loads(capsys.readouterr().out)
    assert counts["breaches"] >= 1
    assert Ticket.objects.get().priority == "high"
