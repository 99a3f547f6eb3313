from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ServiceConfig(AppConfig):
    name = "kehu.service"
    label = "service"
    verbose_name = _("Service desk")

    def ready(self):
        from django.urls import reverse

        from kehu.core import labels
        from kehu.core.jobs import JobKind, register_job_kind
        from kehu.service import hooks
        from kehu.service.models import (
            CLOCK_LABELS,
            BusinessCalendar,
            CalendarDay,
            Complaint,
            SatisfactionSurvey,
            SLAPolicy,
        )
        from kehu.transactions.hooks import register_ticket_hooks

        labels.register_model("calendar", BusinessCalendar,
                              fields={"date": _("date"), "kind": _("type")},
                              values={"kind": "calendar_day.kind"})
        labels.register_choices("calendar_day.kind", CalendarDay.KINDS)
        labels.register_model("sla_policy", SLAPolicy)
        labels.register_model("survey", SatisfactionSurvey, fields={"ticket": _("ticket")})
        labels.register_model("complaint", Complaint, fields={
            "ticket": _("ticket"), "assignee": _("assignee"), "role": _("role")})
        labels.register_choices("sla.clock", CLOCK_LABELS)
        labels.register_choices("audit.action", {
            "ticket.reply": _("Reply to the customer"),
            "ticket.note": _("Add internal note"), "ticket.customer": _("Log customer message"),
            "ticket.escalate": _("Escalate ticket"), "ticket.merge": _("Merge ticket"),
            "ticket.unmerge": _("Undo ticket merge"), "ticket.sla_warn": _("SLA warning"),
            "ticket.sla_breach": _("SLA breached"), "survey.send": _("Send survey"),
            "survey.answer": _("Answer survey"), "complaint.record": _("Record complaint"),
            "complaint.update": _("Update complaint"),
            "complaint.route": _("Route complaint to compliance"),
            "calendar.day_set": _("Set calendar day"),
            "calendar.day_remove": _("Remove calendar day"),
            "calendar.load": _("Load PRC holidays"),
        })
        register_job_kind(JobKind(key="sla_recompute", label=_("SLA recomputation"),
                                  permission="service.configure",
                                  detail_url=lambda job: reverse("service:policies")))
        register_ticket_hooks(guard=hooks.ticket_guard, after_change=hooks.after_ticket_change)
