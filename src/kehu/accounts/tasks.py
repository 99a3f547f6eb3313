"""Housekeeping for sign-in state."""

from django.core.management import call_command
from huey import crontab
from huey.contrib.djhuey import db_periodic_task


@db_periodic_task(crontab(minute="5", hour="4"))
def sessions_clear_expired():
    call_command("clearsessions")
