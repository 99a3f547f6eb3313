"""The role sections of the home page: each role lands on what it works on.

Which sections a user gets follows their *focus*: the built-in role's code when the user has
one of the built-in roles, otherwise the permissions of their (custom) role, checked from the
widest job to the narrowest (see `focus_of`). Each section is then shown only when the user
holds the permissions its figures need, so a trimmed built-in role loses the sections it can
no longer read.

Every number comes from the owning app's selectors for this user (record scope, field
masking and permissions are theirs), and every number that stands for a set of records links
to the list that shows exactly that set.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import urlencode

from django.db.models import Count, F, Q, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

STALLED_ROWS = 8
TABLE_ROWS = 8
ALERT_DAYS = 7

FOCUSES = ("rep", "manager", "marketer", "agent", "steward", "compliance", "admin", "general")
ROLE_FOCUS = {"sales_rep": "rep", "sales_manager": "manager", "marketer": "marketer",
              "service_agent": "agent", "data_steward": "steward",
              "compliance_auditor": "compliance", "admin": "admin"}
# A custom role: the first of these whose permission it holds (widest job first).
PERMISSION_FOCUS = [("user.manage", "admin"), ("privacy.manage", "compliance"),
                    ("audit.view", "compliance"), ("quality.view", "steward"),
                    ("ticket.manage", "agent"), ("customer.assign", "manager"),
                    ("segment.manage", "marketer"), ("deal.manage", "rep")]


def focus_of(user) -> str:
    """What the user's home page is about: rep, manager, marketer, agent, steward,
    compliance, admin, or general (only the common figures)."""
    if user.is_superuser:
        return "admin"
    role = getattr(user, "role", None)
    if role is not None and role.code in ROLE_FOCUS:
        return ROLE_FOCUS[role.code]
    access = user.access
    for permission, focus in PERMISSION_FOCUS:
        if access.can(permission):
            return focus
    return "general"


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    value: int
    url: str
    alert: bool = False  # worth acting on (overdue follow-ups, breached tickets)


@dataclass(frozen=True)
class Cell:
    text: str
    url: str = ""
    num: bool = False
    alert: bool = False


@dataclass
class Section:
    key: str
    title: str
    figures: list[Figure] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    rows: list[list[Cell]] = field(default_factory=list)
    empty: str = ""  # shown when there are headers but no rows
    links: list[tuple[str, str]] = field(default_factory=list)  # (label, url)
    note: str = ""


def _url(name: str, *args, **params) -> str:
    query = {k: v for k, v in params.items() if v is not None}
    return reverse(name, args=args) + (f"?{urlencode(query)}" if query else "")


def _day(value) -> str:
    """A date as everywhere in kehu: the year only when it is not this year."""
    from kehu.core.templatetags.kehu_labels import shortdate

    return shortdate(value) or "—"


def _money(value) -> str:
    return f"¥{Decimal(value or 0):,.2f}"


def _board_link(user, key: str, label: str) -> list[tuple[str, str]]:
    from kehu.dashboards.boards import get_board

    board = get_board(key)
    if board is None or not board.visible_to(user):
        return []
    return [(label, reverse("dashboards:board", args=[key]))]


def _month_bounds() -> tuple[dt.datetime, dt.datetime]:
    today = timezone.localdate()
    first = today.replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    tz = timezone.get_current_timezone()
    return (dt.datetime.combine(first, dt.time.min, tzinfo=tz),
            dt.datetime.combine(following, dt.time.min, tzinfo=tz))


# Sales rep -----------------------------------------------------------------------------------


def tasks_section(user) -> Section | None:
    """My tasks today: what is due today and what is overdue, as the "my tasks" tabs."""
    from kehu.interactions import selectors as interactions

    if not user.access.can("customer.view"):
        return None
    counts = interactions.follow_up_tab_counts(user, mine=True)
    agenda = interactions.follow_up_agenda(user, mine=True, upcoming_days=0)
    rows = [[Cell(_("overdue") if t.due_date < agenda.date else _("today"),
                  alert=t.due_date < agenda.date),
             Cell(_day(t.due_date)), Cell(t.customer.name, reverse("cards:card",
                                                                   args=[t.customer_id])),
             Cell(t.title)] for t in [*agenda.overdue, *agenda.today][:TABLE_ROWS]]
    return Section(
        "tasks", _("My tasks today"),
        figures=[Figure("tasks_today", _("Due today"), counts["today"],
                        _url("interactions:follow_ups", tab="today")),
                 Figure("tasks_overdue", _("Overdue"), counts["overdue"],
                        _url("interactions:follow_ups", tab="overdue"),
                        alert=bool(counts["overdue"]))],
        headers=[_("When"), _("Due"), _("Customer"), _("Task")], rows=rows,
        empty=_("Nothing due. Well done."),
        links=[(_("All my follow-ups"), reverse("interactions:follow_ups"))])


def _stalled_figures(user, deals, key: str, label: str, **params) -> list[Figure]:
    """Stalled deals per pipeline (the deal list shows one pipeline at a time)."""
    from kehu.pipeline import selectors as pipeline

    counts = dict(deals.order_by().values("pipeline_id").annotate(n=Count("pk"))
                  .values_list("pipeline_id", "n"))
    pipelines = list(pipeline.pipeline_list(user))  # the lists offer active pipelines
    shown = [p for p in pipelines if counts.get(p.pk)] or [
        p for p in pipelines if p.is_default][:1]
    return [Figure(f"{key}_{p.pk}" if len(shown) > 1 else key,
                   f"{label} · {p.name}" if len(shown) > 1 else label, counts.get(p.pk, 0),
                   _url("pipeline:deals", pipeline=p.pk, stalled="on", **params),
                   alert=bool(counts.get(p.pk))) for p in shown]


def stalled_deals_section(user) -> Section | None:
    from kehu.pipeline import selectors as pipeline

    if not user.access.can("customer.view"):
        return None
    deals = pipeline.deal_list(user, owner_id=user.pk, stalled=True)
    now = timezone.now()
    rows = [[Cell(d.title, reverse("pipeline:deal", args=[d.pk])), Cell(d.customer.name),
             Cell(d.stage.name),
             Cell(str(pipeline.days_in_stage(d.stage_entered_at, now)), num=True, alert=True),
             Cell(_money(d.amount), num=True)]
            for d in deals.order_by("stage_entered_at", "id")[:STALLED_ROWS]]
    return Section(
        "stalled_deals", _("My stalled deals"),
        figures=_stalled_figures(user, deals, "stalled_deals", _("Stalled deals"),
                                 owner=user.pk),
        headers=[_("Deal"), _("Customer"), _("Stage"), _("Days in stage"), _("Amount")],
        rows=rows, empty=_("No deal of yours has sat in its stage too long."),
        note=_("Open deals that have stayed in their stage longer than the stage allows."))


# (list filter, code): the customers worth winning back before they are lost.
CHURN_P_ALIVE = 50  # percent
WIN_BACK = [("value_tier", "dormant"), ("rfm_segment", "at_risk"),
            ("rfm_segment", "cant_lose"), ("rfm_segment", "about_to_sleep")]


def _customer_count(user, **params) -> int:
    """How many customers the customer list shows for these query parameters (the list's own
    parser and query, so the figure and the list cannot disagree)."""
    from kehu.customers import selectors as customers
    from kehu.customers.listing import filters_from_query

    return customers.customer_filtered_queryset(
        user=user, filters=filters_from_query({k: str(v) for k, v in params.items()})).count()


def win_back_section(user) -> Section | None:
    from kehu.customers import selectors as customers
    from kehu.scoring.labels import RFM_SEGMENTS, VALUE_TIERS

    if not (user.access.can("customer.view") and user.access.can("scoring.view")):
        return None
    labels = {"value_tier": dict(VALUE_TIERS), "rfm_segment": dict(RFM_SEGMENTS)}
    figures = [Figure(f"win_back_{code}", str(labels[key][code]),
                      _customer_count(user, owner="me", **{key: code}),
                      _url("customers:list", owner="me", **{key: code}))
               for key, code in WIN_BACK]
    from django.apps import apps

    if apps.is_installed("kehu.prediction"):
        from kehu.prediction import selectors as prediction

        if prediction.predictions_visible(user=user).filter(customer__owner=user).exists():
            # Once the customer-base model has run: customers unlikely still to be active.
            figures.append(Figure(
                "win_back_p_alive", _("P(alive) below %(p)s%%") % {"p": CHURN_P_ALIVE},
                _customer_count(user, owner="me", p_alive_below=CHURN_P_ALIVE),
                _url("customers:list", owner="me", p_alive_below=CHURN_P_ALIVE)))
    wanted = Q(value__value_tier="dormant") | Q(value__rfm_segment__in=[
        code for key, code in WIN_BACK if key == "rfm_segment"])
    rows = []
    for c in (customers.customer_filtered_queryset(
            user=user, filters=customers.CustomerFilters(owner="me")).filter(wanted)
            .select_related("value").order_by(F("value__monetary").desc(nulls_last=True),
                                              "pk")[:TABLE_ROWS]):
        value = c.value
        rows.append([Cell(c.name, reverse("cards:card", args=[c.pk])),
                     Cell(str(labels["value_tier"].get(value.value_tier, "—"))),
                     Cell(str(labels["rfm_segment"].get(value.rfm_segment, "—"))),
                     Cell(_day(c.last_activity_at)), Cell(_money(value.monetary), num=True)])
    return Section(
        "win_back", _("My customers to win back"), figures=figures,
        headers=[_("Customer"), _("Value tier"), _("RFM segment"), _("Last activity"),
                 _("Spend in window")],
        rows=rows, empty=_("Nobody in your book is slipping away."),
        links=_board_link(user, "churn", _("Churn warning board")))


# Sales manager -------------------------------------------------------------------------------


def team_section(user) -> Section | None:
    from kehu.accounts import selectors as accounts
    from kehu.customers import selectors as customers
    from kehu.interactions import selectors as interactions
    from kehu.pipeline import selectors as pipeline

    access = user.access
    if not access.can("customer.view"):
        return None
    teams = sorted(access.team_ids) if access.scope == "team" else (
        [user.team_id] if user.team_id else [])
    members = list(accounts.user_list(user=user).filter(team_id__in=teams))
    ids = [m.pk for m in members]
    owned = dict(customers.customer_queryset(user=user).filter(owner_id__in=ids).order_by()
                 .values("owner_id").annotate(n=Count("pk")).values_list("owner_id", "n"))
    today = timezone.localdate()
    overdue = dict(interactions.follow_up_list(user, status="open", due_before=today)
                   .filter(assignee_id__in=ids).order_by().values("assignee_id")
                   .annotate(n=Count("pk")).values_list("assignee_id", "n"))
    since, until = _month_bounds()
    logged = interactions.interaction_counts_by_actor(user, actor_ids=ids, since=since,
                                                      until=until)
    won = {row["owner_id"]: row for row in pipeline.deal_list(user, status="won").filter(
        owner_id__in=ids, closed_at__gte=since, closed_at__lt=until).order_by()
        .values("owner_id").annotate(n=Count("pk"), amount=Sum("amount"))}
    rows = []
    for m in members:
        rows.append([
            Cell(str(m)),
            Cell(str(owned.get(m.pk, 0)), _url("customers:list", owner=m.pk), num=True),
            Cell(str(overdue.get(m.pk, 0)), _url("interactions:follow_ups", show="all",
                                                  assignee=m.pk, tab="overdue"),
                 num=True, alert=bool(overdue.get(m.pk))),
            Cell(str(logged.get(m.pk, 0)), num=True),
            Cell(str(won.get(m.pk, {}).get("n", 0)), num=True),
            Cell(_money(won.get(m.pk, {}).get("amount")), num=True)])
    return Section(
        "team", _("My team this month"),
        headers=[_("Member"), _("Customers"), _("Overdue tasks"), _("Follow-ups logged"),
                 _("Deals won"), _("Amount won")],
        rows=rows, empty=_("No team members in your scope."),
        links=_board_link(user, "team", _("Team performance board")))


def _ticket_figures(user, queues: tuple[str, ...]) -> list[Figure]:
    from kehu.service import selectors as service

    labels = {"mine": _("My open tickets"), "team": _("My team's tickets"),
              "unassigned": _("Unassigned tickets"), "breaching": _("Breaching soon"),
              "breached": _("SLA breached"), "open": _("Open tickets")}
    now = timezone.now()
    out = []
    for queue in queues:
        count = service.ticket_queue(user, queue=queue, now=now).count()
        out.append(Figure(f"tickets_{queue}", str(labels[queue]), count,
                          _url("service:queue", queue=queue),
                          alert=bool(count) and queue in ("breaching", "breached")))
    return out


def alerts_section(user) -> Section | None:
    from kehu.interactions import selectors as interactions
    from kehu.pipeline import selectors as pipeline

    if not user.access.can("customer.view"):
        return None
    overdue = interactions.follow_up_tab(user, tab="overdue", mine=False).count()
    figures = [Figure("team_overdue", _("Overdue tasks, whole team"), overdue,
                      _url("interactions:follow_ups", show="all", tab="overdue"),
                      alert=bool(overdue))]
    figures += _ticket_figures(user, ("breached", "breaching"))
    figures += _stalled_figures(user, pipeline.deal_list(user, stalled=True),
                                "team_stalled", _("Stalled deals"))
    return Section("alerts", _("Alerts"), figures=figures)


# Marketer ------------------------------------------------------------------------------------


def segments_section(user) -> Section | None:
    from kehu.segments import selectors as segments

    if not user.access.can("segment.view"):
        return None
    rows_qs = segments.segment_list(user=user)
    total = rows_qs.count()
    rows = [[Cell(s.name, reverse("segments:detail", args=[s.pk])),
             Cell("—" if s.size is None else str(s.size), num=True),
             Cell(_day(s.computed_at) if s.computed_at else _("Never"))]
            for s in rows_qs.order_by(F("computed_at").desc(nulls_last=True), "pk")[:TABLE_ROWS]]
    return Section(
        "segments", _("Segments"),
        figures=[Figure("segments", _("Saved segments"), total, reverse("segments:list"))],
        headers=[_("Segment"), _("Members"), _("Last refreshed")], rows=rows,
        empty=_("No segments yet."),
        links=[(_("New segment"), reverse("segments:builder"))]
        if user.access.can("segment.manage") else [])


def tiers_section(user) -> Section | None:
    from kehu.scoring import selectors as scoring

    if not (user.access.can("scoring.view") and user.access.can("customer.view")):
        return None
    figures = [Figure(f"tier_{t['tier']}", t["label"], t["count"],
                      _url("customers:list", value_tier=t["tier"]))
               for t in scoring.value_tier_counts(user=user)]
    last = scoring.last_scoring_run()
    return Section(
        "tiers", _("Value tiers"), figures=figures,
        note=_("Scored %(when)s.") % {"when": _day(last.finished_at)} if last else _(
            "Customer value has not been scored yet."),
        links=[(_("RFM heat map"), reverse("scoring:rfm"))] + _board_link(
            user, "portrait", _("High-value customer portrait")))


CONVERTED = ("customer", "loyal")


def channels_section(user) -> Section | None:
    from kehu.customers import selectors as customers
    from kehu.customers.labels import SOURCE_CHANNELS

    if not user.access.can("customer.view"):
        return None
    counts: dict[str, dict[str, int]] = {}
    for source, stage, n in (customers.customer_queryset(user=user).order_by()
                             .values("source", "lifecycle_stage").annotate(n=Count("pk"))
                             .values_list("source", "lifecycle_stage", "n")):
        counts.setdefault(source, {})[stage] = n
    names = dict(SOURCE_CHANNELS)
    rows = []
    for source in sorted(counts, key=lambda s: (-sum(counts[s].values()), s)):
        stages = counts[source]
        total = sum(stages.values())
        converted = sum(stages.get(stage, 0) for stage in CONVERTED)

        def cell(stage: str, source=source, stages=stages) -> Cell:
            url = _url("customers:list", source=source, lifecycle=stage) if source else ""
            return Cell(str(stages.get(stage, 0)), url, num=True)

        rows.append([Cell(str(names.get(source, source)) if source else _("Unknown")),
                     Cell(str(total), _url("customers:list", source=source) if source else "",
                          num=True),
                     cell("lead"), cell("prospect"), cell("customer"), cell("loyal"),
                     Cell(f"{100 * converted / total:.1f}%" if total else "—", num=True)])
    return Section(
        "channels", _("Conversion by channel"),
        headers=[_("Source"), _("Customers"), _("Lead"), _("Prospect"), _("Customer"),
                 _("Loyal"), _("Converted")],
        rows=rows[:TABLE_ROWS + 4], empty=_("No customers yet."),
        note=_("Converted: customers now at the customer or loyal stage, of all from that "
               "source."),
        links=_board_link(user, "channels", _("New leads and channels board")))


# Service agent -------------------------------------------------------------------------------


def queue_section(user) -> Section | None:
    from kehu.service import selectors as service

    if not user.access.can("customer.view"):
        return None
    queues = ("mine", "breaching", "breached", "unassigned") + (
        ("team",) if user.team_id else ())
    now = timezone.now()
    rows = []
    mine = (service.ticket_queue(user, queue="mine", now=now)
            .order_by(F("sla__due_at").asc(nulls_last=True), "-opened_at", "pk"))
    tickets = list(mine[:TABLE_ROWS])
    late_ids = set(service.ticket_queue(user, queue="breached", now=now).filter(
        pk__in=[t.pk for t in tickets]).values_list("pk", flat=True))
    for t in tickets:
        sla = service.ticket_sla(t)
        due = sla.due_at if sla else None
        late = t.pk in late_ids
        rows.append([Cell(t.number, reverse("service:ticket", args=[t.pk])),
                     Cell(t.customer.name), Cell(t.subject),
                     Cell(str(t.get_priority_display())),
                     Cell(_("breached") if late else (
                         timezone.localtime(due).strftime("%m-%d %H:%M") if due else "—"),
                          alert=late)])
    return Section(
        "queue", _("My queue and SLA"), figures=_ticket_figures(user, queues),
        headers=[_("Ticket"), _("Customer"), _("Subject"), _("Priority"), _("Due")],
        rows=rows, empty=_("No open tickets assigned to you."),
        links=[(_("Service desk"), reverse("service:queue"))]
        + _board_link(user, "service", _("Service board")))


# Data steward --------------------------------------------------------------------------------


def quality_section(user) -> Section | None:
    from kehu.quality import selectors as quality

    if not (user.access.can("quality.view") and user.access.can("customer.view")):
        return None
    head = quality.quality_headline(user=user)
    figures = [
        Figure("quality_average", _("Average quality score"),
               head.average_score if head.average_score is not None else 0,
               reverse("quality:dashboard")),
        Figure("quality_low", _("Score below 50"), head.low,
               _url("customers:list", quality_below=50), alert=bool(head.low)),
        Figure("quality_unscored", _("Not scored yet"), head.customers - head.scored,
               reverse("quality:dashboard"), alert=head.customers > head.scored),
    ]
    return Section(
        "quality", _("Data quality"), figures=figures,
        links=[(_("Data quality"), reverse("quality:dashboard"))]
        + _board_link(user, "quality", _("Quality trend")))


def duplicates_section(user) -> Section | None:
    from django.apps import apps

    if not (user.access.can("customer.merge") and apps.is_installed("kehu.identity")):
        return None
    from kehu.identity import selectors as identity

    pending = identity.pending_duplicate_count(user=user)
    return Section(
        "duplicates", _("Duplicate queue"),
        figures=[Figure("duplicates", _("Duplicates to review"), pending,
                        reverse("identity:queue"), alert=bool(pending))],
        links=[(_("Review duplicates"), reverse("identity:queue"))])


# Compliance ----------------------------------------------------------------------------------


def privacy_section(user) -> Section | None:
    from kehu.privacy import selectors as privacy
    from kehu.privacy.requests import working_days_left

    if not user.access.can("privacy.manage"):
        return None
    open_rows = privacy.request_list(user=user, status="open")
    today = timezone.localdate()
    total = open_rows.count()
    overdue = open_rows.filter(due_date__lt=today).count()
    rows = []
    for r in open_rows[:TABLE_ROWS]:
        left = working_days_left(r.due_date, today)
        rows.append([Cell(str(r.get_kind_display()), reverse("privacy:request", args=[r.pk])),
                     Cell(r.customer.name if r.customer else (r.requester_name or "—")),
                     Cell(str(r.get_status_display())), Cell(_day(r.due_date)),
                     Cell(str(left), num=True, alert=left < 0)])
    return Section(
        "privacy", _("Open privacy requests"),
        figures=[Figure("privacy_open", _("Open requests"), total,
                        reverse("privacy:requests"), alert=bool(overdue)),
                 Figure("privacy_overdue", _("Past their deadline"), overdue,
                        reverse("privacy:requests"), alert=bool(overdue))],
        headers=[_("Request"), _("Customer or requester"), _("Status"), _("Due"),
                 _("Working days left")],
        rows=rows, empty=_("No open requests."),
        note=_("Soonest deadline first; the list opens with the same order."))


SECURITY_ACTIONS = "security."
REVEAL_ACTION = "customer.reveal"


def audit_alerts_section(user) -> Section | None:
    from kehu.core.selectors import AuditFilter, audit_entry_list

    if not user.access.can("audit.view"):
        return None
    since_day = timezone.localdate() - dt.timedelta(days=ALERT_DAYS - 1)
    since = dt.datetime.combine(since_day, dt.time.min, tzinfo=timezone.get_current_timezone())
    alerts = audit_entry_list(user=user, filters=AuditFilter(action=SECURITY_ACTIONS,
                                                             since=since))
    reveals = audit_entry_list(user=user, filters=AuditFilter(action=REVEAL_ACTION,
                                                              since=since)).count()
    count = alerts.count()
    figures = [
        Figure("security_alerts", _("Security alerts, last 7 days"), count,
               _url("core:audit", action=SECURITY_ACTIONS, since=since_day.isoformat()),
               alert=bool(count)),
        Figure("reveals", _("ID numbers revealed, last 7 days"), reveals,
               _url("core:audit", action=REVEAL_ACTION, since=since_day.isoformat()))]
    if user.access.can("privacy.manage"):
        from kehu.privacy import selectors as privacy

        unusual = len(privacy.unusual_access(user=user, since=since))
        figures.append(Figure("unusual_access", _("Users with unusual access"), unusual,
                              _url("privacy:access", days=ALERT_DAYS), alert=bool(unusual)))
    rows = [[Cell(timezone.localtime(e.at).strftime("%Y-%m-%d %H:%M")), Cell(e.actor_label),
             Cell(e.action), Cell(e.object_repr or "—")] for e in alerts[:5]]
    return Section(
        "audit_alerts", _("Audit alerts"), figures=figures,
        headers=[_("Time"), _("Actor"), _("Action"), _("Object")], rows=rows,
        empty=_("No security alerts in the last 7 days."),
        links=[(_("Audit log"), reverse("core:audit"))])


# Administrator -------------------------------------------------------------------------------


def system_section(user) -> Section | None:
    from kehu.core.health import readiness
    from kehu.core.models import Job
    from kehu.core.selectors import dead_letters, jobs_visible_to, subscriber_lag

    if not user.access.can("user.manage"):
        return None
    checks = readiness().checks
    names = {"database": _("Database"), "queue": _("Task queue"), "worker": _("Background worker")}
    rows = []
    for key in ("database", "queue", "worker"):
        check = checks.get(key, {})
        detail = ""
        if key == "queue" and "pending" in check:
            detail = _("%(n)s tasks waiting") % {"n": check["pending"]}
        elif key == "worker":
            ago = check.get("last_beat_seconds_ago")
            detail = _("never seen") if ago is None else _("last seen %(s)s s ago") % {"s": ago}
        rows.append([Cell(str(names[key])), Cell(_("OK") if check.get("ok") else _("Not ready"),
                                                  alert=not check.get("ok")), Cell(detail)])
    jobs = jobs_visible_to(user)
    figures = [Figure(f"jobs_{status}", label, jobs.filter(status=status).count(),
                      _url("web:jobs", status=status), alert=status == Job.FAILED and bool(
                          jobs.filter(status=status).exists()))
               for status, label in ((Job.RUNNING, _("Jobs running")),
                                     (Job.QUEUED, _("Jobs queued")),
                                     (Job.FAILED, _("Jobs failed")))]
    if user.access.can("event.manage"):
        dead = dead_letters(user=user).count()
        retrying = sum(s.retrying + s.held for s in subscriber_lag())
        figures += [Figure("dead_letters", _("Dead letters"), dead, reverse("core:events"),
                           alert=bool(dead)),
                    Figure("event_retries", _("Event deliveries retrying"), retrying,
                           reverse("core:events"), alert=bool(retrying))]
    return Section("system", _("System status"), figures=figures,
                   headers=[_("Part"), _("State"), _("Detail")], rows=rows)


def errors_section(user) -> Section | None:
    from kehu.core.models import Job
    from kehu.core.selectors import job_list

    if not user.access.can("user.manage"):
        return None
    _total, failed = job_list(user=user, status=Job.FAILED, limit=5)
    rows = [[Cell(job["kind_label"], job["url"] or ""), Cell(job["label"] or "—"),
             Cell((job["error"] or "")[:160], alert=True), Cell(_day(job["finished_at"]))]
            for job in failed]
    return Section(
        "errors", _("Recent errors"), headers=[_("Job"), _("What"), _("Error"), _("When")],
        rows=rows, empty=_("No failed jobs."),
        links=[(_("All jobs"), reverse("web:jobs"))])


SECTIONS: dict[str, list[Callable[..., Section | None]]] = {
    "rep": [tasks_section, stalled_deals_section, win_back_section],
    "manager": [alerts_section, team_section],
    "marketer": [segments_section, tiers_section, channels_section],
    "agent": [queue_section],
    "steward": [quality_section, duplicates_section],
    "compliance": [privacy_section, audit_alerts_section],
    "admin": [system_section, errors_section],
    "general": [],
}


def sections_for(user, focus: str | None = None) -> list[Section]:
    """The home page's role sections for this user, in order; those the user may not read
    are left out."""
    builders = SECTIONS[focus or focus_of(user)]
    return [section for section in (build(user) for build in builders) if section is not None]
