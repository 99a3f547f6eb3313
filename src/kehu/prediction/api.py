"""API of prediction: the fits (list, start one as a job) and a customer's predictions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from ninja import Router, Schema, Status

from kehu.core.errors import NotFound
from kehu.core.http import ERROR_RESPONSES, actor_of
from kehu.core.schemas import Flag, Id, Input
from kehu.customers.selectors import customer_get_plain
from kehu.prediction import selectors, services

router = Router(tags=["prediction"])


class HoldoutOut(Schema):
    calibration_end: dt.date | None = None
    holdout_end: dt.date | None = None
    holdout_weeks: float | None = None
    correlation: float | None = None
    predicted_total: float | None = None
    actual_total: float | None = None
    aggregate_error: float | None = None
    mean_absolute_error: float | None = None


class FitOut(Schema):
    """A fit: parameters (r, alpha, a, b for BG/NBD; r, alpha, s, beta for Pareto/NBD),
    Gamma-Gamma (p, q, v), holdout validation, and the data-sufficiency message."""

    id: int
    model: str
    model_label: str
    status: Literal["fitted", "insufficient", "failed"]
    status_label: str
    message: str
    as_of: dt.date
    created_at: dt.datetime
    params: dict[str, float]
    log_likelihood: float | None = None
    gamma_gamma: dict[str, float] | None = None
    customers: int
    repeat_customers: int
    transactions: int
    scored: int
    changed: int
    refitted: bool
    monthly_discount: float
    duration_ms: int
    holdout: HoldoutOut | None = None
    validation_message: str
    job_id: int | None = None


class FitListOut(Schema):
    items: list[FitOut]


class FitIn(Input):
    model: Literal["bgnbd", "pareto"] = "bgnbd"
    full: Flag = True


class FitStartedOut(Schema):
    job_id: int
    status: str
    url: str


class PredictionOut(Schema):
    """P(alive) (0-1), expected purchases in the next 90 days, expected order value and
    12-month CLV in CNY (null without a value model), and the sentence explaining them."""

    p_alive: float
    p_alive_pct: int
    band: Literal["high", "medium", "low"]
    band_label: str
    expected_purchases_90d: float
    expected_avg_value: Decimal | None = None
    clv_12m: Decimal | None = None
    purchases: int
    first_purchase_on: dt.date | None = None
    last_purchase_on: dt.date | None = None
    model: str
    fit_id: int | None = None
    scored_at: dt.datetime
    explanation: str


@router.get("/prediction/fits", response={200: FitListOut, **ERROR_RESPONSES},
            summary="The last customer-base model fits with their validation (scoring.view)")
def list_fits(request):
    return {"items": [selectors.fit_present(f) for f in selectors.fit_list(user=request.user)]}


@router.post("/prediction/fits", response={202: FitStartedOut, **ERROR_RESPONSES},
             summary="Start a fit and rescoring as a background job (scoring.configure)")
def start_fit(request, payload: FitIn):
    from kehu.prediction.tasks import clv_score_task

    job = services.clv_score_request(actor=actor_of(request), model=payload.model)
    clv_score_task(job.pk, model=payload.model, full=payload.full)
    job.refresh_from_db()
    return Status(202, {"job_id": job.pk, "status": job.status,
                        "url": f"/api/v1/jobs/{job.pk}"})


@router.get("/customers/{customer_id}/prediction",
            response={200: PredictionOut, **ERROR_RESPONSES},
            summary="A customer's P(alive), expected purchases and CLV (404 until scored)")
def get_prediction(request, customer_id: Id):
    customer = customer_get_plain(user=request.user, customer_id=customer_id)
    data: dict[str, Any] | None = selectors.customer_prediction_get(user=request.user,
                                                                    customer=customer)
    if data is None:
        raise NotFound()
    return data
