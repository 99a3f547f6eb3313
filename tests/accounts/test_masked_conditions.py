"""Issue 19, item 1: a field masked or hidden for the caller cannot be recovered through
conditions, filters, sorts, searches or lookups (the access policy's one rule).

First the attack as the probe ran it, step by step; then the matrix of every built-in role
against every sensitive field through each channel.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from kehu.accounts.default_roles import DEFAULT_ROLES
from kehu.core.models import AuditEntry
from kehu.core.permissions import SENSITIVE_FIELDS
from kehu.customers.models import Customer
from tests.factories import create_customer

pytestmark = pytest.mark.django_db

NAME = "秦桂荣"
BIRTHDAY = date(1949, 12, 31)
ID_NUMBER = "11010519491231002X"  # 110105 = 北京市朝阳区; sequence 002 (female)
MOBILE, EMAIL, WECHAT = "13812345678", "qin@example.com", "wx_qin_1949"
ADDRESS = "北京市朝阳区建国路1号"
PREVIEW = "/api/v1/segments/preview"
LOOKUP = "/api/v1/customers/lookup"
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _checksum(first17: str) -> str:
    return "10X98765432"[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def _victim(owner=None):
    return create_customer(owner=owner, name=NAME, birthday=BIRTHDAY, gender="female",
                           id_number=ID_NUMBER, mobile=MOBILE, email=EMAIL, wechat=WECHAT,
                           address=ADDRESS)


def _preview(client, *conditions):
    return client.post(PREVIEW, {"definition": {"type": "group", "match": "all", "conditions": [
        {"type": "field", "field": "name", "op": "eq", "value": NAME}, *conditions]}},
        content_type="application/json")


def _state():
    """What a refused probe must leave as it was: customers and the audit log."""
    return (list(Customer.objects.order_by("pk").values_list("pk", "version", "updated_at")),
            AuditEntry.objects.count())


# The attack, as reported --------------------------------------------------------------------


def test_a_birthday_masked_for_the_caller_cannot_be_binary_searched(make_user, api_client_for):
    """(a) `name eq X` + `birthday between …` found the birthday in 15 requests."""
    _victim()
    client = api_client_for(make_user("read_only"))
    before = _state()
    low, high, requests, answers = date(1900, 1, 1), date(2020, 12, 31), 0, []
    while low < high and requests < 40:
        middle = low + (high - low) // 2
        response = _preview(client, {"type": "field", "field": "birthday", "op": "between",
                                     "value": [low.isoformat(), middle.isoformat()]})
        requests += 1
        answers.append(response.status_code)
        if response.status_code != 200:
            break
        low, high = (low, middle) if response.json()["count"] else (
            middle + timedelta(days=1), high)
    assert (low == high == BIRTHDAY) is False
    assert answers == [422]
    body = response.json()
    assert body["code"] == "validation_error"
    assert list(body["details"]) == ["conditions[1].field"]
    assert "Birthday" in body["details"]["conditions[1].field"][0] or \
        "生日" in body["details"]["conditions[1].field"][0]
    # Whether a birthday is set is no secret to the masked form: that question stays open.
    asked = _preview(client, {"type": "field", "field": "birthday", "op": "is_set"})
    assert (asked.status_code, asked.json()["count"]) == (200, 1)
    assert _state() == before


def test_b_the_district_that_gives_the_id_numbers_region_code_is_refused(make_user,
                                                                          api_client_for):
    """(b) `district eq …` gave the region code (110105) of the hidden ID number."""
    victim = _victim()
    reader = make_user("read_only")
    client = api_client_for(reader)
    before = _state()
    response = _preview(client, {"type": "field", "field": "district", "op": "eq",
                                 "value": "朝阳区"})
    assert response.status_code == 422
    assert list(response.json()["details"]) == ["conditions[1].field"]
    # Nor does the card give it away: the district follows the (masked) address.
    card = client.get(f"/api/v1/customers/{victim.pk}").json()
    [address] = card["addresses"]
    assert (address["district"], address["detail"][:1]) == ("朝**", "建")
    assert "建国路" not in address["detail"]
    assert _state() == before
    # A data steward (address edit) may put a condition on the district.
    steward = api_client_for(make_user("data_steward"))
    allowed = _preview(steward, {"type": "field", "field": "district", "op": "eq",
                                 "value": "朝阳区"})
    assert (allowed.status_code, allowed.json()["count"]) == (200, 1)


def test_c_the_id_number_cannot_be_brute_forced_through_the_lookup(make_user, api_client_for):
    """(c) ~1,000 checksum-valid sequence numbers through GET /customers/lookup found the
    ID number in 813 requests, unthrottled and unaudited."""
    _victim()
    client = api_client_for(make_user("read_only"))
    before = _state()
    prefix = "110105" + BIRTHDAY.strftime("%Y%m%d")
    found, statuses = None, []
    for sequence in range(1000):
        first17 = f"{prefix}{sequence:03d}"
        guess = first17 + _checksum(first17)
        response = client.get(LOOKUP, {"id_number": guess})
        statuses.append(response.status_code)
        if response.status_code == 200:
            found = guess
            break
        if response.status_code != 404:
            break
    assert found is None
    assert statuses == [403]
    assert response.json() == {"code": "permission_denied",
                               "message": response.json()["message"],
                               "details": {"field": "customer.id_number"}}
    assert _state() == before


@pytest.mark.parametrize("role", ["marketer", "service_agent", "sales_manager"])
def test_the_same_lookup_and_search_are_closed_for_hidden_and_masked_roles(role, make_user,
                                                                           api_client_for):
    """The lookup and `q=<ID>` worked for marketer (hidden), service agent and sales manager
    (masked)."""
    user = make_user(role)
    victim = _victim(owner=user)
    client = api_client_for(user)
    before = _state()
    assert client.get(LOOKUP, {"id_number": ID_NUMBER}).status_code == 403
    listed = client.get("/api/v1/customers", {"q": ID_NUMBER})
    assert listed.status_code == 200 and listed.json()["items"] == []
    assert client.get("/api/v1/customers", {"q": NAME}).json()["items"][0]["id"] == victim.pk
    assert _state() == before


def test_who_may_see_the_id_number_finds_it_audited_without_the_number(make_user,
                                                                        api_client_for):
    auditor = make_user("compliance_auditor")
    victim = _victim()
    client = api_client_for(auditor)
    assert client.get(LOOKUP, {"id_number": ID_NUMBER.lower()}).json()["id"] == victim.pk
    assert [item["id"] for item in client.get("/api/v1/customers", {"q": ID_NUMBER})
            .json()["items"]] == [victim.pk]
    entries = list(AuditEntry.objects.filter(action="customer.lookup").order_by("seq"))
    assert [(e.actor_user_id, e.changes) for e in entries] == [
        (auditor.pk, {"by": "id_number", "results": 1})] * 2
    assert not any(ID_NUMBER[6:14] in str(e.changes) + e.object_repr for e in entries)


# The matrix: every built-in role x every sensitive field x every channel ---------------------

ROLES = {role["code"]: role for role in DEFAULT_ROLES}
# field -> (segment condition or None, its key for list sorts and quality drill-downs,
#           search text or None, lookup parameters or None)
PROBES = {
    "customer.birthday": ({"field": "birthday", "op": "between",
                           "value": ["1949-01-01", "1949-12-31"]}, "birthday", None, None),
    "customer.mobile": ({"field": "mobile", "op": "is_set"}, "mobile", MOBILE,
                        {"phone": MOBILE}),
    "customer.email": ({"field": "email", "op": "is_set"}, "email", EMAIL, {"email": EMAIL}),
    "customer.id_number": (None, "id_number", ID_NUMBER, {"id_number": ID_NUMBER}),
    "customer.address": ({"field": "district", "op": "eq", "value": "朝阳区"}, "district",
                         None, None),
    "customer.wechat": (None, "wechat", None, None),
}


def _mode(role: dict, field: str) -> str:
    return (role["field_permissions"] or {}).get(field, "masked")


def test_the_matrix_covers_every_sensitive_field_and_role():
    assert set(PROBES) == set(SENSITIVE_FIELDS)
    assert len(ROLES) == 8


@pytest.mark.parametrize("field", sorted(PROBES))
@pytest.mark.parametrize("role_code", sorted(ROLES))
def test_refused_conditions_on_masked_fields(role_code, field, make_user, api_client_for):
    """A value condition needs the field in clear (view/edit); asking whether it is set
    needs it not hidden. Through segment preview, list filter, sort, search and lookup."""
    role = ROLES[role_code]
    mode = _mode(role, field)
    clear = mode in ("view", "edit")
    user = make_user(role_code)
    victim = _victim(owner=user)
    client = api_client_for(user)
    segment, key, text, lookup = PROBES[field]
    before = _state()

    if segment is not None:  # segments preview
        presence = segment["op"] == "is_set"
        response = _preview(client, {"type": "field", **segment})
        if "segment.view" not in role["permissions"]:
            assert response.status_code == 403
        elif clear or (presence and mode == "masked"):
            assert (response.status_code, response.json()["count"]) == (200, 1)
        else:
            assert response.status_code == 422
            assert list(response.json()["details"]) == ["conditions[1].field"]

    # list sort and quality drill-down (the filter the data-quality page links to)
    for param, value in (("sort", key), ("sort", f"-{key}"), ("quality_invalid", key)):
        response = client.get("/api/v1/customers", {param: value})
        if clear:
            assert response.status_code == 200, (param, response.json())
        else:
            assert response.status_code == 422
            assert list(response.json()["details"]) == [param]
    missing = client.get("/api/v1/customers", {"quality_missing": key})
    assert missing.status_code == (422 if mode == "hidden" else 200)

    if text is not None:  # search: the identifier matches only for who sees it in clear
        found = [c["id"] for c in client.get("/api/v1/customers", {"q": text}).json()["items"]]
        assert found == ([victim.pk] if clear else [])

    if lookup is not None:
        response = client.get(LOOKUP, lookup)
        assert response.status_code == (200 if clear else 403)
        if clear:
            assert response.json()["id"] == victim.pk

    if not clear:  # nothing the refused probes touched changed (lookups are audited, below)
        assert _state() == before
    else:
        lookups = AuditEntry.objects.filter(action="customer.lookup", actor_user_id=user.pk)
        assert lookups.count() == (2 if field == "customer.id_number" else 0)
