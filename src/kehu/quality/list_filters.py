"""The filters and column the data-quality app adds to the customer list (score below, a
field found missing or invalid; the score column), registered in QualityConfig.ready so the
list page, the API, exports and the CLI offer them without the customers app reaching up."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

_FIELD_KEY_MAX = 64


def _score_below(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and 0 <= int(text) <= 101 else None


def _field_key(text: str) -> str | None:
    return text if 0 < len(text) <= _FIELD_KEY_MAX else None


def _drill_down(path: str, *, presence: bool):
    def check(access, key: str) -> None:
        from kehu.customers.selectors import require_condition_on

        # "missing" only asks whether the field is set; "invalid" reads its value.
        require_condition_on(access, key, path=path, presence=presence)
    return check


def register_list_extensions() -> None:
    from ninja import Field

    from kehu.core.schemas import Score
    from kehu.customers.fields import ListColumns, ListFilter, register_columns, register_filter

    register_filter(ListFilter(
        "quality_below", _("Data quality below"), _score_below,
        lambda qs, value: qs.filter(quality__score__lt=value), widget="number",
        api_field=(Score | None, Field(None, description="Data quality score below this"))))
    register_filter(ListFilter(
        "quality_missing", _("Field missing"), _field_key,
        lambda qs, key: qs.filter(quality__missing__contains=f",{key},"), widget="hidden",
        check=_drill_down("quality_missing", presence=True),
        api_field=(str, Field("", max_length=_FIELD_KEY_MAX,
                              description="A field the quality score found missing"))))
    register_filter(ListFilter(
        "quality_invalid", _("Field invalid"), _field_key,
        lambda qs, key: qs.filter(quality__invalid__contains=f",{key},"), widget="hidden",
        check=_drill_down("quality_invalid", presence=False),
        api_field=(str, Field("", max_length=_FIELD_KEY_MAX,
                              description="A field the quality score found invalid"))))

    def present(access, customer, quality) -> dict:
        if quality is not None:
            return {"quality_score": quality.score}
        # Not joined (a single customer read without the list's join): the stored copy.
        return {"quality_score": getattr(customer, "quality_score", None)}

    register_columns(ListColumns(
        related="quality", fields=("score",), columns={"quality_score": _("Data quality")},
        present=present))
