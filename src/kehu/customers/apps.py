from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "kehu.customers"
    label = "customers"
    verbose_name = _("Customers")

    def ready(self) -> None:
        from kehu.core.selectors import audit_presenter_register
        from kehu.customers.fields import present_changes
        from kehu.customers.labels import register

        register()  # field and value labels for kehu.core.labels
        audit_presenter_register("customer", present_changes)
