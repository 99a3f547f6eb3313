"""Grant segment.view to the built-in roles that read customers (except the compliance
auditor); admins edit roles freely afterwards."""

from django.db import migrations

ROLES = ("admin", "sales_manager", "sales_rep", "marketer", "data_steward", "read_only")


def grant(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for role in Role.objects.filter(code__in=ROLES):
        if "segment.view" not in role.permissions:
            role.permissions = sorted([*role.permissions, "segment.view"])
            role.save(update_fields=["permissions"])


def revoke(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for role in Role.objects.filter(code__in=ROLES):
        role.permissions = [p for p in role.permissions if p != "segment.view"]
        role.save(update_fields=["permissions"])


class Migration(migrations.Migration):
    dependencies = [("segments", "0001_initial"), ("accounts", "0002_default_roles")]
    operations = [migrations.RunPython(grant, revoke)]
