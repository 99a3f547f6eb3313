"""What the customer list shows and how a page's query string becomes its filters.

Shared by the list page and the exports, so both show and filter exactly alike.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

from django.utils.translation import gettext_lazy

from kehu.accounts.models import Team, User
from kehu.customers.fields import LIST_COLUMNS, LIST_FILTERS
from kehu.customers.labels import SOURCE_CHANNELS
from kehu.customers.models import Customer, CustomerTag, Tag
from kehu.customers.selectors import CustomerFilters

# column key -> header; apps above add theirs (fields.register_columns), custom fields add
# "custom.<key>" columns
_BUILTIN_COLUMNS = {
    "name": gettext_lazy("Name"), "kind": gettext_lazy("Kind"),
    "mobile": gettext_lazy("Mobile"), "email": gettext_lazy("Email"),
    "owner": gettext_lazy("Owner"), "team": gettext_lazy("Team"),
    "region": gettext_lazy("Region"), "city": gettext_lazy("City"),
    "lifecycle_stage": gettext_lazy("Lifecycle stage"), "source": gettext_lazy("Source"),
    "tags": gettext_lazy("Tags"), "created_at": gettext_lazy("Created"),
    "updated_at": gettext_lazy("Updated"),
}


def list_columns() -> dict:
    """Column key -> header: the built-in columns, then those apps above registered."""
    merged = dict(_BUILTIN_COLUMNS)
    for columns in LIST_COLUMNS.values():
        merged.update(columns.columns)
    return merged
DEFAULT_COLUMNS = ["name", "mobile", "owner", "region", "lifecycle_stage", "tags", "created_at"]


def filters_from_query(params, definitions=()) -> CustomerFilters:
    """THE customer filter parser: the list page's query string (a QueryDict, custom fields
    as `cf_<key>`), and the API's, the export's, the CLI's and the duplicate scan's
    parameters (a dict; custom fields as `custom=key=value` items). Every entry point reads
    filters here, so each filter means the same everywhere; an unusable value is ignored."""
    from datetime import date

    def get(name: str) -> str:
        value = params.get(name, "")
        if isinstance(value, list | tuple):
            value = value[-1] if value else ""
        return "" if value is None else str(value)

    def day(name):
        try:
            return date.fromisoformat(get(name))
        except ValueError:
            return None

    def number(name):
        value = get(name).strip()
        return int(value) if value.isdigit() else None

    custom = {d.key: get(f"cf_{d.key}") for d in definitions if get(f"cf_{d.key}").strip()}
    items = params.getlist("custom") if hasattr(params, "getlist") else params.get("custom")
    for item in items or []:
        key, sep, value = str(item).partition("=")
        if sep and key.strip():
            custom[key.strip()] = value
    owner = get("owner").strip()
    extra = {}
    for key, list_filter in LIST_FILTERS.items():
        text = get(key).strip()
        value = list_filter.parse(text) if text else None
        if value is not None:
            extra[key] = value
    return CustomerFilters(
        q=get("q").strip(), owner=owner if owner == "me" else number("owner"),
        team=number("team"), region=get("region"), province=get("province"),
        lifecycle=get("lifecycle"), tag=get("tag") or None,
        source=get("source"), kind=get("kind"),
        created_from=day("created_from"), created_to=day("created_to"),
        stale_days=number("stale_days"), custom=custom, extra=extra)


def choice_labels() -> dict[str, dict[str, str]]:
    """Labels of the coded columns, resolved now in the active language."""
    labels = {"kind": {k: str(v) for k, v in Customer.KINDS},
              "lifecycle_stage": {k: str(v) for k, v in Customer.LIFECYCLE_STAGES},
              "gender": {k: str(v) for k, v in Customer.GENDERS},
              "preferred_channel": {k: str(v) for k, v in Customer.CHANNELS},
              "source": {k: str(v) for k, v in SOURCE_CHANNELS}}
    for columns in LIST_COLUMNS.values():
        if columns.labels is not None:
            labels.update(columns.labels())
    return labels


def cell_value(data: dict, column: str, *, labels: dict[str, dict[str, str]]):
    """One column of a presented customer (customer_present): names for owner, team and tags,
    labels for coded values, custom values joined; times stay datetimes for the caller to
    format. Hidden fields are None."""
    if column.startswith("custom."):
        value = data["custom"].get(column[len("custom."):])
        return ", ".join(map(str, value)) if isinstance(value, list) else value
    if column in ("owner", "team"):
        return data[column]["name"] if data[column] else None
    if column == "tags":
        return ", ".join(t["name"] for t in data["tags"])
    if column in labels:
        return labels[column].get(data.get(column), data.get(column))
    return data.get(column)


# Export rows ------------------------------------------------------------------------------


class _Row:
    """One listed customer as plain attributes (what customer_present reads): building a model
    instance per row, with its related objects, cost more than writing the row out."""

    tag_links: _Links

    def __init__(self, values: dict[str, Any]):
        self.__dict__.update(values)

    @property
    def pk(self) -> int:
        return self.id


class _Links(list):
    """A customer's tag links, answering `.all()` like the prefetched manager."""

    def all(self) -> _Links:
        return self


class _Link:
    __slots__ = ("tag",)

    def __init__(self, tag: Tag):
        self.tag = tag


def listed_rows(queryset, *, tags: bool, chunk_size: int = 2000) -> Iterator[_Row]:
    """The queryset's customers in its order, read as value rows a chunk at a time (a
    server-side cursor on PostgreSQL), with their owners, teams and (when shown) tags looked
    up once per chunk: memory stays bounded and no model instance is built per row."""
    users: dict[int, Any] = {}
    teams: dict[int, Team] = {}
    tag_rows: dict[int, Tag] = {}
    joined = {related: c.fields for related, c in LIST_COLUMNS.items()}
    columns = ([f.attname for f in Customer._meta.concrete_fields]
               + [f"{related}__{name}" for related, names in joined.items() for name in names])
    rows = queryset.values_list(*columns).iterator(chunk_size=chunk_size)
    while True:
        chunk = [dict(zip(columns, values, strict=True))
                 for values in itertools.islice(rows, chunk_size)]
        if not chunk:
            return
        missing = {r["owner_id"] for r in chunk} - users.keys() - {None}
        users.update((u.pk, u) for u in User.objects.filter(pk__in=missing))
        missing = {r["team_id"] for r in chunk} - teams.keys() - {None}
        teams.update((t.pk, t) for t in Team.objects.filter(pk__in=missing))
        links: dict[int, _Links] = {}
        if tags:
            pairs = list(CustomerTag.objects.filter(customer_id__in=[r["id"] for r in chunk])
                         .values_list("customer_id", "tag_id"))
            missing = {tag for _c, tag in pairs} - tag_rows.keys()
            tag_rows.update((t.pk, t) for t in Tag.objects.filter(pk__in=missing))
            for customer_id, tag_id in sorted(pairs, key=lambda p: (tag_rows[p[1]].name, p[1])):
                links.setdefault(customer_id, _Links()).append(_Link(tag_rows[tag_id]))
        for values in chunk:
            row = _Row(values)
            row.owner = users.get(values["owner_id"])
            row.team = teams.get(values["team_id"])
            row.tag_links = links.get(values["id"]) or _Links()
            for name, fields in joined.items():
                read = {field: values[f"{name}__{field}"] for field in fields}
                # The first field is never null on a stored row: null means no row.
                setattr(row, name, SimpleNamespace(**read) if read[fields[0]] is not None
                        else None)
            yield row
