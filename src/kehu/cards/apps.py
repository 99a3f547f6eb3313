from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CardsConfig(AppConfig):
    name = "kehu.cards"
    label = "cards"
    verbose_name = _("Customer cards")

    def ready(self):
        # The pipeline may not call transactions or interactions (same layer); cards sits
        # above all three and connects them.
        from kehu.pipeline import hooks

        hooks.register_order_maker(_order_from_deal)
        hooks.register_reminder_maker(_renewal_follow_up)


def _order_from_deal(*, actor, deal, lines):
    """A won deal's order: its product lines at the deal's prices, pending payment."""
    from kehu.transactions.services import order_create

    return order_create(
        actor=actor, customer=deal.customer, salesperson=deal.owner,
        lines=[{"product": line.product, "quantity": line.quantity,
                "unit_price": line.unit_price} for line in lines],
        notes=str(_("From deal “%s”")) % deal.title)


def _renewal_follow_up(*, actor, contract, title, due_date, assignee):
    """A contract's renewal reminder: a follow-up task on the customer's card."""
    from kehu.interactions.services import follow_up_create

    return follow_up_create(actor=actor, customer=contract.customer, title=title,
                            due_date=due_date, assignee=assignee)
