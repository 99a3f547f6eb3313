"""The home page: what a user should look at first, in their role and scope.

The common part: the user's figures (their customers, follow-ups due, new customers …), the
follow-up agenda, the customers that changed last, quick links. Then the role's own sections
(web/home_sections.py): a sales rep's stalled deals and customers to win back, a manager's
alerts and team, a marketer's segments, tiers and channels, a service agent's queue and SLA,
a data steward's quality and duplicates, compliance's privacy requests and audit alerts, an
administrator's system status. Every figure comes from the owning app's selectors, so scope
and permissions are theirs. The audit log itself lives on the audit page, not here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kehu.accounts import selectors as accounts
from kehu.core.permissions import SCOPE_OWN
from kehu.customers import selectors as customers
from kehu.identity import selectors as identity
from kehu.interactions.selectors import FollowUpAgenda, follow_up_agenda, follow_up_list
from kehu.segments import selectors as segments
from kehu.transactions import selectors as transactions
from kehu.web.home_sections import Figure, Section, focus_of, sections_for

RECENT_CUSTOMERS = 8
AGENDA_ROWS = 8
NEW_CUSTOMER_DAYS = 7


@dataclass(frozen=True)
class HomePage:
    figures: list[Figure]
    agenda: FollowUpAgenda | None
    recent_customers: list  # customers, most recently changed first
    recent_title: str
    recent_url: str
    links: list[tuple[str, str]]  # (label, url)
    team_members: list = field(default_factory=list)
    focus: str = "general"  # what the role works on (home_sections.focus_of)
    sections: list[Section] = field(default_factory=list)  # the role's own sections


def _url(name: str, **params) -> str:
    return reverse(name) + (f"?{urlencode(params)}" if params else "")


def home_page(*, user) -> HomePage:
    access = user.access
    figures: list[Figure] = []
    agenda = None
    recent: list = []
    mine = access.scope == SCOPE_OWN or not access.can("customer.view")
    recent_title = _("My recently changed customers") if mine else _(
        "Recently changed customers")
    recent_url = ""
    if access.can("customer.view"):
        agenda = follow_up_agenda(user, mine=True)
        visible = customers.customer_filtered_queryset(
            user=user, filters=customers.CustomerFilters(owner="me"), sort="-updated_at")
        figures.append(Figure("my_customers", str(_("My customers")), visible.count(),
                              _url("customers:list", owner="me")))
        follow_ups = reverse("interactions:follow_ups")
        figures.append(Figure("overdue", str(_("Overdue follow-ups")), len(agenda.overdue),
                              follow_ups, alert=bool(agenda.overdue)))
        figures.append(Figure("due_today", str(_("Due today")), len(agenda.today), follow_ups))
        since = timezone.localdate() - dt.timedelta(days=NEW_CUSTOMER_DAYS - 1)
        if mine:
            new = customers.customer_filtered_queryset(user=user, filters=customers.CustomerFilters(
                owner="me", created_from=since))
            figures.append(Figure("new", str(_("New this week")), new.count(),
                                  _url("customers:list", owner="me", created_from=since)))
            recent = list(visible.select_related("owner")[:RECENT_CUSTOMERS])
            recent_url = _url("customers:list", owner="me", sort="-updated_at")
        else:
            in_scope = customers.customer_filtered_queryset(user=user, sort="-updated_at")
            figures.append(Figure("in_scope", str(_("Customers I can see")), in_scope.count(),
                                  reverse("customers:list")))
            # Managers watch everyone's follow-ups, not only their own.
            overdue_all = follow_up_list(user, status="open",
                                         due_before=timezone.localdate()).count()
            figures.append(Figure("overdue_all", str(_("Overdue follow-ups, everyone")),
                                  overdue_all, _url("interactions:follow_ups", show="all"),
                                  alert=bool(overdue_all)))
            new = customers.customer_filtered_queryset(
                user=user, filters=customers.CustomerFilters(created_from=since))
            figures.append(Figure("new", str(_("New this week")), new.count(),
                                  _url("customers:list", created_from=since)))
            recent = list(in_scope.select_related("owner")[:RECENT_CUSTOMERS])
            recent_url = _url("customers:list", sort="-updated_at")
        if access.can("ticket.manage"):
            open_tickets = transactions.ticket_list(user, status="unresolved").count()
            figures.append(Figure("open_tickets", str(_("Open tickets")), open_tickets,
                                  _url("transactions:tickets", status="unresolved"),
                                  alert=bool(open_tickets)))
    if access.can("customer.merge"):
        pending = identity.pending_duplicate_count(user=user)
        figures.append(Figure("duplicates", str(_("Duplicates to review")), pending,
                              reverse("identity:queue"), alert=bool(pending)))
    if access.can("segment.view"):
        figures.append(Figure("segments", str(_("Segments")),
                              segments.segment_list(user=user).count(), reverse("segments:list")))
    team_members = accounts.team_members(user=user, team=user.team) if user.team_id else []
    focus = focus_of(user)
    return HomePage(figures=figures, agenda=agenda, recent_customers=recent,
                    recent_title=str(recent_title), recent_url=recent_url,
                    links=_quick_links(access), team_members=team_members, focus=focus,
                    sections=sections_for(user, focus))


# (url name, label, permission): the first things people start from the home page.
_QUICK_LINKS = [
    ("customers:create", _("New customer"), "customer.add"),
    ("customers:list", _("Find a customer"), "customer.view"),
    ("interactions:follow_ups", _("My follow-ups"), "customer.view"),
    ("transactions:ticket_create", _("New ticket"), "ticket.manage"),
    ("segments:builder", _("New segment"), "segment.manage"),
    ("interchange:imports", _("Import customers"), "customer.import"),
    ("identity:queue", _("Review duplicates"), "customer.merge"),
    ("quality:dashboard", _("Data quality"), "quality.view"),
    ("core:audit", _("Audit log"), "audit.view"),
]


def _quick_links(access) -> list[tuple[str, str]]:
    return [(str(label), reverse(name)) for name, label, permission in _QUICK_LINKS
            if access.can(permission)]
