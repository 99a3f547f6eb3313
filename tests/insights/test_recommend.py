"""Recommendations: a planted co-purchase pattern is recovered (associations, per customer,
offline precision@5 against popularity); owned and inactive products are never offered."""

from __future__ import annotations

import datetime as dt
from datetime import timedelta

from django.utils import timezone

from kehu.core.actor import Actor
from kehu.insights import recommend, selectors, services
from kehu.insights.models import ProductAssociation
from kehu.transactions.models import Product
from tests.factories import CustomerFactory
from tests.insights.book import order, planted_co_purchase

SYSTEM = Actor.system(via="system")


def test_pure_algorithm_recovers_the_pattern_and_beats_popularity():
    import random

    rng = random.Random(1)
    purchases = []
    start = dt.date(2026, 1, 1)
    for c in range(300):
        a, b = (1, 2) if c % 2 else (3, 4)  # 1 -> 2, 3 -> 4
        day = start + dt.timedelta(days=rng.randint(0, 100))
        purchases.append((c, a, day))
        if rng.random() < 0.85:
            purchases.append((c, b, day + dt.timedelta(days=rng.randint(1, 200))))
        for _k in range(2):
            purchases.append((c, rng.randint(10, 30), start + dt.timedelta(days=rng.randint(0, 300))))
    split = start + dt.timedelta(days=150)
    model = recommend.evaluate(purchases, split, k=5)
    baseline = recommend.evaluate(purchases, split, k=5, popularity_only=True)
    assert model["customers"] == baseline["customers"] > 50
    assert model["recall_at_k"] > baseline["recall_at_k"] + 0.1
    assert model["precision_at_k"] > baseline["precision_at_k"] + 0.02
    # The planted partner comes first for an owner of the lead product.
    before = {}
    for c, p, day in purchases:
        if day < split:
            before.setdefault(c, set()).add(p)
    neighbours = {}
    for row in recommend.associations(before):
        neighbours.setdefault(row.product, []).append((row.related, row.cosine))
    assert recommend.recommend({1}, neighbours, [], k=5)[0][0] == 2
    assert recommend.recommend({3}, neighbours, [], k=5)[0][0] == 4


def test_build_and_recommend_from_the_book(db, rep, team):
    products, ids = planted_co_purchase()
    counts = services.recommendations_build(actor=SYSTEM)
    assert counts["customers"] == len(ids)
    top = (ProductAssociation.objects.filter(product=products["printer"])
           .order_by("-cosine").first())
    assert top.related_id == products["toner"].pk and top.lift > 1.5
    buyer = CustomerFactory(owner=rep, team=team)
    order(buyer.pk, timezone.now() - timedelta(days=3), products=[products["printer"]])
    picks = selectors.customer_recommendations(user=rep, customer=buyer)
    assert picks[0]["product_id"] == products["toner"].pk
    assert picks[0]["because_of"]["product_id"] == products["printer"].pk
    assert products["printer"].pk not in {p["product_id"] for p in picks}  # owned
    assert len(picks) == 5  # filled up from popularity
    assert {p["source"] for p in picks[1:]} <= {"popular", "co_purchase"}
    # An inactive product is never offered.
    Product.objects.filter(pk=products["toner"].pk).update(is_active=False)
    picks = selectors.customer_recommendations(user=rep, customer=buyer)
    assert products["toner"].pk not in {p["product_id"] for p in picks}
    also = selectors.also_bought(user=rep, product=products["laptop"])
    assert also[0]["product_id"] == products["bag"].pk


def test_product_page_shows_also_bought(db, client, make_user):
    products, _ids = planted_co_purchase(customers=60)
    services.recommendations_build(actor=SYSTEM)
    manager = make_user("admin")
    client.force_login(manager)
    page = client.get(f"/transactions/products/{products['printer'].pk}/",
                      HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    assert f"/insights/products/{products['printer'].pk}/also-bought/" in page.text
    part = client.get(f"/insights/products/{products['printer'].pk}/also-bought/")
    assert part.status_code == 200 and "toner" in part.text
