"""Grant webhook.manage (the webhooks page and API) to the built-in administrator role."""

from django.db import migrations

ROLES = ("admin",)


def grant(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for role in Role.objects.filter(code__in=ROLES, is_system=True):
        if "webhook.manage" not in role.permissions:
            role.permissions = sorted([*role.permissions, "webhook.manage"])
            role.save(update_fields=["permissions"])


def revoke(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for role in Role.objects.filter(code__in=ROLES, is_system=True):
        if "webhook.manage" in role.permissions:
            role.permissions = [p for p in role.permissions if p != "webhook.manage"]
            role.save(update_fields=["permissions"])


class Migration(migrations.Migration):
    dependencies = [("integration", "0001_initial"), ("accounts", "0002_default_roles")]
    operations = [migrations.RunPython(grant, revoke)]
