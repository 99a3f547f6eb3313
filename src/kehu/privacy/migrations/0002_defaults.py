"""The consent purposes and retention policies kehu starts with (rows afterwards)."""

from django.db import migrations

PURPOSES = [("marketing", "营销推广", False), ("service", "服务通知", False),
            ("analytics", "分析与画像", False), ("third_party", "向第三方提供", True),
            ("cross_border", "跨境传输", True), ("sensitive", "敏感个人信息处理", True)]
RETENTION = {"import_uploads": 7, "import_reports": 30, "exports": 7, "events": 730,
             "domain_events": 90, "inactive_customers": 365 * 3}


def seed(apps, schema_editor):
    Purpose = apps.get_model("privacy", "ConsentPurpose")
    for position, (code, name, separate) in enumerate(PURPOSES):
        Purpose.objects.get_or_create(code=code, defaults={
            "name": name, "separate": separate, "position": position})
    Policy = apps.get_model("privacy", "RetentionPolicy")
    for data_class, days in RETENTION.items():
        Policy.objects.get_or_create(data_class=data_class, defaults={"days": days})


class Migration(migrations.Migration):
    dependencies = [("privacy", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
