"""Quotes and contracts: every transition of each, invalid ones refused with nothing changed,
totals with per-line tax, versions, contracts from accepted quotes, encrypted attachments,
renewal reminders."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings

from kehu.core.actor import Actor
from kehu.core.errors import ValidationFailed
from kehu.core.models import DomainEvent
from kehu.interactions.models import FollowUpTask
from kehu.pipeline import selectors, services
from kehu.pipeline.models import Contract, Quote
from kehu.pipeline.services.contracts import CONTRACT_TRANSITIONS
from kehu.pipeline.services.quotes import QUOTE_TRANSITIONS
from tests.factories import ProductFactory
from tests.pipeline.helpers import accepted_quote, make_deal, signed_contract, today

pytestmark = pytest.mark.django_db
ACTIONS = {"sent": services.quote_send, "accepted": services.quote_accept,
           "rejected": services.quote_reject, "expired": services.quote_expire}


@pytest.fixture
def rep(make_user):
    return make_user("sales_rep")


def _quote(rep, deal=None):
    product = ProductFactory(unit_price="100.00")
    return services.quote_create(
        actor=Actor(user=rep), deal=deal or make_deal(rep),
        valid_until=today() + dt.timedelta(days=10),
        lines=[{"product": product.pk, "quantity": 3, "unit_price": "33.33", "discount": 10,
                "tax_rate": "13%"},
               {"product": product.pk, "quantity": 1, "unit_price": "0.05", "tax_rate": "9%"}])


def test_quote_totals_per_line(rep):
    quote = _quote(rep)
    lines = list(quote.lines.all())
    assert [(x.net_amount, x.tax_amount) for x in lines] == [
        (Decimal("89.99"), Decimal("11.70")), (Decimal("0.05"), Decimal("0.00"))]
    quote.refresh_from_db()
    assert (quote.subtotal, quote.tax_total, quote.total) == (
        Decimal("90.04"), Decimal("11.70"), Decimal("101.74"))
    assert quote.number.startswith("QT") and quote.version == 1


def _walk(rep, path):
    quote = _quote(rep)
    for status in path:
        quote = ACTIONS[status](actor=Actor(user=rep), quote=quote)
    return quote


@pytest.mark.parametrize("start", [[], ["sent"], ["sent", "accepted"], ["sent", "rejected"],
                                   ["expired"]])
@pytest.mark.parametrize("target", ["sent", "accepted", "rejected", "expired"])
def test_quote_transitions(rep, start, target):
    quote = _walk(rep, start)
    current = quote.status
    if target in QUOTE_TRANSITIONS[current]:
        assert ACTIONS[target](actor=Actor(user=rep), quote=quote).status == target
        assert Quote.objects.get(pk=quote.pk).status == target
    else:
        events = DomainEvent.objects.count()
        with pytest.raises(ValidationFailed) as exc:
            ACTIONS[target](actor=Actor(user=rep), quote=quote)
        assert exc.value.code == "invalid_transition" and "cannot become" in str(exc.value)
        assert Quote.objects.get(pk=quote.pk).status == current
        assert DomainEvent.objects.count() == events


def test_only_drafts_are_edited_and_revisions_are_versions(rep):
    quote = _quote(rep)
    services.quote_send(actor=Actor(user=rep), quote=quote)
    with pytest.raises(ValidationFailed):
        services.quote_update(actor=Actor(user=rep), quote=quote, lines=[],
                              valid_until=today())
    second = services.quote_revise(actor=Actor(user=rep), quote=quote)
    assert (second.number, second.version, second.status) == (quote.number, 2, "draft")
    assert second.total == Quote.objects.get(pk=quote.pk).total
    product = ProductFactory(unit_price="10.00")
    services.quote_update(actor=Actor(user=rep), quote=second, valid_until=today(),
                          lines=[{"product": product.pk, "quantity": 1, "tax_rate": "6%"}])
    second.refresh_from_db()
    assert (second.subtotal, second.tax_total, second.total) == (
        Decimal("10.00"), Decimal("0.60"), Decimal("10.60"))


def test_bad_lines_name_their_field(rep):
    with pytest.raises(ValidationFailed) as exc:
        services.quote_create(actor=Actor(user=rep), deal=make_deal(rep), valid_until=today(),
                              lines=[{"product": 999999, "quantity": 0, "tax_rate": "17%",
                                      "discount": 120}])
    assert set(exc.value.details) == {"lines[0].product", "lines[0].quantity",
                                      "lines[0].tax_rate", "lines[0].discount"}
    assert not Quote.objects.exists()


def test_expired_validity_cannot_be_accepted_and_periodic_expiry(rep):
    quote = _quote(rep)
    services.quote_send(actor=Actor(user=rep), quote=quote)
    Quote.objects.filter(pk=quote.pk).update(valid_until=today() - dt.timedelta(days=1))
    with pytest.raises(ValidationFailed):
        services.quote_accept(actor=Actor(user=rep), quote=quote)
    system = Actor.system(via="system")
    assert services.quotes_expire_due(actor=system) == 1
    assert services.quotes_expire_due(actor=system) == 0
    assert Quote.objects.get(pk=quote.pk).status == "expired"


def test_contract_from_accepted_quote_only(rep):
    deal = make_deal(rep)
    draft = _quote(rep, deal)
    with pytest.raises(ValidationFailed) as exc:
        services.contract_create(actor=Actor(user=rep), quote=draft, title="合同",
                                 start_date=today(), end_date=today())
    assert "quote" in exc.value.details and not Contract.objects.exists()
    quote = accepted_quote(rep, deal)
    contract = services.contract_create(actor=Actor(user=rep), quote=quote, title="合同",
                                        start_date=today(), end_date=today())
    assert contract.amount == quote.total == Decimal("2260.00")
    assert contract.customer_id == deal.customer_id and contract.deal_id == deal.pk
    assert contract.number.startswith("HT") and contract.party_b == deal.customer.name
    assert contract.status == "draft"


ALL = [c for c, _l in Contract.STATUSES]
PATHS = {"draft": [], "approving": ["approving"], "signed": ["approving", "signed"],
         "executing": ["approving", "signed", "executing"],
         "completed": ["approving", "signed", "executing", "completed"],
         "terminated": ["terminated"]}


@pytest.mark.parametrize("start", ALL)
@pytest.mark.parametrize("target", ALL)
def test_contract_transitions(rep, start, target):
    contract = services.contract_create(actor=Actor(user=rep), deal=make_deal(rep), title="合同",
                                        amount="100", start_date=today(), end_date=today())
    for status in PATHS[start]:
        contract = services.contract_set_status(actor=Actor(user=rep), contract=contract,
                                                status=status)
    if target in CONTRACT_TRANSITIONS[start]:
        contract = services.contract_set_status(actor=Actor(user=rep), contract=contract,
                                                status=target)
        assert Contract.objects.get(pk=contract.pk).status == target
        if target == "signed":
            assert contract.signed_date == today()
            assert DomainEvent.objects.filter(type="contract.signed").count() == 1
    else:
        events = DomainEvent.objects.count()
        with pytest.raises(ValidationFailed) as exc:
            services.contract_set_status(actor=Actor(user=rep), contract=contract,
                                         status=target)
        assert exc.value.code == "invalid_transition"
        assert Contract.objects.get(pk=contract.pk).status == start
        assert DomainEvent.objects.count() == events


def test_terms_fixed_after_draft(rep):
    contract = signed_contract(rep, amount="100")
    with pytest.raises(ValidationFailed):
        services.contract_update(actor=Actor(user=rep), contract=contract,
                                 changes={"amount": "200"})
    assert Contract.objects.get(pk=contract.pk).amount == Decimal("100.00")


def test_attachment_is_encrypted_on_disk_and_read_back(rep):
    contract = signed_contract(rep, amount="100")
    secret = "甲方：华东机械 合同正文 保密条款".encode()
    attachment = services.contract_attach(actor=Actor(user=rep), contract=contract,
                                          file=io.BytesIO(secret), filename="../合同.pdf",
                                          content_type="application/pdf")
    assert attachment.filename == "合同.pdf" and attachment.size == len(secret)
    stored = Path(settings.MEDIA_ROOT) / "contracts" / attachment.stored_name
    raw = stored.read_bytes()
    assert secret not in raw and "保密".encode() not in raw
    assert oct(stored.stat().st_mode & 0o777) == "0o600"
    found = selectors.attachment_get(rep, contract, attachment.pk)
    assert selectors.attachment_content(found) == secret


def test_renewal_reminder_once(rep):
    contract = signed_contract(rep, amount="100")
    Contract.objects.filter(pk=contract.pk).update(end_date=today() + dt.timedelta(days=40),
                                                   renewal_reminder_days=30)
    system = Actor.system(via="system")
    assert services.contracts_remind_renewals(actor=system) == 0
    Contract.objects.filter(pk=contract.pk).update(end_date=today() + dt.timedelta(days=30))
    assert services.contracts_remind_renewals(actor=system) == 1
    assert services.contracts_remind_renewals(actor=system) == 0
    tasks = list(FollowUpTask.objects.filter(customer_id=contract.customer_id))
    assert len(tasks) == 1 and contract.number in tasks[0].title
    assert tasks[0].assignee_id == rep.pk
