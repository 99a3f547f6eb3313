"""One person with every kind of data kehu keeps about someone, for the erasure and access
tests: made through the services, as the application would."""

from __future__ import annotations

PERSON = {
    "name": "欧阳娜娜",
    "mobile": "13912345678",
    "email": "nana.ouyang@example.cn",
    "wechat": "nana_wx_2026",
    "address": "浙江省杭州市西湖区文三路398号",
}
_BODY = "33010619900307123"


def id_number() -> str:
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return _BODY + "10X98765432"[sum(int(d) * w for d, w in zip(_BODY, weights, strict=True)) % 11]


def values() -> list[str]:
    """What must not be found anywhere after the erasure."""
    return [PERSON["name"], PERSON["mobile"], PERSON["email"], PERSON["wechat"],
            PERSON["address"], "文三路398号", id_number()]


def make_person(actor, tmp_dir) -> int:
    """The person with a card, an interaction, an order, a ticket, an event, consent, a
    revealed ID number, an import that ran (GB18030 CSV) and one uploaded but not run."""
    from pathlib import Path

    from kehu.customers.services import customer_create, customer_reveal_id_number
    from kehu.interactions.services import event_ingest, interaction_log
    from kehu.interchange.services import import_job_create, import_job_run
    from kehu.privacy.services import consent_record
    from kehu.transactions.services import order_create, product_create, ticket_open

    customer = customer_create(actor=actor, name=PERSON["name"], mobile=PERSON["mobile"],
                               email=PERSON["email"], wechat=PERSON["wechat"],
                               id_number=id_number(), address=PERSON["address"],
                               notes=f"{PERSON['name']}喜欢晚上联系")
    interaction_log(actor=actor, customer=customer, kind="call",
                    summary=f"给{PERSON['name']}打电话，确认地址{PERSON['address']}")
    product = product_create(actor=actor, sku="PRV-1", name="打印机", unit_price="1999.00")
    order_create(actor=actor, customer=customer, lines=[{"product": product, "quantity": 2}],
                 notes=f"送货到{PERSON['address']}")
    ticket_open(actor=actor, customer=customer, kind="service_request",
                subject=f"{PERSON['name']}的打印机卡纸", description=f"回电{PERSON['mobile']}")
    from django.utils import timezone

    event_ingest(actor=actor, events=[{"customer_id": customer.pk, "event_type": "page_view",
                                       "occurred_at": timezone.now().isoformat(),
                                       "properties": {"url": "/p/1", "phone": PERSON["mobile"]}}])
    consent_record(actor=actor, customer_id=customer.pk, purpose="marketing", channel="sms",
                   status="granted", source="form", notice_text="短信营销告知 v1")
    customer_reveal_id_number(actor=actor, customer=customer)
    csv_path = Path(tmp_dir) / "customers-gb18030.csv"
    csv_path.write_bytes(
        ("姓名,手机,邮箱,身份证号,地址,同意短信营销\n"
         f"{PERSON['name']},{PERSON['mobile']},{PERSON['email']},{id_number()},"
         f"{PERSON['address']},是\n"
         "王小二,13700000001,not-an-email,,北京市朝阳区,否\n").encode("gb18030"))
    job = import_job_create(actor=actor, file=csv_path, filename=csv_path.name)
    import_job_run(job_id=job.pk, actor=actor)
    import_job_create(actor=actor, file=csv_path, filename="again.csv")  # kept, not run
    return customer.pk
