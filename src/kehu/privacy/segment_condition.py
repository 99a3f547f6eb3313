"""The segments' "consent" condition: ``{"type": "consent", "purpose": "marketing",
"channel": "sms"}`` holds for the customers who may be contacted for that purpose on that
channel (selectors.consent_q, the one rule); wrap it in "not" for those who may not."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from kehu.privacy import consent as rules
from kehu.privacy.models import CHANNEL_CODES

KEYS = ("type", "purpose", "channel")


def validate(node: dict[str, Any], path: str, error) -> dict[str, Any] | None:
    purpose, channel = node.get("purpose"), node.get("channel", rules.ANY)
    ok = True
    if purpose not in rules.purpose_codes():
        error("purpose", _("Unknown purpose “%(code)s”; use one of: %(codes)s.")
              % {"code": purpose, "codes": ", ".join(rules.purpose_codes())})
        ok = False
    if channel not in CHANNEL_CODES:
        error("channel", _("Unknown channel “%(code)s”; use one of: %(codes)s.")
              % {"code": channel, "codes": ", ".join(CHANNEL_CODES)})
        ok = False
    return {"type": "consent", "purpose": purpose, "channel": channel} if ok else None


def compile_node(node: dict[str, Any], ctx) -> Any:
    from kehu.privacy.selectors import consent_q

    return consent_q(purpose=node["purpose"], channel=node["channel"], now=ctx.now)


def register() -> None:
    from kehu.segments.definition import ConditionType, register_condition_type

    register_condition_type("consent", ConditionType(keys=KEYS, validate=validate,
                                                     compile=compile_node))
