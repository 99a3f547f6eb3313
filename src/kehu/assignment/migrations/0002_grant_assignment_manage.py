"""Grant assignment.manage (assignment rules, book transfers) to the built-in administrator
and sales manager roles."""

from django.db import migrations

ROLES = ("admin", "sales_manager")


def grant(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for role in Role.objects.filter(code__in=ROLES, is_system=True):
        if "assignment.manage" not in role.permissions:
            role.permissions = sorted([*role.permissions, "assignment.manage"])
            role.save(update_fields=["permissions"])


def revoke(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for role in Role.objects.filter(code__in=ROLES, is_system=True):
        if "assignment.manage" in role.permissions:
            role.permissions = [p for p in role.permissions if p != "assignment.manage"]
            role.save(update_fields=["permissions"])


class Migration(migrations.Migration):
    dependencies = [("assignment", "0001_initial"), ("accounts", "0002_default_roles")]
    operations = [migrations.RunPython(grant, revoke)]
