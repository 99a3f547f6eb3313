"""Give the built-in roles that already exist the report permissions new databases start with."""

from django.db import migrations

GRANTS = {"admin": ("report.view", "report.share"),
          "sales_manager": ("report.view", "report.share"),
          "marketer": ("report.view", "report.share"),
          "sales_rep": ("report.view",)}


def grant(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for role in Role.objects.filter(code__in=GRANTS, is_system=True):
        wanted = sorted(set(role.permissions or []) | set(GRANTS[role.code]))
        if wanted != sorted(role.permissions or []):
            role.permissions = wanted
            role.save(update_fields=["permissions"])


class Migration(migrations.Migration):
    dependencies = [("reports", "0001_initial"), ("accounts", "0002_default_roles")]
    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
