"""`kehu export`: the customer list to a CSV or xlsx file, as a named user sees it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation
from django.utils.translation import gettext as _
from pydantic import ValidationError

from kehu.core.actor import Actor
from kehu.core.commands import acting_user
from kehu.core.errors import DomainError
from kehu.customers.api import ListQuery, filters_from
from kehu.customers.fields import LIST_FILTERS
from kehu.interchange.export import FORMATS, customers_export

BUILTIN_FILTER_KEYS = ("q", "owner", "team", "region", "province", "lifecycle", "tag", "source",
                       "kind", "created_from", "created_to", "stale_days")


def filter_keys() -> tuple[str, ...]:
    """The list's filters: the built-in ones and those apps above registered (value tier,
    RFM scores, data quality…), exactly the API's query parameters."""
    return BUILTIN_FILTER_KEYS + tuple(LIST_FILTERS)


class Command(BaseCommand):
    help = ("Export customers to CSV or xlsx with the list's filters, acting as a user so their "
            "record scope and field masking apply (default: the first superuser). "
            "Example: kehu export --format xlsx --filter region=华东 --filter custom.level=>=3 "
            "--columns name,mobile,owner --as salesmanager1 customers.xlsx")

    def add_arguments(self, parser):
        parser.add_argument("out", metavar="OUT", help="file to write")
        parser.add_argument("--format", choices=sorted(FORMATS), default=None,
                            help="csv or xlsx (default: from OUT's suffix)")
        parser.add_argument("--filter", action="append", default=[], metavar="KEY=VALUE",
                            help=f"a list filter: {', '.join(filter_keys())}, custom.<key>; "
                                 "repeat for more")
        parser.add_argument("--columns", default="",
                            help="comma-separated column keys (default: the list's columns)")
        parser.add_argument("--sort", default="-created_at",
                            help="created_at, updated_at, name, lifecycle_stage, region; "
                                 "`-` for descending")
        parser.add_argument("--as", dest="username", default=None, metavar="USERNAME",
                            help="act as this user (default: the first superuser)")
        parser.add_argument("--purpose", default="",
                            help="a marketing export: leave out customers without consent for "
                                 "this purpose (marketing, service, analytics …)")
        parser.add_argument("--channel", default="",
                            help="the channel of that consent: sms, email, phone, wechat, push, "
                                 "post (default: any)")
        parser.add_argument("--language", default=settings.LANGUAGE_CODE,
                            help="language of the column headers and labels")

    def handle(self, *args, **options):
        out, columns = options["out"], options["columns"]
        with translation.override(options["language"]):
            fmt = options["format"] or Path(out).suffix.lower().lstrip(".")
            if fmt not in FORMATS:
                raise CommandError(_("Give --format csv or xlsx (or name OUT .csv or .xlsx)."))
            user = acting_user(options["username"], option="--as")
            filters = _filters(options["filter"])
            try:
                result = customers_export(
                    actor=Actor(user=user, via="cli"), filters=filters, fmt=fmt,
                    sort=options["sort"], purpose=options["purpose"],
                    channel=options["channel"],
                    columns=[c.strip() for c in columns.split(",") if c.strip()])
            except DomainError as exc:
                raise CommandError(_describe(exc)) from None
            _write(result, Path(out))
            self.stdout.write(self.style.SUCCESS(
                _("%(rows)d rows written to %(path)s") % {"rows": result.rows, "path": out}))
            if options["purpose"] or options["channel"]:
                self.stdout.write(_("%d customers skipped: no consent for this purpose and "
                                    "channel") % result.skipped)



def _filters(items: list[str]):
    """--filter KEY=VALUE items -> the list's CustomerFilters, validated as the API does."""
    data: dict = {"custom": []}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise CommandError(_("A filter is KEY=VALUE, not “%s”.") % item)
        if key.startswith("custom.") and len(key) > len("custom."):
            data["custom"].append(f"{key[len('custom.'):]}={value}")
        elif key in filter_keys():
            data[key] = value
        else:
            raise CommandError(_("Unknown filter “%(key)s”; use one of: %(keys)s, custom.<key>.")
                               % {"key": key, "keys": ", ".join(filter_keys())})
    owner = data.get("owner")
    if owner not in (None, "", "me") and not str(owner).isdigit():
        raise CommandError(_("--filter owner= takes a user id or “me”."))
    try:
        query = ListQuery(**data)
    except ValidationError as exc:
        problems = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        raise CommandError(_("Invalid filter: %s") % "; ".join(problems)) from None
    return filters_from(query)


def _describe(exc: DomainError) -> str:
    details = exc.details if isinstance(exc.details, dict) else {}
    reasons = [f"{field}: {message}" for field, messages in details.items()
               if isinstance(messages, list | tuple) for message in messages]
    return " ".join([str(exc.message), *reasons])


def _write(result, out: Path) -> None:
    """Write beside OUT, then rename: OUT is either the whole export or untouched."""
    partial = out.with_name(out.name + ".part")
    try:
        with open(partial, "wb") as handle:
            if result.format == "csv":
                for block in result.content:
                    handle.write(block)
            else:
                with result.content as source:
                    shutil.copyfileobj(source, handle)
        os.replace(partial, out)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise CommandError(_("Cannot write %(path)s: %(error)s")
                           % {"path": out, "error": exc.strerror or exc}) from None
