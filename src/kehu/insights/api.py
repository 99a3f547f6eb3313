"""API of insights: a customer's churn risk, factors, signals, recommendations and next best
actions; the scoped churn-warning list; a churn model fit on demand; a next best action as a
follow-up task. Thin handlers over the services and selectors."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from ninja import Field, Query, Router, Schema, Status

from kehu.core.http import ERROR_RESPONSES, actor_of
from kehu.core.schemas import Id
from kehu.customers.selectors import customer_get_plain
from kehu.insights import selectors, services

router = Router(tags=["insights"])


class FactorOut(Schema):
    code: str = Field(description="recency, low_frequency, complaints, visit_drop …")
    value: float | None = None
    weight: float = Field(description="How much it pushes the risk up")
    text: str = Field(description="The factor as a sentence in the caller's language")


class ChurnOut(Schema):
    churn_risk: float = Field(ge=0, le=1)
    level: str = Field(description="low, medium or high")
    level_label: str
    factors: list[FactorOut] = Field(description="The top three, strongest first")
    model: str = Field(description="logistic, gbm, p_alive or recency")
    model_label: str
    scored_at: dt.datetime


class SignalOut(Schema):
    kind: str
    label: str
    text: str
    details: dict[str, Any]
    detected_at: dt.datetime


class ProductRef(Schema):
    product_id: int
    name: str


class RecommendationOut(Schema):
    product_id: int
    sku: str
    name: str
    score: float
    because_of: ProductRef | None = None
    source: str = Field(description="co_purchase or popular")


class ActionOut(Schema):
    code: str = Field(description="complaint, renew, win_back, follow_interest, cross_sell")
    title: str
    reason: str
    due_in_days: int
    product_id: int | None = None


class InsightPredictionOut(Schema):
    p_alive: float | None = None
    expected_purchases_90d: float | None = None
    clv_12m: Decimal | float | None = None


class InsightsOut(Schema):
    customer_id: int
    churn: ChurnOut | None = Field(None, description="Null until the customer is scored "
                                                     "(customers who have bought)")
    signals: list[SignalOut]
    recommendations: list[RecommendationOut]
    next_actions: list[ActionOut]
    prediction: InsightPredictionOut | None = None


class OwnerRef(Schema):
    id: int
    name: str


class ChurnRowOut(ChurnOut):
    customer_id: int
    name: str
    owner: OwnerRef | None = None
    value_at_stake: Decimal | None = None
    value_source: str = Field(description="clv_12m, spend (RFM window) or empty")
    last_contact_at: dt.datetime | None = None


class ChurnListOut(Schema):
    items: list[ChurnRowOut]
    count: int
    page: int
    pages: int


class ChurnFilters(Schema):
    level: Literal["", "low", "medium", "high"] = Field(
        "", description="One level; empty lists medium and high")
    owner: Literal["", "me"] | Id = ""
    page: int = Field(1, ge=1, le=100_000)
    per_page: int = Field(50, ge=1, le=200)


class InsightFitOut(Schema):
    id: int
    fitted_at: dt.datetime
    model_kind: str
    window_days: int
    cutoff: dt.date
    labelled: int
    churned: int
    enough_data: bool
    message: str = Field(description="Why it could not train (too little data), in the "
                                     "caller's language; empty for a good fit")
    metrics: dict[str, Any] = Field(description="auc, precision_top_decile, baseline_auc, "
                                                "baseline_precision_top_decile, test_size …")


    @staticmethod
    def resolve_message(obj) -> str:
        return obj.explanation()


class TaskOut(Schema):
    id: int
    title: str
    due_date: dt.date
    assignee_id: int | None = None


@router.get("/customers/{customer_id}/insights", response={200: InsightsOut, **ERROR_RESPONSES},
            summary="A customer's churn risk and factors, signals, recommendations and next "
                    "best actions")
def get_insights(request, customer_id: Id):
    customer = customer_get_plain(user=request.user, customer_id=customer_id)
    return selectors.customer_insights(user=request.user, customer=customer)


@router.get("/insights/churn", response={200: ChurnListOut, **ERROR_RESPONSES},
            summary="Customers at risk of churning in the caller's scope, riskiest first")
def list_churn(request, filters: Query[ChurnFilters]):
    owner = filters.owner if filters.owner != "" else None
    return selectors.churn_list(user=request.user, level=filters.level, owner=owner,
                                page=filters.page, per_page=filters.per_page)


@router.post("/insights/churn/fit", response={200: InsightFitOut, **ERROR_RESPONSES},
             summary="Fit the churn model on this company's history and rescore "
                     "(scoring.configure)")
def post_fit(request):
    return services.churn_fit(actor=actor_of(request))


@router.post("/customers/{customer_id}/insights/actions/{code}/task",
             response={201: TaskOut, **ERROR_RESPONSES},
             summary="Turn one of the customer's next best actions into a follow-up task")
def post_action_task(request, customer_id: Id, code: str):
    customer = customer_get_plain(user=request.user, customer_id=customer_id)
    task = services.next_action_task_create(actor=actor_of(request), customer=customer,
                                            code=code[:40], user=request.user)
    return Status(201, task)
