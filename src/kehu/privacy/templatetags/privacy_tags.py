"""`{% consent_export_fields %}`: the purpose and channel selects of an export form (the
customer list's and a segment's). Choosing a purpose makes it a marketing export: customers
without consent for that purpose on that channel are left out and counted."""

from django import template

register = template.Library()


@register.inclusion_tag("privacy/_export_consent.html")
def consent_export_fields(prefix: str = "export"):
    from kehu.privacy.consent import purpose_codes, purpose_label
    from kehu.privacy.models import CHANNELS

    return {"prefix": prefix,
            "purposes": [(code, purpose_label(code)) for code in purpose_codes()],
            "channels": [(code, str(label)) for code, label in CHANNELS]}
