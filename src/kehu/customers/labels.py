"""The customers app's vocabulary for kehu.core.labels: field names, choice values, identifier
kinds and the systems that issue external ids, so pages and the audit log read 微信 and
生命周期阶段 instead of `wechat` and `lifecycle_stage`."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from kehu.core import labels
from kehu.customers.models import (
    Address,
    ContactLink,
    Customer,
    CustomFieldDefinition,
    Identifier,
    Tag,
    TagGroup,
)
from kehu.customers.rule_fields import _LABELS as RULE_FIELD_LABELS

# Systems that issue external customer ids (identifier kind "external").
EXTERNAL_SYSTEMS = [
    ("tmall", _("Tmall")), ("taobao", _("Taobao")), ("jd", _("JD.com")),
    ("pinduoduo", _("Pinduoduo")), ("douyin", _("Douyin")), ("youzan", _("Youzan")),
    ("wechat_mp", _("WeChat official account")), ("erp", _("ERP")), ("crm", _("Old CRM")),
]
# Where customers and their events come from, when recorded as a code.
SOURCE_CHANNELS = [
    ("web", _("Website")), ("app", _("App")), ("wechat_mp", _("WeChat official account")),
    ("wechat_mini", _("WeChat mini program")), ("wechat", _("WeChat")),
    ("edm", _("Email marketing")), ("sms", _("SMS")), ("tmall", _("Tmall")),
    ("jd", _("JD.com")), ("douyin", _("Douyin")), ("api", _("API")), ("import", _("Import")),
    ("erp", _("ERP")), ("offline", _("Offline")), ("referral", _("Referral")),
    ("trade_show", _("Trade show")), ("telemarketing", _("Telemarketing")),
]


def register() -> None:
    labels.register_choices("identifier.kind", Identifier.KINDS)
    labels.register_choices("identifier.system", EXTERNAL_SYSTEMS)
    labels.register_choices("source", SOURCE_CHANNELS)
    labels.register_model("customer", Customer, fields={
        **RULE_FIELD_LABELS, "owner": _("Owner"), "team": _("Team"), "region": _("Region"),
        "status": _("Status"), "kind": _("Type"), "identifier": _("Identifier"),
        "address": _("Address"), "contact": _("Contact"), "tag": _("Tag"), "tags": _("Tags"),
        "field": _("Field"), "product_interests": _("Product interests"),
        "merged_into": _("Merged into"), "merged": _("Merged customers"),
        # identifier changes are audited one key per kind (kehu.customers.fields)
        **{f"identifier.{kind}": label for kind, label in Identifier.KINDS},
        # demo.load
        "counts": _("Counts"), "seed": _("Seed"), "events_per_customer": _("Events per customer"),
    }, values={"identifier": "identifier.described", "source": "source",
               "identifier.external": "identifier.described",
               "channel": "source"})
    labels.register_model("identifier", Identifier, values={"system": "identifier.system"})
    labels.register_model("address", Address)
    labels.register_model("contact", ContactLink)
    labels.register_model("tag", Tag)
    labels.register_model("tag_group", TagGroup, fields={"tags": _("Tags")})
    labels.register_model("customfield", CustomFieldDefinition)
    labels.register_choices("audit.action", {"demo.load": _("Load demo customers")})
