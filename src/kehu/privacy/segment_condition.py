"""The segments' "consent" condition: ``{"type": "consent", "purpose": "marketing",
"channel": "sms"}`` holds for the customers who may be contacted for that purpose on that
channel (selectors.consent_q, the one rule). ``"state": "withdrawn"`` picks those whose
consent was withdrawn or expired, ``"state": "none"`` those never asked; wrap it in "not"
for the complement. The builder page offers it as a block with the purpose, channel and state
selects (labels, never codes)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.privacy import consent as rules
from kehu.privacy.models import CHANNEL_CODES, CHANNELS

KEYS = ("type", "purpose", "channel", "state")
ALLOWED = "allowed"
STATES = [(ALLOWED, gettext_lazy("has consent")),
          ("withdrawn", gettext_lazy("withdrew consent (or it expired)")),
          ("none", gettext_lazy("was never asked"))]
STATE_CODES = tuple(code for code, _label in STATES)


def validate(node: dict[str, Any], path: str, error) -> dict[str, Any] | None:
    purpose, channel = node.get("purpose"), node.get("channel", rules.ANY)
    state = node.get("state", ALLOWED)
    ok = True
    if purpose not in rules.purpose_codes():
        error("purpose", _("Unknown purpose “%(code)s”; use one of: %(codes)s.")
              % {"code": purpose, "codes": ", ".join(rules.purpose_codes())})
        ok = False
    if channel not in CHANNEL_CODES:
        error("channel", _("Unknown channel “%(code)s”; use one of: %(codes)s.")
              % {"code": channel, "codes": ", ".join(CHANNEL_CODES)})
        ok = False
    if state not in STATE_CODES:
        error("state", _("Unknown consent state “%(code)s”; use one of: %(codes)s.")
              % {"code": state, "codes": ", ".join(STATE_CODES)})
        ok = False
    if not ok:
        return None
    node = {"type": "consent", "purpose": purpose, "channel": channel}
    if state != ALLOWED:
        node["state"] = state
    return node


def compile_node(node: dict[str, Any], ctx) -> Any:
    from kehu.privacy.selectors import consent_state_q

    return consent_state_q(purpose=node["purpose"], channel=node["channel"],
                           state=node.get("state", ALLOWED), now=ctx.now)


# The builder's block ---------------------------------------------------------------------------


def blank() -> dict[str, Any]:
    return {"type": "consent", "purpose": "marketing", "channel": rules.ANY}


def parse(data, prefix: str) -> dict[str, Any]:
    node = {"type": "consent", "purpose": data.get(f"{prefix}.purpose", "marketing"),
            "channel": data.get(f"{prefix}.channel", rules.ANY)}
    state = data.get(f"{prefix}.state", ALLOWED)
    if state != ALLOWED:
        node["state"] = state
    return node


def view(node: dict[str, Any]) -> dict[str, Any]:
    return {"purposes": [(code, rules.purpose_label(code)) for code in rules.purpose_codes()],
            "channels": [(code, str(label)) for code, label in CHANNELS],
            "states": [(code, str(label)) for code, label in STATES],
            "state": node.get("state", ALLOWED)}


def describe(node: dict[str, Any]) -> str:
    state = dict(STATES).get(node.get("state", ALLOWED), node.get("state"))
    return _("Consent for %(purpose)s (%(channel)s): %(state)s") % {
        "purpose": rules.purpose_label(node["purpose"]),
        "channel": rules.channel_label(node["channel"]), "state": state}


def register() -> None:
    from kehu.segments.definition import ConditionType, register_condition_type

    register_condition_type("consent", ConditionType(
        keys=KEYS, validate=validate, compile=compile_node, label=gettext_lazy("Consent"),
        blank=blank, parse=parse, view=view, template="privacy/_segment_consent.html",
        describe=describe))
