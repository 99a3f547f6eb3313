"""Masks for sensitive values, one place for every page, API response and export."""

from __future__ import annotations

MASK = "*"


def mask_phone(value: str) -> str:
    """+8613812345678 -> 138****5678; short numbers keep only their last two digits."""
    digits = value[3:] if value.startswith("+86") else value.lstrip("+")
    if len(digits) >= 7:
        return digits[:3] + MASK * 4 + digits[-4:]
    return MASK * max(len(digits) - 2, 1) + digits[-2:]


def mask_id_number(value: str) -> str:
    """110101199003071234 -> 110***********1234 (first three and last four kept)."""
    if len(value) <= 7:
        return MASK * len(value)
    return value[:3] + MASK * (len(value) - 7) + value[-4:]


def mask_email(value: str) -> str:
    """zhang.wei@example.com -> z***@example.com."""
    local, sep, domain = value.partition("@")
    if not sep:
        return mask_generic(value)
    return (local[:1] or MASK) + MASK * 3 + "@" + domain


def mask_generic(value: str) -> str:
    """Keep the first character of text and hide the rest (addresses, WeChat IDs, dates)."""
    text = str(value)
    if len(text) <= 1:
        return MASK
    return text[:1] + MASK * min(len(text) - 1, 8)


MASKERS = {
    "customer.mobile": mask_phone,
    "customer.email": mask_email,
    "customer.id_number": mask_id_number,
}


def mask_value(field: str, value):
    if value in (None, ""):
        return value
    return MASKERS.get(field, mask_generic)(str(value))
