import os
import secrets

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from kehu.accounts.models import User
from kehu.cli.demo import demo_org_build
from kehu.cli.demo_customers import demo_customers_load
from kehu.cli.setup import initialise, login_file, remembered_login
from kehu.core.actor import Actor
from kehu.customers.models import Customer
from kehu.identity.scan import dedup_scan_create
from kehu.identity.tasks import dedup_scan_task
from kehu.quality.services import quality_recompute, quality_snapshot_take
from kehu.scoring.services import rfm_score

COUNT_LABELS = {
    "customers": gettext_lazy("Customers"), "persons": gettext_lazy("Persons"),
    "organisations": gettext_lazy("Organisations"), "contacts": gettext_lazy("Contacts"),
    "identifiers": gettext_lazy("Identifiers"), "id_numbers": gettext_lazy("ID numbers"),
    "addresses": gettext_lazy("Addresses"), "tags": gettext_lazy("Tags"), "interactions": gettext_lazy("Interactions"),
    "events": gettext_lazy("Events"), "follow_ups": gettext_lazy("Follow-ups"), "orders": gettext_lazy("Orders"),
    "order_lines": gettext_lazy("Order lines"), "tickets": gettext_lazy("Tickets"),
    "products": gettext_lazy("Products"),
}


class Command(BaseCommand):
    help = ("Initialise kehu and, if the database holds no demo data yet, load a demo company: "
            "teams and users, products, and --customers customers with their history.")

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument("--admin", default="admin")
        parser.add_argument("--customers", type=int, default=2000,
                            help="how many customers to load (only into an empty book)")
        parser.add_argument("--events-per-customer", type=int, default=None,
                            help="exactly this many events per customer (benchmarks); "
                                 "default 10-30 interactions and events each")
        parser.add_argument("--chunk-size", type=int, default=5000,
                            help="customers generated and written per transaction")

    def handle(self, *args, seed, admin, customers, events_per_customer, chunk_size, **options):
        if customers < 0 or chunk_size < 1 or (events_per_customer or 0) < 0:
            raise CommandError(_("--customers, --chunk-size and --events-per-customer must not "
                                 "be negative."))
        result = initialise(admin_username=admin)
        if User.objects.filter(is_superuser=False).exists():
            self.stdout.write(_("Demo users already present; none created."))
        else:
            password = os.environ.get("KEHU_DEMO_PASSWORD") or "demo-" + secrets.token_hex(4)
            org = demo_org_build(seed=seed, password=password)
            users = sum(len(v) for v in org.users_by_role.values())
            self.stdout.write(self.style.SUCCESS(
                _("Demo company loaded: %(teams)d teams, %(users)d users.")
                % {"teams": len(org.teams), "users": users}))
            with open(login_file(), "a") as handle:
                handle.write(f"demo users' password: {password}\n")
            self.stdout.write(_("Demo users (salesrep1, salesmanager1, marketer1, serviceagent1, "
                                "datasteward1, complianceauditor1 …) share the password: %s")
                              % password)
        if Customer.objects.exists():
            self.stdout.write(_("Customers already present; no demo customers loaded."))
        elif customers:
            self._load(customers=customers, seed=seed, events_per_customer=events_per_customer,
                       chunk_size=chunk_size)
        login = remembered_login()
        if result.admin_password or login:
            username, password = (result.admin_username, result.admin_password) \
                if result.admin_password else login
            self.stdout.write(self.style.SUCCESS(_("Admin login: %(u)s / %(p)s")
                                                 % {"u": username, "p": password}))
        else:
            self.stdout.write(_("Admin “%s” exists; its password is not stored here.")
                              % result.admin_username)

    def _load(self, *, customers, seed, events_per_customer, chunk_size):
        console = Console(file=self.stdout._out, highlight=False)
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TaskProgressColumn(), TimeElapsedColumn(), TimeRemainingColumn())
        with Progress(*columns, console=console, transient=False) as progress:
            task = progress.add_task(_("Demo customers"), total=customers)
            loaded = demo_customers_load(
                customers=customers, seed=seed, events_per_customer=events_per_customer,
                chunk_size=chunk_size, progress=lambda n: progress.advance(task, n))
        table = Table(title=_("Demo data loaded in %.1f s") % loaded.seconds,
                      show_header=False)
        table.add_column(justify="left")
        table.add_column(justify="right")
        for name, count in loaded.counts.items():
            table.add_row(str(COUNT_LABELS.get(name, name)), f"{count:,}")
        console.print(table)
        # What the nightly jobs would have computed, so value tiers, RFM grid and quality
        # scores show at once instead of the morning after.
        system = Actor.system(via="cli")
        scored = rfm_score(actor=system, full=True)
        quality = quality_recompute(actor=system)
        quality_snapshot_take(actor=system)
        self.stdout.write(_("Scored %(rfm)d customers by RFM and %(quality)d by data quality.")
                          % {"rfm": scored.scored, "quality": quality.customers})
        # The demo's tickets were written in bulk: compute their SLA clocks now (the value
        # tiers just scored pick the policies).
        from kehu.service.services.sla import sla_recompute

        self.stdout.write(_("SLA clocks computed for %d tickets.") % sla_recompute())
        # The boards read daily summaries that the domain events keep; the bulk-loaded book is
        # summarised once here, so the boards are right before the worker has caught up.
        from kehu.dashboards.summaries import summaries_rebuild

        summaries_rebuild()
        self.stdout.write(_("Daily summaries for the boards built."))
        # The demo book holds look-alike customers: queue the scan that finds them, for the
        # background worker that `kehu serve` starts (the review queue fills as it runs).
        scan = dedup_scan_create(actor=system)
        dedup_scan_task(scan.pk)
        self.stdout.write(_("Duplicate scan #%(id)d queued; `kehu serve` runs it in the background.")
                          % {"id": scan.pk})
