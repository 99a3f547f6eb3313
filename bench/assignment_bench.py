#!/usr/bin/env python3
"""Lead assignment benchmark: decisions per second of `assignment_apply` (round robin and
least open items over 10 rules, the matching one last), and the extra time the form
designer's field rules add to `customer_create`.

Builds --customers unowned customers in a fresh temporary KEHU_HOME (SQLite), a team of
--members reps with open follow-ups, ten rules whose conditions match nobody but the last,
then assigns the customers in batches of --batch. Figures, not a test: exits 0.

    .venv/bin/python bench/assignment_bench.py                     # 2,000 customers
    .venv/bin/python bench/assignment_bench.py --customers 20000 --batch 1000
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup() -> None:
    sys.path.insert(0, str(ROOT / "src"))
    os.environ.setdefault("KEHU_HOME", tempfile.mkdtemp(prefix="kehu-assignbench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kehu.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--members", type=int, default=20)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--creates", type=int, default=300)
    args = parser.parse_args()
    setup()
    from django.utils import timezone

    from kehu.accounts.models import Team, User
    from kehu.assignment.services import assignment_apply, assignment_rule_save
    from kehu.core.actor import Actor
    from kehu.customers.models import Customer
    from kehu.customers.services import customer_create, field_behaviour_save
    from kehu.interactions.models import FollowUpTask

    system = Actor.system(via="system")
    team = Team.objects.create(name="华东销售")
    members = [User.objects.create(username=f"rep{i}", team=team) for i in range(args.members)]
    anchor = Customer.objects.create(name="锚点")
    FollowUpTask.objects.bulk_create([
        FollowUpTask(customer=anchor, assignee=m, title="t", due_date=timezone.localdate())
        for i, m in enumerate(members) for _ in range(i % 5)])
    Customer.objects.bulk_create([Customer(name=f"客户{i}", region="华东", industry="软件")
                                  for i in range(args.customers)], batch_size=2000)
    ids = list(Customer.objects.filter(region="华东").values_list("pk", flat=True))
    for i in range(9):
        assignment_rule_save(actor=system, name=f"规则{i}", team=team, method="round_robin",
                             condition={
            "type": "group", "match": "all", "conditions": [
                {"type": "field", "field": "industry", "op": "eq", "value": f"行业{i}"}]})
    for method in ("round_robin", "least_loaded"):
        rule = assignment_rule_save(actor=system, name=method, team=team, method=method,
                                    capacity=100, condition={
                                        "type": "group", "match": "all", "conditions": [
                                            {"type": "field", "field": "region", "op": "eq",
                                             "value": "华东"}]})
        Customer.objects.filter(pk__in=ids).update(owner=None, team=None)
        start = time.perf_counter()
        for offset in range(0, len(ids), args.batch):
            assignment_apply(actor=system, customer_ids=ids[offset:offset + args.batch])
        elapsed = time.perf_counter() - start
        print(f"{method}: {len(ids):,} customers in {elapsed:.1f} s "
              f"({len(ids) / elapsed:,.0f} decisions/s, batches of {args.batch}, "
              f"{args.members} members, 10 rules)")
        rule.is_active = False
        rule.save(update_fields=["is_active"])

    def creates(label: str) -> float:
        start = time.perf_counter()
        for i in range(args.creates):
            customer_create(actor=system, name=f"新客户{label}{i}", kind="organisation",
                            industry="软件")
        return time.perf_counter() - start

    creates("w")  # warm-up
    without = creates("a")
    for field, effect in (("industry", "required"), ("website", "readonly"),
                          ("notes", "hidden")):
        field_behaviour_save(actor=system, field=field, effect=effect, condition={
            "match": "all", "conditions": [{"field": "kind", "op": "eq",
                                            "value": "organisation"}]})
    with_rules = creates("b")
    print(f"customer_create x{args.creates}: {without:.2f} s without field rules, "
          f"{with_rules:.2f} s with 3 ({with_rules / without:.2f}x)")


if __name__ == "__main__":
    main()
