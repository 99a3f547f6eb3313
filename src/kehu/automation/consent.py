"""The one seam every message to a customer passes: may this customer be contacted on this
channel for this purpose?

Marketing needs a live consent for that purpose and channel in the privacy app's consent
ledger (granted, not withdrawn, not expired; a guardian's for a child under 14). Service
messages (about the customer's own order, ticket or contract) need only an address: they are
part of the service the customer asked for, not marketing (PIPL art. 13(2)).
"""

from __future__ import annotations

MARKETING, SERVICE = "marketing", "service"


def may_contact(customer, channel: str, purpose: str = MARKETING) -> bool:
    """Whether a message on `channel` ("email" | "sms") for `purpose` may be sent."""
    from kehu.privacy.selectors import consent_allows

    address = customer.primary_email if channel == "email" else customer.primary_mobile
    if not address or customer.status != "active":
        return False
    if purpose == SERVICE:
        return True
    return consent_allows(customer_id=customer.pk, channel=channel, purpose=purpose)
