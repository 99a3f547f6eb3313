"""Create the audit chain's head row up front, so the first appends never race to create it."""

from django.db import migrations


def create_head(apps, schema_editor):
    apps.get_model("core", "AuditChainHead").objects.get_or_create(
        id=1, defaults={"last_seq": 0, "last_hash": "0" * 64})


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]
    operations = [migrations.RunPython(create_head, migrations.RunPython.noop)]
