import getpass
import secrets

from django.core.management.base import BaseCommand, CommandError

from kehu.accounts import services
from kehu.accounts.models import Role, Team
from kehu.core.actor import Actor
from kehu.core.errors import DomainError


class Command(BaseCommand):
    help = "Create a user with a role (and optionally a team)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", default="read_only", help="role code, e.g. sales_rep")
        parser.add_argument("--team", default="", help="team name")
        parser.add_argument("--display-name", default="")
        parser.add_argument("--email", default="")
        parser.add_argument("--password", default=None,
                            help="omit to be asked, or use --generate-password")
        parser.add_argument("--generate-password", action="store_true")
        parser.add_argument("--superuser", action="store_true")

    def handle(self, *args, **o):
        role = Role.objects.filter(code=o["role"]).first()
        if role is None:
            codes = ", ".join(Role.objects.values_list("code", flat=True))
            raise CommandError(f"unknown role {o['role']!r}; known: {codes}")
        team = None
        if o["team"]:
            team = Team.objects.filter(name=o["team"]).first()
            if team is None:
                raise CommandError(f"unknown team {o['team']!r}")
        password = o["password"]
        if o["generate_password"]:
            password = secrets.token_urlsafe(12)
        elif password is None:
            password = getpass.getpass("Password: ")
        try:
            user = services.user_create(
                actor=Actor.system(via="cli"), username=o["username"], password=password,
                display_name=o["display_name"], email=o["email"], role=role, team=team,
                is_superuser=o["superuser"],
            )
        except DomainError as exc:
            problems = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.details.items())
            raise CommandError(problems or str(exc.message)) from exc
        self.stdout.write(f"created user {user.username} (role {role.code})")
        if o["generate_password"]:
            self.stdout.write(f"password: {password}")
