from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TransactionsConfig(AppConfig):
    name = "kehu.transactions"
    label = "transactions"
    verbose_name = _("Transactions")

    def ready(self):
        from kehu.core import labels
        from kehu.transactions.models import Order, Product, Ticket

        labels.register_model("order", Order)
        labels.register_model("product", Product)
        labels.register_model("ticket", Ticket)
