from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AutomationConfig(AppConfig):
    name = "kehu.automation"
    label = "automation"
    verbose_name = _("Automation")

    def ready(self):
        from kehu.automation import engine
        from kehu.automation.models import Rule, RuleRun
        from kehu.core import events, labels

        labels.register_object("rule", _("Rule"), fields={
            "name": _("name"), "description": _("description"), "trigger": _("trigger"),
            "conditions": _("conditions"), "actions": _("actions"), "status": _("status"),
            "max_runs_per_hour": _("runs per hour at most"), "version": _("version")},
            values={"status": "rule.status"})
        labels.register_choices("rule.status", Rule.STATUSES)
        labels.register_choices("audit.action", {"rule.activate": _("Activate rule"),
                                                 "rule.pause": _("Pause rule")})
        labels.register_choices("rule_run.status", RuleRun.STATUSES)
        events.subscribe(engine.subscribed_types(), engine.on_event, name="automation.rules")
