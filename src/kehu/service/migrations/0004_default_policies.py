"""Default SLA policies by priority (business hours on the default calendar), pausing while
the ticket waits for the customer; admins edit them freely."""

from decimal import Decimal

from django.db import migrations

DEFAULTS = [
    ("紧急工单", "urgent", "1", "2", "8", 10),
    ("高优先级工单", "high", "2", "4", "16", 20),
    ("普通工单", "normal", "4", "8", "24", 30),
    ("低优先级工单", "low", "8", "16", "40", 40),
]


def forwards(apps, schema_editor):
    SLAPolicy = apps.get_model("service", "SLAPolicy")
    if SLAPolicy.objects.exists():
        return
    for name, priority, first, following, resolution, position in DEFAULTS:
        SLAPolicy.objects.create(
            name=name, priority=priority, first_response_hours=Decimal(first),
            next_response_hours=Decimal(following), resolution_hours=Decimal(resolution),
            pause_statuses=["waiting_customer"], warn_percent=80, position=position)


def compliance_handles_complaints(apps, schema_editor):
    """Personal-information complaints are routed to the compliance role, which works them."""
    Role = apps.get_model("accounts", "Role")
    for role in Role.objects.filter(code="compliance_auditor"):
        if "ticket.manage" not in role.permissions:
            role.permissions = sorted([*role.permissions, "ticket.manage"])
            role.save(update_fields=["permissions"])


class Migration(migrations.Migration):
    dependencies = [("service", "0003_sla_surveys_complaints"),
                    ("accounts", "0002_default_roles")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop),
                  migrations.RunPython(compliance_handles_complaints, migrations.RunPython.noop)]
