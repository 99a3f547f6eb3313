import os
import secrets

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from kehu.accounts.models import User
from kehu.cli.demo import demo_org_build
from kehu.cli.setup import initialise, login_file, remembered_login


class Command(BaseCommand):
    help = "Initialise kehu and, if the database holds no demo data yet, load a demo company."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument("--admin", default="admin")

    def handle(self, *args, seed, admin, **options):
        result = initialise(admin_username=admin)
        if User.objects.filter(is_superuser=False).exists():
            self.stdout.write(_("Demo data already present; nothing loaded."))
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
        login = remembered_login()
        if result.admin_password or login:
            username, password = (result.admin_username, result.admin_password) \
                if result.admin_password else login
            self.stdout.write(self.style.SUCCESS(_("Admin login: %(u)s / %(p)s")
                                                 % {"u": username, "p": password}))
        else:
            self.stdout.write(_("Admin “%s” exists; its password is not stored here.")
                              % result.admin_username)
