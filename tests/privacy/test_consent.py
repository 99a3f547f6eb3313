"""The consent ledger: grants, withdrawals, expiry, under-14s, and the one rule that
segments, marketing exports and rule actions ask."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.utils import timezone

from kehu.core.actor import Actor
from kehu.core.errors import PermissionDenied, ValidationFailed
from kehu.core.models import DomainEvent
from kehu.privacy import selectors, services
from kehu.privacy.models import ConsentRecord, ConsentState
from tests.factories import create_customer

pytestmark = pytest.mark.django_db


def grant(actor, customer, purpose="marketing", channel="sms", **kw):
    return services.consent_record(actor=actor, customer_id=customer.pk, purpose=purpose,
                                   channel=channel, status="granted", source="form", **kw)


def withdraw(actor, customer, purpose="marketing", channel="sms", **kw):
    return services.consent_record(actor=actor, customer_id=customer.pk, purpose=purpose,
                                   channel=channel, status="withdrawn", source="card", **kw)


@pytest.fixture
def actor(admin_user):
    return Actor(user=admin_user)


def test_grant_then_withdraw_keeps_history_and_changes_the_answer(actor):
    customer = create_customer(name="李雷", mobile="13800138000")
    assert not selectors.consent_allows(customer_id=customer.pk, channel="sms",
                                        purpose="marketing")
    grant(actor, customer, notice_text="我们将通过短信向您发送优惠信息", notice_version="v3")
    assert selectors.consent_allows(customer_id=customer.pk, channel="sms", purpose="marketing")
    assert not selectors.consent_allows(customer_id=customer.pk, channel="email",
                                        purpose="marketing")
    withdraw(actor, customer)
    assert not selectors.consent_allows(customer_id=customer.pk, channel="sms",
                                        purpose="marketing")
    history = list(ConsentRecord.objects.filter(customer=customer).order_by("id"))
    assert [r.status for r in history] == ["granted", "withdrawn"]
    assert history[0].notice_version == "v3" and history[0].actor_label == actor.label
    assert ConsentState.objects.get(customer=customer).status == "withdrawn"
    types = list(DomainEvent.objects.filter(customer_id=customer.pk, type__startswith="consent")
                 .values_list("type", flat=True).order_by("id"))
    assert types == ["consent.granted", "consent.withdrawn"]


def test_any_channel_grant_and_a_specific_withdrawal(actor):
    customer = create_customer(name="韩梅梅")
    grant(actor, customer, channel="any")
    assert selectors.consent_allows(customer_id=customer.pk, channel="email",
                                    purpose="marketing")
    withdraw(actor, customer, channel="email")
    assert not selectors.consent_allows(customer_id=customer.pk, channel="email",
                                        purpose="marketing")
    assert selectors.consent_allows(customer_id=customer.pk, channel="sms", purpose="marketing")
    assert selectors.consent_filter([customer.pk], "wechat", "marketing") == {customer.pk}
    assert selectors.consent_filter([customer.pk], "email", "marketing") == set()


def test_expired_grant_does_not_count_and_the_expiry_job_records_it(actor):
    customer = create_customer(name="王五")
    grant(actor, customer, expires_at=timezone.now() + dt.timedelta(days=1))
    later = timezone.now() + dt.timedelta(days=2)
    from kehu.customers.models import Customer
    from kehu.privacy.selectors import consent_q

    assert not Customer.objects.filter(pk=customer.pk).filter(
        consent_q(purpose="marketing", channel="sms", now=later)).exists()
    assert services.consents_expire_due(now=later) == 1
    assert ConsentState.objects.get(customer=customer).status == "expired"
    assert ConsentRecord.objects.filter(customer=customer, status="expired").count() == 1


def test_under_14_needs_a_guardian(actor):
    today = timezone.localdate()
    child = create_customer(name="小明", birthday=today.replace(year=today.year - 10))
    with pytest.raises(ValidationFailed) as caught:
        grant(actor, child)
    assert caught.value.code == "guardian_required"
    assert not ConsentRecord.objects.filter(customer=child).exists()
    grant(actor, child, guardian_consent=True)
    assert selectors.consent_allows(customer_id=child.pk, channel="sms", purpose="marketing")


def test_under_14_from_the_id_number(actor):
    born = timezone.localdate().year - 8
    body = f"110105{born}0101123"
    # a valid check digit for the 17 digits
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]
    child = create_customer(name="小红", id_number=body + check)
    with pytest.raises(ValidationFailed):
        grant(actor, child)


def test_unknown_purpose_or_channel_names_the_field(actor):
    customer = create_customer(name="赵六")
    with pytest.raises(ValidationFailed) as caught:
        services.consent_record(actor=actor, customer_id=customer.pk, purpose="spam",
                                channel="fax", status="granted", source="form")
    assert set(caught.value.details) == {"purpose", "channel"}


def test_a_read_only_user_may_not_record_consent(make_user):
    customer = create_customer(name="钱七")
    viewer = make_user("read_only")
    with pytest.raises(PermissionDenied):
        grant(Actor(user=viewer), customer)
    assert not ConsentRecord.objects.exists()


def test_segment_consent_condition(actor, admin_user):
    from kehu.segments.selectors import segment_queryset

    def segment_preview_count(*, user, definition):
        return segment_queryset(user=user, definition=definition).count()

    yes = create_customer(name="甲")
    no = create_customer(name="乙")
    grant(actor, yes)
    withdraw(actor, no)
    definition = {"type": "group", "match": "all", "conditions": [
        {"type": "consent", "purpose": "marketing", "channel": "sms"}]}
    assert segment_preview_count(user=admin_user, definition=definition) == 1
    negated = {"type": "group", "match": "all", "conditions": [
        {"type": "not", "condition": {"type": "consent", "purpose": "marketing",
                                      "channel": "sms"}}]}
    assert segment_preview_count(user=admin_user, definition=negated) == 2 - 1


def test_segment_consent_condition_errors_name_the_path(admin_user):
    from kehu.segments.definition import validate

    with pytest.raises(ValidationFailed) as caught:
        validate({"type": "group", "conditions": [
            {"type": "consent", "purpose": "nope", "channel": "sms", "extra": 1}]})
    assert "conditions[0].purpose" in caught.value.details
    assert "conditions[0].extra" in caught.value.details


def test_marketing_export_skips_and_counts(actor, admin_user):
    from kehu.customers.selectors import CustomerFilters
    from kehu.interchange.export import customers_export

    a, b, c = (create_customer(name=n) for n in ("张一", "张二", "张三"))
    grant(actor, a)
    grant(actor, b, channel="any")
    withdraw(actor, b, channel="sms")
    result = customers_export(actor=actor, filters=CustomerFilters(), columns=["name"],
                              fmt="csv", purpose="marketing", channel="sms")
    text = b"".join(result.content).decode("utf-8-sig")
    names = {row[0] for row in csv.reader(io.StringIO(text))}
    assert "张一" in names and "张二" not in names and "张三" not in names
    assert (result.rows, result.skipped) == (1, 2)
    plain = customers_export(actor=actor, filters=CustomerFilters(), columns=["name"], fmt="csv")
    assert (plain.rows, plain.skipped) == (3, 0)


def test_marketing_export_api_reports_skipped(admin_user, api_client_for):
    a = create_customer(name="张一")
    create_customer(name="张二")
    grant(Actor(user=admin_user), a)
    client = api_client_for(admin_user)
    response = client.get("/api/v1/customers/export?purpose=marketing&channel=sms&columns=name")
    assert response.status_code == 200
    assert response["X-Kehu-Skipped-No-Consent"] == "1"
    bad = client.get("/api/v1/customers/export?purpose=nope")
    assert bad.status_code == 422 and bad.json()["code"] == "validation_error"


def test_import_consent_columns(actor, tmp_path):
    from kehu.interchange.services import import_job_create, import_job_run

    path = tmp_path / "consent.csv"
    path.write_text("姓名,手机,同意短信营销,是否接收邮件营销\n"
                    "周一,13900000001,是,否\n周二,13900000002,否,是\n周三,13900000003,也许,是\n",
                    encoding="gb18030")
    job = import_job_create(actor=actor, file=path, filename="consent.csv")
    assert job.mapping[str(2)] == "consent.marketing.sms" or 2 in job.mapping
    job = import_job_run(job_id=job.pk, actor=actor)
    from kehu.customers.models import Customer

    first = Customer.objects.get(name="周一")
    second = Customer.objects.get(name="周二")
    assert selectors.consent_allows(customer_id=first.pk, channel="sms", purpose="marketing")
    assert not selectors.consent_allows(customer_id=first.pk, channel="email",
                                        purpose="marketing")
    assert selectors.consent_allows(customer_id=second.pk, channel="email", purpose="marketing")
    record = ConsentRecord.objects.filter(customer=first, channel="sms").get()
    assert record.source == "import" and "consent.csv" in record.reference
    assert job.rejected == 1
    assert job.errors.filter(column="同意短信营销").exists()


def test_purposes_are_configurable_and_segments_accept_new_ones(actor, admin_user):
    from kehu.segments.definition import validate

    with pytest.raises(ValidationFailed):
        validate({"type": "group", "conditions": [{"type": "consent", "purpose": "surveys"}]})
    services.consent_purpose_save(actor=actor, code="surveys", name="满意度调查")
    tree = validate({"type": "group", "conditions": [{"type": "consent", "purpose": "surveys"}]})
    assert tree["conditions"][0] == {"type": "consent", "purpose": "surveys", "channel": "any"}
    customer = create_customer(name="调查客户")
    grant(actor, customer, purpose="surveys", channel="any")
    assert selectors.consent_allows(customer_id=customer.pk, channel="sms", purpose="surveys")
    services.consent_purpose_save(actor=actor, code="surveys", name="满意度调查",
                                  is_active=False)
    with pytest.raises(ValidationFailed):
        grant(actor, customer, purpose="surveys")


def test_unsubscribe_footer_is_a_working_withdrawal_link(actor):
    customer = create_customer(name="退订客户")
    grant(actor, customer, channel="email")
    footer = services.consent_unsubscribe_footer(actor=actor, customer_id=customer.pk,
                                                 channel="email", base_url="https://crm.example")
    token = footer.split("/privacy/link/")[1].rstrip("/")
    assert footer.startswith("退订：https://crm.example/privacy/link/") or "Unsubscribe" in footer
    services.consent_link_use(token=token)
    assert not selectors.consent_allows(customer_id=customer.pk, channel="email",
                                        purpose="marketing")
    with pytest.raises(services.LinkInvalid):
        services.consent_link_use(token=token)


def test_export_forms_offer_purpose_and_channel_and_both_paths_skip_the_same(
        admin_user, api_client_for):
    """The customer list's and a segment's export forms have the purpose and channel selects
    (labels, not codes); the page's export and the API's leave out the same customers and say
    how many (the page in a message, both in X-Kehu-Skipped-No-Consent)."""
    from django.test import Client

    from kehu.segments.services import segment_create

    actor = Actor(user=admin_user)
    a, b, c = (create_customer(name=n) for n in ("导一", "导二", "导三"))
    grant(actor, a)
    grant(actor, b, channel="any")
    withdraw(actor, c, channel="sms")
    web = Client()
    web.force_login(admin_user)
    page = web.get("/customers/").content.decode()
    assert 'name="purpose"' in page and 'name="channel"' in page
    assert "marketing</option>" not in page  # labels, not codes
    web_export = web.get("/interchange/customers/export/?format=csv&cols=name&purpose=marketing&channel=sms")
    api_export = api_client_for(admin_user).get(
        "/api/v1/customers/export?purpose=marketing&channel=sms&columns=name")
    web_rows = b"".join(web_export.streaming_content).decode("utf-8-sig").splitlines()[1:]
    api_rows = b"".join(api_export.streaming_content).decode("utf-8-sig").splitlines()[1:]
    assert sorted(web_rows) == sorted(api_rows) == ["导一", "导二"]
    assert web_export["X-Kehu-Skipped-No-Consent"] == api_export[
        "X-Kehu-Skipped-No-Consent"] == "1"
    # The form's defaults (no purpose, channel "any"): a plain export of everyone.
    plain = web.get("/interchange/customers/export/?format=csv&cols=name&purpose=&channel=any")
    assert plain.status_code == 200 and plain["X-Kehu-Skipped-No-Consent"] == "0"
    assert len(b"".join(plain.streaming_content).decode("utf-8-sig").splitlines()) == 1 + 3
    note = [str(m) for m in web.get("/customers/").context["messages"]]
    assert any("1" in m and ("consent" in m or "同意" in m) for m in note), note
    segment = segment_create(actor=actor, name="华东", definition={
        "type": "group", "match": "all",
        "conditions": [{"type": "field", "field": "name", "op": "contains", "value": "导"}]})
    detail = web.get(f"/segments/{segment.pk}/").content.decode()
    assert 'data-testid="segment-export-purpose"' in detail
    members = web.get(f"/interchange/segments/{segment.pk}/export/?format=csv&cols=name&purpose=marketing"
                      "&channel=sms")
    assert members["X-Kehu-Skipped-No-Consent"] == "1"
    everyone = web.get(f"/interchange/segments/{segment.pk}/export/?format=csv&cols=name"
                       "&purpose=&channel=any")
    assert everyone.status_code == 200 and everyone["X-Kehu-Skipped-No-Consent"] == "0"


def test_segment_consent_states_allowed_withdrawn_and_never_asked(actor, admin_user):
    """Four customers: granted on SMS; granted on any channel then withdrawn on SMS; expired
    grant; never asked. Each state's count equals the hand count, and the three states
    cover everyone."""
    from kehu.segments.selectors import segment_queryset

    granted, any_then_out, expired, never = (create_customer(name=n) for n in "甲乙丙丁")
    grant(actor, granted)
    grant(actor, any_then_out, channel="any")
    withdraw(actor, any_then_out, channel="sms")
    grant(actor, expired, expires_at=timezone.now() + dt.timedelta(hours=1))
    ConsentState.objects.filter(customer=expired).update(
        expires_at=timezone.now() - dt.timedelta(minutes=1))
    services.consents_expire_due()

    def members(state, channel="sms"):
        node = {"type": "consent", "purpose": "marketing", "channel": channel}
        if state:
            node["state"] = state
        return set(segment_queryset(user=admin_user, definition={
            "type": "group", "match": "all", "conditions": [node]}).values_list("pk", flat=True))

    assert members(None) == {granted.pk}
    assert members("withdrawn") == {any_then_out.pk, expired.pk}
    assert members("none") == {never.pk}
    # On email only the any-channel grant speaks (and it stands): the others were never asked.
    assert members(None, "email") == {any_then_out.pk}
    assert members("none", "email") == {granted.pk, expired.pk, never.pk}


def test_builder_page_offers_consent_and_save_reload_keeps_the_count(admin_user):
    """The builder offers a Consent block with translated purpose, channel and state selects;
    posting it (as the page does), saving, then opening the saved segment again shows the
    same selections and the saved segment has the preview's count."""
    import re

    from django.test import Client

    from kehu.segments.models import Segment

    actor = Actor(user=admin_user)
    yes, out, _never = (create_customer(name=n) for n in ("同意甲", "退订乙", "未问丙"))
    grant(actor, yes, channel="email")
    withdraw(actor, out, channel="email")
    web = Client()
    web.force_login(admin_user)
    page = web.get("/segments/builder/")
    assert page.status_code == 200 and 'data-testid="add-consent-r"' in page.content.decode()
    added = web.post("/segments/builder/", {"r.type": "group", "r.match": "all", "r.n": "0",
                                            "edit": "add:r:consent"}).content.decode()
    assert 'name="r.c0.purpose"' in added and 'name="r.c0.state"' in added
    assert re.search(r'<option value="marketing"[^>]*>[^<m][^<]*</option>', added)  # a label
    form = {"r.type": "group", "r.match": "all", "r.n": "1", "r.c0.type": "consent",
            "r.c0.purpose": "marketing", "r.c0.channel": "email", "r.c0.state": "withdrawn"}
    preview = web.post("/segments/preview/", form).content.decode()
    saved = web.post("/segments/save/", {**form, "name": "邮件退订", "dynamic": "on"})
    assert saved.status_code == 302
    segment = Segment.objects.get(name="邮件退订")
    assert segment.definition["conditions"] == [
        {"type": "consent", "purpose": "marketing", "channel": "email", "state": "withdrawn"}]
    assert segment.size == 1 and re.search(r"\b1\b", preview)
    reloaded = web.get(f"/segments/builder/?segment={segment.pk}").content.decode()
    assert re.search(r'<option value="email" selected>', reloaded)
    assert re.search(r'<option value="withdrawn" selected>', reloaded)
    from django.utils import translation

    from kehu.segments.describe import describe_text

    with translation.override("en"):
        assert describe_text(segment.definition).endswith(
            "Consent for Marketing (Email): withdrew consent (or it expired)")


def _id_number_born(year: int) -> str:
    body = f"110105{year}0101123"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]


def test_under_14_found_after_the_grant_stops_contact_everywhere(actor, admin_user):
    """A grant recorded before the card said the person is a child: once the birthday (at
    once) or the ID number (through the customer.field_changed subscriber) shows they are
    under 14, every contact check says no — consent_allows, the rule actions' may_contact,
    the segment condition and a marketing export — until a guardian's consent is recorded."""
    from kehu.automation.consent import may_contact
    from kehu.core.events import dispatch
    from kehu.customers.selectors import CustomerFilters
    from kehu.customers.services import customer_update
    from kehu.interchange.export import customers_export
    from kehu.segments.selectors import segment_queryset

    today = timezone.localdate()
    by_birthday = create_customer(name="生日童", email="tong1@example.cn")
    by_id = create_customer(name="证件童", email="tong2@example.cn")
    for child in (by_birthday, by_id):
        grant(actor, child, channel="email")
    dispatch()

    def allowed():
        members = set(segment_queryset(user=admin_user, definition={
            "type": "group", "match": "all", "conditions": [
                {"type": "consent", "purpose": "marketing", "channel": "email"}]})
            .values_list("pk", flat=True))
        export = customers_export(actor=actor, filters=CustomerFilters(), columns=["name"],
                                  fmt="csv", purpose="marketing", channel="email")
        list(export.content)
        checks = {c.pk: (selectors.consent_allows(customer_id=c.pk, channel="email",
                                                  purpose="marketing"),
                         may_contact(c, "email"), c.pk in members)
                  for c in (by_birthday, by_id)}
        return checks, export.rows

    assert allowed() == ({by_birthday.pk: (True, True, True), by_id.pk: (True, True, True)}, 2)
    customer_update(actor=actor, customer=by_birthday, expected_version=None,
                    changes={"birthday": today.replace(year=today.year - 9)})
    customer_update(actor=actor, customer=by_id, expected_version=None,
                    changes={"id_number": _id_number_born(today.year - 8)})
    dispatch()
    by_birthday.refresh_from_db()
    by_id.refresh_from_db()
    assert allowed() == ({by_birthday.pk: (False,) * 3, by_id.pk: (False,) * 3}, 0)
    assert ConsentState.objects.get(customer=by_id).minor_until is not None
    grant(actor, by_id, channel="email", guardian_consent=True)
    assert allowed()[0][by_id.pk] == (True, True, True)
