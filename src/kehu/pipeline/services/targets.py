"""Sales targets (业绩目标) and the weekly forecast snapshots that make forecast accuracy
measurable."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.actor import Actor
from kehu.core.errors import NotFound, ValidationFailed
from kehu.core.events import record_change
from kehu.pipeline.forecast import forecast_months, month_start
from kehu.pipeline.models import OPEN, Deal, ForecastSnapshot, Target
from kehu.pipeline.services.common import amount_of

SNAPSHOT_MONTHS = 6


def target_set(*, actor: Actor, period_kind: str, year: int, period: int, amount: Any,
               user=None, team=None) -> Target:
    """Set (or change) the target of one user or one team for a month (1-12) or a quarter
    (1-4). A manager sets targets for people and teams inside their record scope."""
    actor.require("target.manage")
    errors: dict[str, list[str]] = {}
    if (user is None) == (team is None):
        errors["user"] = [_("Set a target for one user or one team.")]
    if period_kind not in (Target.MONTH, Target.QUARTER):
        errors["period_kind"] = [_("“%s” is not a valid choice.") % period_kind]
    if isinstance(year, bool) or not isinstance(year, int) or not 2000 <= year <= 2100:
        errors["year"] = [_("Give a year from 2000 to 2100.")]
    last = 4 if period_kind == Target.QUARTER else 12
    if isinstance(period, bool) or not isinstance(period, int) or not 1 <= period <= last:
        errors["period"] = [_("Give a month from 1 to 12 or a quarter from 1 to 4.")]
    amount = amount_of(errors, "amount", amount)
    if errors:
        raise ValidationFailed(details=errors)
    access = actor.access
    if access is not None:
        if user is not None and not access.may_see_record(owner_id=user.pk,
                                                          team_id=user.team_id):
            raise NotFound()
        if team is not None and access.scope != "all" and team.pk not in access.team_ids:
            raise NotFound()
    with transaction.atomic():
        lookup = {"user": user} if user is not None else {"team": team}
        target = Target.objects.select_for_update().filter(
            period_kind=period_kind, year=year, period=period, **lookup).first()
        before = target.amount if target is not None else None
        if target is None:
            target = Target(period_kind=period_kind, year=year, period=period, amount=amount,
                            **lookup)
        target.amount = amount
        target.save()
        who = str(user or team)
        record_change(actor=actor, action="target.set", event="target.set",
                      object_type="target", object_id=target.pk,
                      object_repr=f"{who} {year}-{period_kind[0].upper()}{period}",
                      changes={"amount": {"before": before, "after": amount},
                               "user": getattr(user, "pk", None),
                               "team": getattr(team, "pk", None),
                               "period_kind": period_kind, "year": year, "period": period})
    return target


def forecast_snapshot_take(*, actor: Actor, today: dt.date | None = None) -> int:
    """Record, per deal owner, the forecast of the next SNAPSHOT_MONTHS close months as it
    stands today (weekly; taking it twice a day replaces the day's rows). Returns the rows."""
    today = today or timezone.localdate()
    first = month_start(today)
    owners = list(Deal.objects.filter(status=OPEN).exclude(owner__isnull=True)
                  .values_list("owner_id", "owner__team_id").distinct().order_by("owner_id"))
    with transaction.atomic():
        ForecastSnapshot.objects.filter(taken_on=today).delete()
        rows = []
        for owner_id, team_id in owners:
            for month in forecast_months(Deal.objects.filter(owner_id=owner_id), first,
                                         SNAPSHOT_MONTHS):
                rows.append(ForecastSnapshot(
                    taken_on=today, owner_id=owner_id, team_id=team_id,
                    close_month=month.month, commit=month.commit, best_case=month.best_case,
                    pipeline=month.pipeline, won=month.won))
        ForecastSnapshot.objects.bulk_create(rows, batch_size=500)
        record_change(actor=actor, action="forecast.snapshot", event="forecast.snapshot_taken",
                      object_type="forecast", object_id=today.isoformat(),
                      object_repr=today.isoformat(),
                      changes={"taken_on": today, "owners": len(owners), "rows": len(rows)})
    return len(rows)
