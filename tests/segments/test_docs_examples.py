"""Every example in docs/segments.md (each ```json block and each inline definition or
condition) and every builder template runs on a small `kehu demo` book; the demo has the
membership tiers the platinum-birthday example needs."""

from __future__ import annotations

import json
import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db.models import Sum
from django.utils import translation

from kehu.accounts.models import User
from kehu.cli.demo_customers import tier_of
from kehu.core.errors import ValidationFailed
from kehu.customers.models import Customer, CustomerTag, Tag
from kehu.segments.definition import validate
from kehu.segments.library import TEMPLATES
from kehu.segments.selectors import segment_queryset
from kehu.transactions.models import Order

DOCS = Path(__file__).resolve().parents[2] / "docs" / "segments.md"
TIERS = ["普通会员", "银卡会员", "金卡会员", "白金会员"]


def doc_examples() -> list[dict]:
    text = DOCS.read_text(encoding="utf-8")
    found = [json.loads(block) for block in re.findall(r"```json\n(.*?)```", text, re.S)]
    for span in re.findall(r"`(\{[^`]*\})`", text):
        try:
            value = json.loads(span)
        except ValueError:
            continue  # a shape with placeholders (`<node>`, `...`), not an example
        if "conditions" in value or "type" in value or "field" in value:
            found.append(value if "conditions" in value else {"conditions": [value]})
    return found


def test_the_docs_have_the_examples_we_mean_to_run():
    examples = doc_examples()
    assert len(examples) >= 8
    assert any("白金会员" in json.dumps(e, ensure_ascii=False) for e in examples)


@pytest.fixture
def demo_book(db):
    call_command("demo", "--customers", "150", "--seed", "7", stdout=StringIO())
    return User.objects.get(username="admin")


def test_every_docs_example_and_template_runs_on_the_demo(demo_book):
    admin = demo_book
    examples = doc_examples() + [t["definition"] for t in TEMPLATES.values()]
    for example in examples:
        count = segment_queryset(user=admin, definition=example).count()
        assert 0 <= count <= Customer.objects.count(), example
        tree = validate(example)
        assert validate(tree) == tree


def test_the_demo_has_membership_tiers_as_a_tag_group(demo_book):
    tiers = {t.name: t for t in Tag.objects.filter(name__in=TIERS).select_related("group")}
    assert sorted(tiers) == sorted(TIERS)
    assert {t.group.name for t in tiers.values()} == {"会员等级"}
    held = dict(CustomerTag.objects.filter(tag__name__in=TIERS).values_list(
        "customer_id", "tag__name"))
    assert CustomerTag.objects.filter(tag__name__in=TIERS).count() == len(held)
    # every person who has bought holds the one tier their spend earns; nobody else holds one
    spend = dict(Order.objects.filter(status__in=Order.PURCHASE_STATUSES,
                                      customer__kind=Customer.KIND_PERSON)
                 .values("customer_id").annotate(total=Sum("total_amount"))
                 .values_list("customer_id", "total"))
    assert set(held) == set(spend) and spend
    assert all(held[pk] == tier_of(total) for pk, total in spend.items())
    assert set(held.values()) > {"普通会员"}
    platinum = {"conditions": [{"field": "tags", "op": "has_any", "value": ["白金会员"]}]}
    assert segment_queryset(user=demo_book, definition=platinum).count() > 0


def test_an_unknown_tag_in_an_example_is_a_clear_error(demo_book):
    with translation.override("en"), pytest.raises(ValidationFailed) as caught:
        segment_queryset(user=demo_book, definition={"conditions": [
            {"field": "tags", "op": "has_any", "value": ["钻石会员"]}]})
    assert caught.value.details == {"conditions[0].value": ["No tag named “钻石会员”."]}
