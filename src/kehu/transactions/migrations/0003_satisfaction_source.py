"""Satisfaction recorded before surveys existed was typed in by agents: mark it so."""

from django.db import migrations


def forwards(apps, schema_editor):
    Ticket = apps.get_model("transactions", "Ticket")
    Ticket.objects.filter(satisfaction__isnull=False, satisfaction_source="").update(
        satisfaction_source="agent_phone")


class Migration(migrations.Migration):
    dependencies = [("transactions", "0002_ticket_history_messages")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
