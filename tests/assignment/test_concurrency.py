"""The round-robin pointer under concurrent calls (PostgreSQL row locks): a second call waits
for the first and continues from where it left the pointer, so no turn is handed out twice."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from kehu.assignment import services
from kehu.assignment.decide import decide as real_decide
from kehu.customers.models import Customer
from tests.assignment.conftest import EAST, SYSTEM
from tests.factories import CustomerFactory, TeamFactory, UserFactory


@pytest.mark.django_db(transaction=True)
def test_concurrent_calls_never_hand_out_the_same_turn(monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks; SQLite serialises writers by itself")
    from kehu.core.audit import keyed_mark
    from kehu.core.models import AuditChainHead

    AuditChainHead.objects.get_or_create(id=1, defaults={"keyed_from_seq": 1,
                                                         "keyed_mark": keyed_mark(1)})
    team = TeamFactory(name="华东销售")
    members = [UserFactory(role_code="sales_rep", team=team, username=f"rep{x}")
               for x in "abc"]
    services.assignment_rule_save(actor=SYSTEM, name="华东区", condition=EAST, team=team,
                                  method="round_robin")
    first = [CustomerFactory(region="华东").pk for _ in range(2)]
    second = [CustomerFactory(region="华东").pk for _ in range(2)]
    inside = threading.Event()

    def slow_decide(*args, **kwargs):
        result = real_decide(*args, **kwargs)
        if not inside.is_set():
            inside.set()  # the first call holds the rule's lock; let the second one try now
            time.sleep(1.0)
        return result

    monkeypatch.setattr(services, "decide", slow_decide)
    errors: list[str] = []

    def run(ids):
        from django.db import connections

        try:
            services.assignment_apply(actor=SYSTEM, customer_ids=ids)
        except Exception as exc:  # noqa: BLE001 - reported by the assert below
            errors.append(repr(exc))
        finally:
            connections.close_all()

    one = threading.Thread(target=run, args=(first,))
    one.start()
    assert inside.wait(10)
    two = threading.Thread(target=run, args=(second,))
    two.start()
    one.join()
    two.join()
    assert errors == []
    owners = dict(Customer.objects.filter(pk__in=first + second)
                  .values_list("pk", "owner__username"))
    # Without the lock both calls would read an empty pointer: repa, repb twice.
    assert [owners[i] for i in first] == ["repa", "repb"]
    assert [owners[i] for i in second] == ["repc", "repa"]
    assert members[0].pk  # the members exist as created
