"""Nightly insights (Huey): recommendations, purchase signals, then the churn model's fit and
scoring. Tasks only call the services; each run is a job on the jobs page."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from kehu.core.actor import Actor
from kehu.insights import services


def _system() -> Actor:
    return Actor.system(via="system")


@db_periodic_task(crontab(minute="0", hour="3"))
def insights_nightly() -> dict:
    """After the RFM run (02:30) and before the day starts."""
    out = {"recommendations": services.recommendations_build(actor=_system()),
           "signals": services.signals_detect(actor=_system())}
    fit = services.churn_fit(actor=_system())
    out["churn_fit"] = fit.pk
    return out


@db_periodic_task(crontab(minute="15", hour="*/4"))
def signals_detect_periodic() -> dict:
    """Signals go stale fastest ("this week"): every four hours."""
    return services.signals_detect(actor=_system())


@db_task()
def churn_fit_task() -> int:
    return services.churn_fit(actor=_system()).pk
