"""Seed the built-in roles so every database, test databases included, starts with them."""

from django.db import migrations


def create_default_roles(apps, schema_editor):
    from kehu.accounts.default_roles import DEFAULT_ROLES

    Role = apps.get_model("accounts", "Role")
    for spec in DEFAULT_ROLES:
        Role.objects.get_or_create(code=spec["code"], defaults={**spec, "is_system": True})


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]
    operations = [migrations.RunPython(create_default_roles, migrations.RunPython.noop)]
