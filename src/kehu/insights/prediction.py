"""The customer-base model's figures (kehu.prediction's CustomerPrediction: P(alive),
expected purchases, CLV) when that app has scored the book; empty otherwise, so churn risk
and the value at stake fall back gracefully. Read by lookup, so insights works with or
without a prediction run."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.apps import apps
from django.core.exceptions import FieldError
from django.db import DatabaseError

log = logging.getLogger(__name__)
CHUNK = 5000


def _model():
    try:
        return apps.get_model("prediction", "CustomerPrediction")
    except LookupError:
        return None


def _values(ids: Iterable[int] | None, *fields: str) -> dict[int, tuple]:
    model = _model()
    if model is None:
        return {}
    out: dict[int, tuple] = {}
    try:
        if ids is None:
            for row in model.objects.values_list("customer_id", *fields).iterator(
                    chunk_size=CHUNK):
                out[row[0]] = row[1:]
            return out
        ids = list(ids)
        for start in range(0, len(ids), CHUNK):
            for row in model.objects.filter(customer_id__in=ids[start:start + CHUNK]) \
                    .values_list("customer_id", *fields):
                out[row[0]] = row[1:]
    except (FieldError, DatabaseError):  # the prediction app not migrated or reshaped
        log.warning("prediction figures unavailable", exc_info=True)
        return {}
    return out


def p_alive_of(ids: Iterable[int] | None) -> dict[int, float]:
    return {pk: float(v[0]) for pk, v in _values(ids, "p_alive").items() if v[0] is not None}


def predictions_of(ids: Iterable[int]) -> dict[int, dict]:
    """{customer: {"p_alive", "expected_purchases_90d", "clv_12m"}} for those scored."""
    return {pk: {"p_alive": v[0], "expected_purchases_90d": v[1], "clv_12m": v[2]}
            for pk, v in _values(ids, "p_alive", "expected_purchases_90d", "clv_12m").items()}
