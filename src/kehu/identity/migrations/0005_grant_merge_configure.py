"""Grant merge.configure (the survivorship rules page) to the built-in administrator and
data steward roles."""

from django.db import migrations

ROLES = ("admin", "data_steward")


def grant(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for role in Role.objects.filter(code__in=ROLES, is_system=True):
        if "merge.configure" not in role.permissions:
            role.permissions = sorted([*role.permissions, "merge.configure"])
            role.save(update_fields=["permissions"])


def revoke(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for role in Role.objects.filter(code__in=ROLES, is_system=True):
        if "merge.configure" in role.permissions:
            role.permissions = [p for p in role.permissions if p != "merge.configure"]
            role.save(update_fields=["permissions"])


class Migration(migrations.Migration):
    dependencies = [("identity", "0004_survivorship_rules")]
    operations = [migrations.RunPython(grant, revoke)]
