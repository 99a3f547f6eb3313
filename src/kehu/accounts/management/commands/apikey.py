from django.core.management.base import BaseCommand, CommandError

from kehu.accounts import services
from kehu.accounts.models import ApiKey, User
from kehu.core.actor import Actor
from kehu.core.errors import DomainError


class Command(BaseCommand):
    help = "Manage API keys: `apikey create USERNAME --scopes read,write`, `apikey list`, `apikey revoke PREFIX`."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="issue a key; the token is the last line printed")
        create.add_argument("username")
        create.add_argument("--scopes", default="read", help=(
            "comma-separated: read, write, ingest (every resource) or per resource, e.g. "
            "customers:read,events:ingest,webhooks:manage (docs/integration.md)"))
        create.add_argument("--rate-limit", type=int, default=None,
                            help="requests per minute (default KEHU_API_KEY_RATE_LIMIT)")
        create.add_argument("--name", default="")
        sub.add_parser("list", help="list keys (never the tokens)")
        revoke = sub.add_parser("revoke", help="revoke a key by its prefix")
        revoke.add_argument("prefix")

    def handle(self, *args, action, **o):
        actor = Actor.system(via="cli")
        if action == "create":
            user = User.objects.filter(username=o["username"]).first()
            if user is None:
                raise CommandError(f"unknown user {o['username']!r}")
            scopes = [s.strip() for s in o["scopes"].split(",") if s.strip()]
            try:
                key, token = services.apikey_create(actor=actor, user=user, scopes=scopes,
                                                    name=o["name"], rate_limit=o["rate_limit"])
            except DomainError as exc:
                raise CommandError("; ".join(" ".join(v) for v in exc.details.values())) from exc
            self.stderr.write(f"API key {key.prefix} for {user.username}, scopes "
                              f"{','.join(key.scopes)}; store the token now, it is not kept:")
            self.stdout.write(token)
        elif action == "list":
            for key in ApiKey.objects.select_related("user").order_by("pk"):
                state = "revoked" if key.revoked_at else "active"
                self.stdout.write(f"{key.prefix}\t{key.user.username}\t{','.join(key.scopes)}\t"
                                  f"{state}\t{key.name}")
        else:
            key = ApiKey.objects.filter(prefix=o["prefix"]).first()
            if key is None:
                raise CommandError(f"no key with prefix {o['prefix']!r}")
            services.apikey_revoke(actor=actor, key=key)
            self.stdout.write(f"revoked {key.prefix}")
