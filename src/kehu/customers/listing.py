"""What the customer list shows and how a page's query string becomes its filters.

Shared by the list page and the exports, so both show and filter exactly alike.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy

from kehu.customers.labels import SOURCE_CHANNELS
from kehu.customers.models import Customer
from kehu.customers.selectors import CustomerFilters
from kehu.customers.value_labels import RFM_SEGMENTS, VALUE_TIERS

# column key -> header; custom fields add "custom.<key>" columns
COLUMNS = {
    "name": gettext_lazy("Name"), "kind": gettext_lazy("Kind"),
    "mobile": gettext_lazy("Mobile"), "email": gettext_lazy("Email"),
    "owner": gettext_lazy("Owner"), "team": gettext_lazy("Team"),
    "region": gettext_lazy("Region"), "city": gettext_lazy("City"),
    "lifecycle_stage": gettext_lazy("Lifecycle stage"), "source": gettext_lazy("Source"),
    "tags": gettext_lazy("Tags"), "created_at": gettext_lazy("Created"),
    "updated_at": gettext_lazy("Updated"), "quality_score": gettext_lazy("Data quality"),
    "value_tier": gettext_lazy("Value tier"), "rfm_segment": gettext_lazy("RFM segment"),
    "rfm_code": gettext_lazy("RFM score"), "monetary": gettext_lazy("Spend in window (CNY)"),
    "p_alive": gettext_lazy("P(alive)"), "clv_12m": gettext_lazy("12-month CLV (CNY)"),
    "expected_purchases_90d": gettext_lazy("Expected purchases (90 days)"),
}
_TIERS = {code for code, _label in VALUE_TIERS}
_SEGMENTS = {code for code, _label in RFM_SEGMENTS}
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

    def score(name):
        value = get(name).strip()
        return int(value) if value in ("1", "2", "3", "4", "5") else None

    def percent(name):
        value = number(name)
        return value if value is not None and 1 <= value <= 100 else None

    custom = {d.key: get(f"cf_{d.key}") for d in definitions if get(f"cf_{d.key}").strip()}
    items = params.getlist("custom") if hasattr(params, "getlist") else params.get("custom")
    for item in items or []:
        key, sep, value = str(item).partition("=")
        if sep and key.strip():
            custom[key.strip()] = value
    owner = get("owner").strip()
    return CustomerFilters(
        q=get("q").strip(), owner=owner if owner == "me" else number("owner"),
        team=number("team"), region=get("region"), province=get("province"),
        lifecycle=get("lifecycle"), tag=get("tag") or None,
        source=get("source"), kind=get("kind"),
        created_from=day("created_from"), created_to=day("created_to"),
        quality_below=number("quality_below"), stale_days=number("stale_days"),
        quality_missing=get("quality_missing").strip(),
        quality_invalid=get("quality_invalid").strip(),
        custom=custom,
        value_tier=get("value_tier") if get("value_tier") in _TIERS else "",
        rfm_segment=get("rfm_segment") if get("rfm_segment") in _SEGMENTS else "",
        r_score=score("r_score"), f_score=score("f_score"), m_score=score("m_score"),
        p_alive_below=percent("p_alive_below"), clv_min=number("clv_min"))


def choice_labels() -> dict[str, dict[str, str]]:
    """Labels of the coded columns, resolved now in the active language."""
    return {"kind": {k: str(v) for k, v in Customer.KINDS},
            "lifecycle_stage": {k: str(v) for k, v in Customer.LIFECYCLE_STAGES},
            "gender": {k: str(v) for k, v in Customer.GENDERS},
            "preferred_channel": {k: str(v) for k, v in Customer.CHANNELS},
            "source": {k: str(v) for k, v in SOURCE_CHANNELS},
            "value_tier": {k: str(v) for k, v in VALUE_TIERS},
            "rfm_segment": {k: str(v) for k, v in RFM_SEGMENTS}}


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
