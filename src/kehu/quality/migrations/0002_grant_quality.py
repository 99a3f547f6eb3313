"""Grant the data-quality permissions to the built-in roles that keep data clean."""

from django.db import migrations

GRANTS = {"admin": ["quality.view", "quality.configure"],
          "data_steward": ["quality.view", "quality.configure"]}


def grant(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for code, permissions in GRANTS.items():
        for role in Role.objects.filter(code=code):
            missing = [p for p in permissions if p not in role.permissions]
            if missing:
                role.permissions = sorted([*role.permissions, *missing])
                role.save(update_fields=["permissions"])


def revoke(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for code, permissions in GRANTS.items():
        for role in Role.objects.filter(code=code):
            role.permissions = [p for p in role.permissions if p not in permissions]
            role.save(update_fields=["permissions"])


class Migration(migrations.Migration):
    dependencies = [("quality", "0001_initial"), ("accounts", "0002_default_roles")]
    operations = [migrations.RunPython(grant, revoke)]
