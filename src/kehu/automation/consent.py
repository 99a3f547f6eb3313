"""The one seam every marketing message to a customer passes: may this customer be contacted
on this channel for this purpose?

Today it reads the customer's preferred channel (service messages need only an address;
marketing needs the customer to prefer that channel). The privacy app's consent ledger is
wired in here, and only here, when it lands.
"""

from __future__ import annotations

MARKETING, SERVICE = "marketing", "service"


def may_contact(customer, channel: str, purpose: str = MARKETING) -> bool:
    """Whether a message on `channel` ("email" | "sms") for `purpose` may be sent."""
    address = customer.primary_email if channel == "email" else customer.primary_mobile
    if not address or customer.status != "active":
        return False
    if purpose == SERVICE:
        return True
    return customer.preferred_channel == channel
