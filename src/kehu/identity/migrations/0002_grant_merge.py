"""Grant customer.merge to the built-in roles that review duplicates: administrator, data
steward and sales manager (for the team's own customers). Roles edited by an admin keep
their edits except for gaining this permission."""

from django.db import migrations

ROLES = ("admin", "data_steward", "sales_manager")


def grant(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for role in Role.objects.filter(code__in=ROLES, is_system=True):
        if "customer.merge" not in role.permissions:
            role.permissions = sorted([*role.permissions, "customer.merge"])
            role.save(update_fields=["permissions"])


def revoke(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for role in Role.objects.filter(code="sales_manager", is_system=True):
        if "customer.merge" in role.permissions:
            role.permissions = [p for p in role.permissions if p != "customer.merge"]
            role.save(update_fields=["permissions"])


class Migration(migrations.Migration):
    dependencies = [("identity", "0001_initial"), ("accounts", "0002_default_roles")]
    operations = [migrations.RunPython(grant, revoke)]
