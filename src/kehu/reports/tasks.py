from huey import crontab
from huey.contrib.djhuey import db_periodic_task


@db_periodic_task(crontab(minute="23"))
def report_dashboards_hourly():
    """Email the dashboards subscribed to (daily, or weekly on Mondays) once the local hour
    reaches KEHU_DIGEST_HOUR; idempotent per subscription and day."""
    from django.conf import settings
    from django.utils import timezone

    from kehu.reports.mailing import dashboards_send

    if timezone.localtime().hour < getattr(settings, "KEHU_DIGEST_HOUR", 7):
        return None
    return dashboards_send().sent
