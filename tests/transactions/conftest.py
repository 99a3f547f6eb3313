"""The transaction-layer tests share the customer-layer fixtures, plus a product."""

import pytest

from tests.customer_layer_fixtures import (  # noqa: F401
    _english,
    actor_for,
    colleague,
    customer,
    others_customer,
    rep,
    team,
)


@pytest.fixture
def product(db):
    from tests.factories import ProductFactory

    return ProductFactory(unit_price="199.00")
