"""Consent vocabulary and the rules every consent path shares: which purposes exist, which
channels, whether a person is under 14 (PIPL Art. 31), how yes/no import cells read.

No ORM writes here: services.py records, selectors.py reads.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.core.errors import ValidationFailed
from kehu.privacy.models import CHANNEL_CODES, CHANNELS, DEFAULT_PURPOSES, ConsentPurpose

ANY = "any"
MINOR_AGE = 14
# Import column words for each channel and purpose: 同意短信营销, 是否接收邮件营销 …
CHANNEL_WORDS = {"sms": ("短信", "sms"), "email": ("邮件", "电子邮件", "email"),
                 "phone": ("电话", "phone"), "wechat": ("微信", "wechat"),
                 "push": ("推送", "app推送", "push"), "post": ("邮寄", "信件", "post")}
PURPOSE_WORDS = {"marketing": ("营销", "营销推广", "marketing"),
                 "service": ("服务通知", "通知", "service"),
                 "analytics": ("分析", "画像", "analytics"),
                 "third_party": ("第三方共享", "向第三方提供", "third party"),
                 "cross_border": ("跨境传输", "出境", "cross border"),
                 "sensitive": ("敏感信息处理", "sensitive")}
YES = frozenset({"是", "同意", "y", "yes", "true", "1", "√", "✓", "接受", "允许", "on"})
NO = frozenset({"否", "不同意", "n", "no", "false", "0", "×", "拒绝", "不允许", "退订", "off"})


def purpose_codes(*, active_only: bool = True) -> list[str]:
    """The configured purposes (the defaults are put back when the table is empty: tests that
    flush tables, a fresh database before migrations seed it)."""
    rows = ConsentPurpose.objects.all()
    if active_only:
        rows = rows.filter(is_active=True)
    codes = list(rows.values_list("code", flat=True))
    if not codes and not ConsentPurpose.objects.exists():
        for position, (code, label, separate) in enumerate(DEFAULT_PURPOSES):
            ConsentPurpose.objects.get_or_create(code=code, defaults={
                "name": str(label), "separate": separate, "position": position})
        codes = [code for code, _label, _separate in DEFAULT_PURPOSES]
    return codes


def purpose_label(code: str) -> str:
    """A purpose in the active language: the built-in ones translated, others by name."""
    for known, label, _separate in DEFAULT_PURPOSES:
        if known == code:
            return str(label)
    row = ConsentPurpose.objects.filter(code=code).first()
    return row.name if row else code


def channel_label(code: str) -> str:
    return str(dict(CHANNELS).get(code, code))


def check_purpose_channel(purpose: str, channel: str, *, field_prefix: str = "") -> None:
    """ValidationFailed naming the field when the purpose or channel is unknown."""
    errors: dict[str, list[str]] = {}
    if purpose not in purpose_codes():
        errors[f"{field_prefix}purpose"] = [_("Unknown purpose “%(code)s”; use one of: %(codes)s.")
                                            % {"code": purpose,
                                               "codes": ", ".join(purpose_codes())}]
    if channel not in CHANNEL_CODES:
        errors[f"{field_prefix}channel"] = [_("Unknown channel “%(code)s”; use one of: %(codes)s.")
                                            % {"code": channel,
                                               "codes": ", ".join(CHANNEL_CODES)}]
    if errors:
        raise ValidationFailed(details=errors)


def fourteenth_birthday(born: date) -> date:
    try:
        return born.replace(year=born.year + MINOR_AGE)
    except ValueError:  # 29 February
        return date(born.year + MINOR_AGE, 3, 1)


def birth_date_of(customer) -> date | None:
    """The birthday on the card, else the one inside the (encrypted) ID number."""
    if customer.birthday:
        return customer.birthday
    if customer.id_number_encrypted:
        from kehu.core.crypto import DecryptionError, decrypt

        try:
            text = decrypt(customer.id_number_encrypted)
            return date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
        except (DecryptionError, ValueError):
            return None
    return None


def minor_until(customer, today: date | None = None) -> date | None:
    """The day the customer turns 14 when they are younger today, else None."""
    born = birth_date_of(customer)
    if born is None:
        return None
    until = fourteenth_birthday(born)
    return until if until > (today or timezone.localdate()) else None


def parse_yes_no(text: str) -> bool | None:
    """是/否 (and the usual spellings) to True/False; None when it is neither."""
    folded = (text or "").strip().casefold()
    if folded in YES:
        return True
    if folded in NO:
        return False
    return None


def import_fields() -> dict[str, tuple[Any, tuple[str, ...]]]:
    """The consent columns of a customers import: `consent.<purpose>.<channel>` -> (label,
    header synonyms) for the built-in purposes and the contact channels."""
    fields: dict[str, tuple[Any, tuple[str, ...]]] = {}
    purposes = {code: label for code, label, _separate in DEFAULT_PURPOSES}
    channels = dict(CHANNELS)
    for purpose, words in PURPOSE_WORDS.items():
        for channel, channel_words in CHANNEL_WORDS.items():
            synonyms: list[str] = []
            for cw in channel_words:
                for pw in words:
                    synonyms += [f"同意{cw}{pw}", f"是否同意{cw}{pw}", f"接收{cw}{pw}",
                                 f"是否接收{cw}{pw}", f"{cw}{pw}同意", f"consent {pw} {cw}"]
            fields[f"consent.{purpose}.{channel}"] = (
                format_lazy("{}: {} · {}", gettext_lazy("Consent"), purposes[purpose],
                            channels[channel]), tuple(dict.fromkeys(synonyms)))
    return fields
