"""API of the outbound webhooks: endpoints (the secret is returned once, on create and on
rotation), their delivery log, and replay. Thin: schemas in, services and selectors."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from ninja import Field, Query, Router, Schema, Status

from kehu.core.http import ERROR_RESPONSES, actor_of
from kehu.core.schemas import Flag, Id, Input
from kehu.integration import selectors, services
from kehu.integration.models import WebhookEndpoint

router = Router(tags=["webhooks"])

_PATTERN = Field(..., min_length=1, max_length=60)


class WebhookIn(Input):
    url: str = Field(..., min_length=1, max_length=500)
    event_types: list[str] = Field(..., min_length=1, max_length=services.MAX_PATTERNS,
                                   description="Event types or patterns: `customer.*`, "
                                               "`deal.won`, `*` for every event")
    description: str = Field("", max_length=200)
    allow_private_network: Flag = False


class WebhookPatch(Input):
    url: str | None = Field(None, min_length=1, max_length=500)
    event_types: list[str] | None = Field(None, min_length=1, max_length=services.MAX_PATTERNS)
    description: str | None = Field(None, max_length=200)
    is_active: Flag | None = None
    allow_private_network: Flag | None = None


class WebhookOut(Schema):
    id: int
    url: str
    description: str
    event_types: list[str]
    is_active: bool
    disabled_reason: str
    allow_private_network: bool
    failing_since: dt.datetime | None
    created_at: dt.datetime


class WebhookWithSecretOut(WebhookOut):
    secret: str = Field(..., description="Shown only now: verify calls with it "
                                         "(Standard Webhooks, `whsec_…`)")


class DeliveryOut(Schema):
    id: int
    event_id: int
    event_type: str
    message_id: str
    status: str
    attempts: int
    next_attempt_at: dt.datetime | None
    last_status_code: int | None
    last_error: str
    last_attempt_at: dt.datetime | None
    delivered_at: dt.datetime | None
    created_at: dt.datetime


class DeliveryDetailOut(DeliveryOut):
    body: str
    last_response: str


class DeliveryQuery(Schema):
    status: Literal["", "pending", "succeeded", "failed", "gave_up"] = ""
    limit: int = Field(100, ge=1, le=500)


def _out(endpoint: WebhookEndpoint, secret: str | None = None) -> dict:
    data = {f: getattr(endpoint, f) for f in WebhookOut.model_fields}
    if secret is not None:
        data["secret"] = secret
    return data


@router.get("/webhooks", response={200: list[WebhookOut], **ERROR_RESPONSES},
            summary="List webhook endpoints")
def list_webhooks(request):
    return [_out(e) for e in selectors.webhook_list(user=request.user)]


@router.post("/webhooks", response={201: WebhookWithSecretOut, **ERROR_RESPONSES},
             summary="Create a webhook endpoint")
def create_webhook(request, payload: WebhookIn):
    """Calls are signed per Standard Webhooks (`webhook-id`, `webhook-timestamp`,
    `webhook-signature: v1,…`); internal addresses are refused unless
    `allow_private_network`."""
    endpoint, secret = services.webhook_create(actor=actor_of(request), **payload.dict())
    return Status(201, _out(endpoint, secret))


@router.get("/webhooks/{endpoint_id}", response={200: WebhookOut, **ERROR_RESPONSES},
            summary="One webhook endpoint")
def get_webhook(request, endpoint_id: Id):
    return _out(selectors.webhook_get(user=request.user, endpoint_id=endpoint_id))


@router.patch("/webhooks/{endpoint_id}", response={200: WebhookOut, **ERROR_RESPONSES},
              summary="Change a webhook endpoint (enable, disable, event types …)")
def update_webhook(request, endpoint_id: Id, payload: WebhookPatch):
    selectors.webhook_get(user=request.user, endpoint_id=endpoint_id)
    endpoint = services.webhook_update(actor=actor_of(request), endpoint_id=endpoint_id,
                                       **payload.dict(exclude_unset=True))
    return _out(endpoint)


@router.delete("/webhooks/{endpoint_id}", response={204: None, **ERROR_RESPONSES},
               summary="Delete a webhook endpoint and its delivery log")
def delete_webhook(request, endpoint_id: Id):
    selectors.webhook_get(user=request.user, endpoint_id=endpoint_id)
    services.webhook_delete(actor=actor_of(request), endpoint_id=endpoint_id)
    return Status(204, None)


@router.post("/webhooks/{endpoint_id}/rotate-secret",
             response={200: WebhookWithSecretOut, **ERROR_RESPONSES},
             summary="Rotate the signing secret (the old one still signs for 24 hours)")
def rotate_webhook_secret(request, endpoint_id: Id):
    selectors.webhook_get(user=request.user, endpoint_id=endpoint_id)
    endpoint, secret = services.webhook_rotate_secret(actor=actor_of(request),
                                                      endpoint_id=endpoint_id)
    return _out(endpoint, secret)


@router.get("/webhooks/{endpoint_id}/deliveries",
            response={200: list[DeliveryOut], **ERROR_RESPONSES},
            summary="The endpoint's delivery log, newest first")
def list_deliveries(request, endpoint_id: Id, query: Query[DeliveryQuery]):
    return selectors.webhook_deliveries(user=request.user, endpoint_id=endpoint_id,
                                        status=query.status, limit=query.limit)


@router.get("/webhook-deliveries/{delivery_id}",
            response={200: DeliveryDetailOut, **ERROR_RESPONSES},
            summary="One delivery with the body sent and the receiver's answer")
def get_delivery(request, delivery_id: Id):
    return selectors.webhook_delivery_get(user=request.user, delivery_id=delivery_id)


@router.post("/webhook-deliveries/{delivery_id}/replay",
             response={200: DeliveryOut, **ERROR_RESPONSES},
             summary="Send a delivery again now (same message id)")
def replay_delivery(request, delivery_id: Id):
    selectors.webhook_delivery_get(user=request.user, delivery_id=delivery_id)
    services.webhook_delivery_replay(actor=actor_of(request), delivery_id=delivery_id)
    return selectors.webhook_delivery_get(user=request.user, delivery_id=delivery_id)
