"""The default business calendar: 09:00–18:00 with a 12:00–13:00 lunch break, Monday to
Friday, and the bundled PRC holidays and make-up working days; the admin role may configure
the service desk."""

import datetime as dt
import json
from pathlib import Path

from django.db import migrations

DATA = Path(__file__).resolve().parents[1] / "data" / "prc_holidays.json"


def forwards(apps, schema_editor):
    BusinessCalendar = apps.get_model("service", "BusinessCalendar")
    CalendarDay = apps.get_model("service", "CalendarDay")
    if not BusinessCalendar.objects.exists():
        calendar = BusinessCalendar.objects.create(
            name="中国大陆工作日", time_zone="Asia/Shanghai", workdays=[0, 1, 2, 3, 4],
            day_start=dt.time(9), lunch_start=dt.time(12), lunch_end=dt.time(13),
            day_end=dt.time(18), is_default=True)
        data = json.loads(DATA.read_text(encoding="utf-8"))["years"]
        rows = []
        for spec in data.values():
            for kind, key in (("holiday", "holidays"), ("workday", "workdays")):
                rows += [CalendarDay(calendar=calendar, date=dt.date.fromisoformat(day),
                                     kind=kind, name=name, source=spec["source"][:200],
                                     provisional=spec["provisional"])
                         for day, name in spec[key]]
        CalendarDay.objects.bulk_create(rows)
    Role = apps.get_model("accounts", "Role")
    for role in Role.objects.filter(code="admin"):
        if "service.configure" not in role.permissions:
            role.permissions = sorted([*role.permissions, "service.configure"])
            role.save(update_fields=["permissions"])


class Migration(migrations.Migration):
    dependencies = [("service", "0001_initial"), ("accounts", "0002_default_roles")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
