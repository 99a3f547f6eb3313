from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AssignmentConfig(AppConfig):
    name = "kehu.assignment"
    label = "assignment"
    verbose_name = _("Assignment")

    def ready(self):
        from django.urls import reverse

        from kehu.assignment import handlers
        from kehu.assignment.models import METHODS, REASONS, AssignmentRule, BookTransfer
        from kehu.core import labels
        from kehu.core.events import subscribe
        from kehu.core.jobs import JobKind, register_job_kind
        from kehu.core.workload import register_open_items
        from kehu.interactions.selectors import open_follow_ups_by_assignee
        from kehu.segments.fields import FIELDS, FieldSpec, register

        register_open_items("follow_ups", _("Open follow-ups"), open_follow_ups_by_assignee)
        subscribe("customer.created", handlers.customer_created, name="assignment.auto")
        register_job_kind(JobKind(key="book_transfer", label=_("Book transfer"),
                                  permission="assignment.manage",
                                  detail_url=lambda job: reverse("assignment:transfer")))
        labels.register_choices("assignment.method", METHODS)
        labels.register_choices("assignment.reason", REASONS)
        labels.register_model("assignment_rule", AssignmentRule,
                              values={"method": "assignment.method"})
        labels.register_model("book_transfer", BookTransfer)
        labels.register_choices("audit.action", {
            "assignment.decide": _("Assignment decision"),
            "assignment_rule.save": _("Save assignment rule"),
            "assignment_rule.delete": _("Delete assignment rule"),
            "assignment_rule.reorder": _("Reorder assignment rules"),
            "book.transfer": _("Book transfer"),
            "followup.reassign": _("Reassign follow-up"),
            "user.leave": _("Set leave"),
        })
        # Rules match on company size too (the segment language had no such field yet).
        if "company_size" not in FIELDS:
            register(FieldSpec("company_size", _("Company size"), "text", "company_size"))
