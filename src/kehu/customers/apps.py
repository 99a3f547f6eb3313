from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def _identifier_field(value) -> str:
    """The sensitive field of an audited identifier ("mobile:+86…", "email:…") belongs to."""
    from kehu.customers.services.identity import SENSITIVE_FIELD_OF_KIND

    if not isinstance(value, str):
        return ""
    for part in value.split(", "):  # a bulk import lists several
        field = SENSITIVE_FIELD_OF_KIND.get(part.split(":", 1)[0].strip())
        if field:
            return field
    return ""


def _designer_hidden(role: str | None) -> set[str]:
    from kehu.customers.layouts import hidden_everywhere

    return hidden_everywhere(role)


class CustomersConfig(AppConfig):
    name = "kehu.customers"
    label = "customers"
    verbose_name = _("Customers")

    def ready(self) -> None:
        from kehu.accounts.access import register_hidden_fields
        from kehu.core import events
        from kehu.core.selectors import audit_presenter_register
        from kehu.customers.fields import identifier_audit_key, present_changes
        from kehu.customers.labels import register
        from kehu.customers.services.identity import SENSITIVE_FIELD_OF_KIND

        register()  # field and value labels for kehu.core.labels
        register_hidden_fields(_designer_hidden)
        audit_presenter_register("customer", present_changes)
        # Domain events reference these customer values, never copy them.
        events.register_sensitive("customer", {
            "mobile": "customer.mobile", "email": "customer.email",
            "wechat": "customer.wechat", "id_number": "customer.id_number",
            "birthday": "customer.birthday", "address": "customer.address",
            "identifier": _identifier_field,
            # Identifier changes are audited one key per kind ("identifier.wechat").
            **{identifier_audit_key(kind): field for kind, field in SENSITIVE_FIELD_OF_KIND.items()},
        })
