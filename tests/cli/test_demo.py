import importlib.util
import math
import random
import sys
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Count, Sum
from stdnum import numdb
from stdnum.cn import ric, uscc

from kehu.accounts.models import User
from kehu.cli import demo_customers as dc
from kehu.core.audit import audit_verify
from kehu.core.crypto import blind_index, decrypt
from kehu.core.masking import mask_id_number
from kehu.core.models import AuditEntry
from kehu.core.normalize import (
    _id_number_full,
    name_search_keys,
    normalize_email,
    normalize_id_number,
    normalize_phone,
    parse_address,
    region_for_province,
)
from kehu.customers.models import Address, ContactLink, Customer, Identifier
from kehu.interactions.models import Event, FollowUpTask, Interaction
from kehu.transactions.models import Order, OrderLine, Product, Ticket

pytestmark = pytest.mark.django_db


def _table_counts():
    return {m.__name__: m.objects.count() for m in (
        Customer, Identifier, Address, ContactLink, Interaction, Event, FollowUpTask, Order,
        OrderLine, Ticket, Product, User)}


def test_demo_loads_a_coherent_book_once(capsys):
    call_command("demo", "--customers", "60", "--seed", "1")
    out = capsys.readouterr().out
    assert "admin" in out
    first = _table_counts()
    assert first["Customer"] == 60 and first["Product"] == len(
        [i for _c, items in dc.CATALOGUE for i in items])
    # The nightly jobs have run once: every customer has a quality score and a value row,
    # recent buyers have RFM scores.
    from kehu.quality.models import CustomerQuality, QualitySnapshot
    from kehu.scoring.models import CustomerValue

    assert CustomerQuality.objects.count() == 60 and QualitySnapshot.objects.count() == 1
    assert CustomerValue.objects.count() == 60
    assert 0 < CustomerValue.objects.exclude(r_score=None).count() <= Customer.objects.filter(
        orders__isnull=False).distinct().count()

    call_command("demo", "--customers", "60", "--seed", "1")
    capsys.readouterr()
    assert _table_counts() == first
    loads = AuditEntry.objects.filter(action="demo.load")
    assert loads.count() == 1
    assert loads.get().changes["counts"]["customers"] == 60
    assert audit_verify().ok

    customers = list(Customer.objects.all())
    kinds = Counter(c.kind for c in customers)
    assert kinds["person"] > kinds["organisation"] > 0

    # Search keys from the one normaliser.
    for c in customers:
        assert (c.name_pinyin, c.name_initials) == name_search_keys(c.name) != ("", "")

    # Identifiers: unique among live ones, normalised, and mirrored on the customer row.
    live = Identifier.objects.filter(is_live=True)
    dupes = live.values("kind", "system", "value").annotate(n=Count("id")).filter(n__gt=1)
    assert not dupes.exists()
    for ident in live.filter(kind__in=("mobile", "landline")):
        phone = normalize_phone(ident.value)
        assert (phone.e164, phone.kind, phone.last4) == (ident.value, ident.kind, ident.last4)
    for ident in live.filter(kind="email"):
        assert normalize_email(ident.value) == ident.value
    for c in customers:
        mine = {i.kind: i.value for i in live.filter(customer=c, is_primary=True)}
        assert c.primary_mobile == mine.get("mobile", mine.get("landline", ""))
        assert c.primary_email == mine.get("email", "")
        if c.kind == "person":
            assert c.primary_mobile.startswith("+861")

    # Addresses: province, city and district belong together; regions follow provinces.
    for address in Address.objects.all():
        assert address.region == region_for_province(address.province) != ""
        parsed = parse_address(address.raw)
        assert (parsed.province, parsed.city, parsed.district) == (
            address.province, address.city, address.district)
    for c in customers:
        primary = c.addresses.get(is_primary=True)
        assert (c.province, c.city, c.region) == (primary.province, primary.city, primary.region)

    # ID numbers: valid, agreeing with birthday and gender, never stored in clear.
    holders = [c for c in customers if c.id_number_encrypted]
    assert holders
    clear_values = []
    for c in holders:
        parsed = normalize_id_number(decrypt(c.id_number_encrypted))
        clear_values.append(parsed.value)
        assert (parsed.birthday, parsed.gender) == (c.birthday, c.gender)
        assert c.id_number_index == blind_index("id_number", parsed.value)
        assert c.id_number_masked == mask_id_number(parsed.value)
        assert live.filter(customer=c, kind="id_number").get().value == c.id_number_index
    with connection.cursor() as cursor:
        for table in ("customers_customer", "customers_identifier", "core_auditentry"):
            cursor.execute(f"SELECT * FROM {table}")
            dump = repr(cursor.fetchall())
            assert not [v for v in clear_values if v in dump], table

    # Organisations: valid credit codes, 1-4 contacts with exactly one primary.
    for org in (c for c in customers if c.kind == "organisation"):
        assert uscc.is_valid(org.uscc) and org.industry and org.company_size
        links = list(org.contact_links.all())
        assert 1 <= len(links) <= 4 and sum(link.is_primary for link in links) == 1
        for link in links:
            assert link.person.kind == "person" and link.person.owner_id == org.owner_id

    # Owners are the demo sales reps; the team is the owner's.
    for c in Customer.objects.select_related("owner__role"):
        if c.owner is None:
            assert c.team_id is None
        else:
            assert c.owner.role.code == "sales_rep" and c.team_id == c.owner.team_id

    # History: 10-30 interactions and events each; orders add up; satisfaction when resolved.
    activity = Counter(Interaction.objects.values_list("customer_id", flat=True))
    activity.update(Event.objects.values_list("customer_id", flat=True))
    assert all(10 <= activity[c.pk] <= 30 for c in customers)
    views = Event.objects.filter(event_type="page_view")
    assert any("product" in e.properties and e.properties["url"].startswith("/products/")
               for e in views)
    for order in Order.objects.annotate(sum=Sum("lines__amount")):
        assert order.total_amount == (order.sum or Decimal("0"))
    assert not Ticket.objects.exclude(status__in=("resolved", "closed")).filter(
        satisfaction__isnull=False).exists()
    assert not FollowUpTask.objects.filter(interaction__isnull=True).exists()


def test_events_per_customer_is_exact_for_benchmarks(make_user):
    make_user("sales_rep")
    result = dc.demo_customers_load(customers=25, seed=5, events_per_customer=4, chunk_size=7)
    assert Customer.objects.count() == 25 == result.counts["customers"]
    per_customer = Counter(Event.objects.values_list("customer_id", flat=True))
    assert set(per_customer.values()) == {4} and len(per_customer) == 25
    assert result.counts["events"] == 100
    assert AuditEntry.objects.filter(action="demo.load").count() == 1


def test_geography_table_matches_the_official_division_codes():
    places = numdb.get("cn/loc")
    for city in dc._cities():
        assert city.region == region_for_province(city.province) != ""
        assert parse_address(f"{city.province}{city.city}").city == city.city
        for district, code in city.districts:
            for street in dc.STREETS:
                parsed = parse_address(f"{city.province}{city.city}{district}{street}8号")
                assert (parsed.province, parsed.city, parsed.district) == (
                    city.province, city.city, district)
            info = {k: v for _part, props in places.info(code) for k, v in props.items()}
            # The county field lists a code's names over time; the newest comes last.
            assert info["province"] == city.province
            assert info["county"].split(",")[-1].split("]")[-1] == district, code


def test_check_digits_against_published_examples():
    # GB 11643's own example and python-stdnum's USCC example (org code 60003734-1).
    assert dc.resident_id(division="110105", birthday=date(1949, 12, 31), sequence=2,
                          male=False) == "11010519491231002X"
    assert dc.organisation_code(60003734) == "600037341"
    assert dc.unified_credit_code(authority="9", entity="1", division="110000",
                                  org_code="600037341") == "91110000600037341L"
    rng = random.Random(3)
    for _ in range(200):
        number = dc.resident_id(division="310115", male=rng.random() < 0.5,
                                birthday=date(rng.randint(1950, 2005), rng.randint(1, 12),
                                              rng.randint(1, 28)),
                                sequence=rng.randint(0, 999))
        # python-stdnum's check digit, and valid for kehu's fast check and for its
        # python-stdnum path alike (which, unlike ric.is_valid, accept an area code that did
        # not exist yet in the birth year: normalize._id_number_full says why).
        assert ric.calc_check_digit(number) == number[-1]
        assert normalize_id_number(number) == _id_number_full(number)
        assert normalize_id_number(number).value == number


def test_demo_mobiles_are_unique_and_valid():
    numbers = [dc.demo_mobile(i, 2026) for i in range(1, 50_001)]
    assert len(set(numbers)) == len(numbers)
    for number in numbers[:: 997]:
        assert normalize_phone(number).kind == "mobile"
    assert math.gcd(dc._MOBILE_SPACE, dc._MOBILE_MULTIPLIER) == 1


def _bench():
    path = Path(__file__).resolve().parents[2] / "bench" / "card_bench.py"
    spec = importlib.util.spec_from_file_location("card_bench", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_bench_phone_formats_all_normalise_to_the_stored_number():
    bench = _bench()
    rng = random.Random(1)
    for _ in range(100):
        written = bench.phone_formats("+8613912345678", rng)
        assert normalize_phone(written).e164 == "+8613912345678", written
    assert bench.server_timing_ms("db;dur=3.5, total;dur=12.25") == 12.25
    assert bench.server_timing_ms("app;dur=7") == 7.0 and bench.server_timing_ms(None) is None
    assert bench.percentile([0.001 * i for i in range(1, 101)], 99) == pytest.approx(0.099)
