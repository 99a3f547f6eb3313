from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InteractionsConfig(AppConfig):
    name = "kehu.interactions"
    label = "interactions"
    verbose_name = _("Interactions")

    def ready(self):
        from django.utils.translation import gettext_lazy as _

        from kehu.core import events, labels
        from kehu.interactions.models import Event, FollowUpTask, Interaction
        from kehu.interactions.selectors import follow_up_digest_items
        from kehu.interactions.services import BATCH_EVENT, batch_expand
        from kehu.notifications.digest import register_digest_section

        events.register_envelope(BATCH_EVENT, batch_expand, types=("event.ingested",))
        register_digest_section("follow_ups", title=_("Follow-ups due today and overdue"),
                                items=follow_up_digest_items, order=10)
        labels.register_choices("audit.action", {
            "followup.snooze": _("Snooze follow-up"),
            "followup.reassign": _("Reassign follow-up"),
        })
        labels.register_model("interaction", Interaction)
        labels.register_model("followup", FollowUpTask)
        labels.register_model("event", Event, values={"source": "source"})
        labels.register_choices("event.event_type", Event.TYPES)
        # The properties an event's timeline entry shows.
        labels.register_choices("event.property", {
            "title": _("Page title"), "name": _("Name"), "product": _("Product"), "url": _("URL"),
            "path": _("URL"), "campaign": _("Campaign"), "query": _("Search"),
            "q": _("Search"), "subject": _("Subject"), "form": _("Form"),
            "category": _("Category"), "price": _("Price"), "quantity": _("Quantity"),
            "platform": _("Platform")})
