"""The default pipeline (初步接洽 10% → 需求确认 30% → 方案报价 50% → 谈判审批 70% → 赢单 100% /
输单 0%) and the pipeline permissions for the built-in sales roles of existing databases."""

from django.db import migrations

STAGES = [("初步接洽", 10, "open", "pipeline"), ("需求确认", 30, "open", "pipeline"),
          ("方案报价", 50, "open", "best_case"), ("谈判审批", 70, "open", "commit"),
          ("赢单", 100, "won", "commit"), ("输单", 0, "lost", "pipeline")]
GRANTS = {"sales_manager": ["deal.manage", "target.manage", "pipeline.configure"],
          "sales_rep": ["deal.manage"],
          "admin": ["deal.manage", "target.manage", "pipeline.configure"]}


def forwards(apps, schema_editor):
    Pipeline = apps.get_model("pipeline", "Pipeline")
    Stage = apps.get_model("pipeline", "Stage")
    if not Pipeline.objects.exists():
        pipeline = Pipeline.objects.create(name="销售管道", is_default=True)
        for position, (name, probability, kind, category) in enumerate(STAGES):
            Stage.objects.create(pipeline=pipeline, name=name, probability=probability,
                                 kind=kind, forecast_category=category, position=position)
    Role = apps.get_model("accounts", "Role")
    for code, permissions in GRANTS.items():
        for role in Role.objects.filter(code=code, is_system=True):
            missing = [p for p in permissions if p not in role.permissions]
            if missing:
                role.permissions = sorted([*role.permissions, *missing])
                role.save(update_fields=["permissions"])


class Migration(migrations.Migration):
    dependencies = [("pipeline", "0001_initial"), ("accounts", "0002_default_roles")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
