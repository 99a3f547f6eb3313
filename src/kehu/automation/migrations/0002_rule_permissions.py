"""Grant rule.manage to administrators, sales managers and marketers; admins edit roles
freely afterwards."""

from django.db import migrations

GRANTS = {"rule.manage": ("admin", "sales_manager", "marketer")}


def grant(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for permission, roles in GRANTS.items():
        for role in Role.objects.filter(code__in=roles):
            if permission not in role.permissions:
                role.permissions = sorted([*role.permissions, permission])
                role.save(update_fields=["permissions"])


def revoke(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for role in Role.objects.all():
        kept = [p for p in role.permissions if p not in GRANTS]
        if kept != role.permissions:
            role.permissions = kept
            role.save(update_fields=["permissions"])


class Migration(migrations.Migration):
    dependencies = [("automation", "0001_initial"), ("accounts", "0002_default_roles")]
    operations = [migrations.RunPython(grant, revoke)]
