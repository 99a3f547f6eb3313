from tests.customer_layer_fixtures import (  # noqa: F401
    _english,
    actor_for,
    colleague,
    customer,
    others_customer,
    rep,
    team,
)
