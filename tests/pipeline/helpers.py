"""Small builders for the pipeline's tests: the default pipeline's stages by name, a deal, a
signed contract with a plan."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from kehu.core.actor import Actor
from kehu.pipeline import services
from kehu.pipeline.models import Stage
from tests.factories import ProductFactory, create_customer


def stage(name: str) -> Stage:
    return Stage.objects.get(pipeline__is_default=True, name=name)


def today() -> dt.date:
    return timezone.localdate()


def make_deal(user, *, amount="10000.00", customer=None, title="ERP 项目", close=None, **kw):
    actor = Actor(user=user)
    customer = customer or create_customer(owner=user, name="华东机械有限公司",
                                           kind="organisation")
    return services.deal_create(actor=actor, customer=customer, title=title, amount=amount,
                                expected_close_date=close or today() + dt.timedelta(days=20),
                                **kw)


def accepted_quote(user, deal, *, price="1000.00", quantity=2):
    actor = Actor(user=user)
    product = ProductFactory(unit_price=price)
    quote = services.quote_create(actor=actor, deal=deal, valid_until=today() + dt.timedelta(
        days=30), lines=[{"product": product.pk, "quantity": quantity, "tax_rate": "13%"}])
    services.quote_send(actor=actor, quote=quote)
    return services.quote_accept(actor=actor, quote=quote)


def signed_contract(user, *, amount="30000.00", plan=None, deal=None):
    actor = Actor(user=user)
    deal = deal or make_deal(user, amount=amount)
    contract = services.contract_create(actor=actor, deal=deal, title="年度服务合同",
                                        amount=amount, start_date=today(),
                                        end_date=today() + dt.timedelta(days=365))
    if plan is not None:
        services.payment_plan_set(actor=actor, contract=contract, instalments=plan)
    services.contract_set_status(actor=actor, contract=contract, status="approving")
    return services.contract_set_status(actor=actor, contract=contract, status="signed")
