"""API of privacy under /api/v1/privacy/…: consent, links, holds, erasure, the access archive,
data-subject requests and retention. Thin: schemas in, services and selectors, schemas out;
domain errors become {"code", "message", "details"} upstream."""


import datetime as dt
import tempfile
from typing import Any, Literal

from django.http import FileResponse
from django.urls import reverse
from ninja import Field, Query, Router, Schema, Status

from kehu.core.http import ERROR_RESPONSES, actor_of
from kehu.core.schemas import Days, Flag, Id, Input, Moment
from kehu.privacy import requests as dsr
from kehu.privacy import retention, selectors, services
from kehu.privacy.archive import customer_archive_write
from kehu.privacy.erasure import customer_erase
from kehu.privacy.models import CHANNEL_CODES, ConsentRecord, PrivacyRequest, RetentionPolicy

router = Router(tags=["privacy"])

Channel = Literal[CHANNEL_CODES]  # type: ignore[valid-type]
Status_ = Literal["granted", "withdrawn"]
Source = Literal[tuple(code for code, _l in ConsentRecord.SOURCES)]  # type: ignore[misc]
Kind = Literal[tuple(code for code, _l in PrivacyRequest.KINDS)]  # type: ignore[misc]
DataClass = Literal[tuple(code for code, _l in RetentionPolicy.DATA_CLASSES)]  # type: ignore


class ConsentIn(Input):
    purpose: str = Field(..., min_length=1, max_length=40)
    channel: Channel = "any"
    status: Status_
    source: Source = "api"
    notice_text: str = Field("", max_length=10000)
    notice_version: str = Field("", max_length=40)
    expires_at: Moment | None = None
    guardian_consent: Flag = False
    reference: str = Field("", max_length=200)


class ConsentRecordOut(Schema):
    id: int
    purpose: str
    channel: str
    status: str
    source: str
    recorded_at: dt.datetime
    recorded_by: str
    notice_text: str
    notice_version: str
    expires_at: dt.datetime | None
    guardian_consent: bool
    reference: str

    @staticmethod
    def resolve_recorded_by(record):
        return record.actor_label


class ConsentCellOut(Schema):
    purpose: str
    purpose_label: str
    channel: str
    channel_label: str
    status: str
    allowed: bool
    since: dt.datetime | None
    expires_at: dt.datetime | None
    source: str


class CustomerConsentOut(Schema):
    customer_id: int
    under_14_until: dt.date | None
    current: list[ConsentCellOut]
    history: list[ConsentRecordOut]


class CheckOut(Schema):
    customer_id: int
    purpose: str
    channel: str
    allowed: bool


class CheckQuery(Schema):
    customer_id: Id
    purpose: str = Field(..., min_length=1, max_length=40)
    channel: Channel = "any"


class LinkIn(Input):
    purpose: str = Field(..., min_length=1, max_length=40)
    channel: Channel = "any"
    action: Literal["confirm", "withdraw"]
    notice_text: str = Field("", max_length=10000)
    notice_version: str = Field("", max_length=40)
    days: Days = 14


class LinkOut(Schema):
    id: int
    action: str
    url: str
    expires_at: dt.datetime


class ReasonIn(Input):
    reason: str = Field(..., min_length=1, max_length=300)


class HoldOut(Schema):
    id: int
    customer_id: int
    reason: str
    placed_at: dt.datetime
    released_at: dt.datetime | None


class ErasureOut(Schema):
    customer_id: int
    erased_at: dt.datetime
    reason: str
    counts: dict[str, Any]


class RequestIn(Input):
    kind: Kind
    customer_id: Id | None = None
    requester_name: str = Field("", max_length=100)
    requester_contact: str = Field("", max_length=200)
    details: str = Field("", max_length=5000)


class RequestOut(Schema):
    id: int
    kind: str
    customer_id: int | None
    requester_name: str
    requester_contact: str
    details: str
    intake: str
    status: str
    opened_at: dt.datetime
    due_date: dt.date
    working_days_left: int
    verified_at: dt.datetime | None
    verification: str
    closed_at: dt.datetime | None
    outcome: str
    refusal_reason: str

    @staticmethod
    def resolve_working_days_left(row):
        return dsr.working_days_left(row.due_date)


class VerifyIn(Input):
    verification: str = Field(..., min_length=1, max_length=200)
    customer_id: Id | None = None


class OutcomeIn(Input):
    outcome: str = Field(..., min_length=1, max_length=5000)


class RefuseIn(Input):
    refusal_reason: str = Field(..., min_length=1, max_length=5000)


class RequestsQuery(Schema):
    status: Literal["open", "all", "verified", "completed", "refused"] = "open"


class PrivacyPolicyOut(Schema):
    data_class: str
    days: int
    is_active: bool
    last_run_at: dt.datetime | None
    last_result: dict[str, Any]


class PrivacyPolicyIn(Input):
    days: Days
    is_active: Flag = True


class RunIn(Input):
    dry_run: Flag = False


class RetentionRunOut(Schema):
    dry_run: bool
    classes: dict[str, Any]


def _consent_out(data) -> dict[str, Any]:
    return {"customer_id": data.customer_id, "under_14_until": data.minor_until,
            "current": data.current, "history": data.history}


@router.get("/privacy/customers/{customer_id}/consents", response={200: CustomerConsentOut,
                                                                   **ERROR_RESPONSES})
def customer_consents(request, customer_id: Id):
    """A customer's current consent per purpose and channel, and the ledger newest first."""
    return _consent_out(selectors.customer_consent(user=request.user, customer_id=customer_id))


@router.post("/privacy/customers/{customer_id}/consents",
             response={201: ConsentRecordOut, **ERROR_RESPONSES})
def consent_create(request, customer_id: Id, payload: ConsentIn):
    """Record a grant or a withdrawal (a new ledger line; history is never edited). Needs
    privacy.manage or customer.change; under 14 a grant needs `guardian_consent`."""
    record = services.consent_record(actor=actor_of(request), customer_id=customer_id,
                                     **payload.model_dump())
    return Status(201, record)


@router.get("/privacy/consent-check", response={200: CheckOut, **ERROR_RESPONSES})
def consent_check(request, query: Query[CheckQuery]):
    """May this customer be contacted for the purpose on the channel now (the one rule that
    segments, marketing exports and rule actions apply)?"""
    selectors.customer_consent(user=request.user, customer_id=query.customer_id)  # scope
    return {"customer_id": query.customer_id, "purpose": query.purpose,
            "channel": query.channel,
            "allowed": selectors.consent_allows(customer_id=query.customer_id,
                                                channel=query.channel, purpose=query.purpose)}


@router.post("/privacy/customers/{customer_id}/consent-links",
             response={201: LinkOut, **ERROR_RESPONSES})
def consent_link_create(request, customer_id: Id, payload: LinkIn):
    """A signed single-use link for the customer: confirm a grant (double opt-in) or
    withdraw. Send `url` by SMS or email; it works once."""
    link, token = services.consent_link_create(actor=actor_of(request), customer_id=customer_id,
                                               **payload.model_dump())
    url = request.build_absolute_uri(reverse("privacy:link", args=[token]))
    return Status(201, {"id": link.pk, "action": link.action, "url": url,
                        "expires_at": link.expires_at})


@router.post("/privacy/customers/{customer_id}/holds", response={201: HoldOut, **ERROR_RESPONSES})
def hold_place(request, customer_id: Id, payload: ReasonIn):
    """Place a legal hold: the customer cannot be erased until it is released."""
    return Status(201, services.legal_hold_place(actor=actor_of(request), customer_id=customer_id,
                                                 reason=payload.reason))


@router.post("/privacy/holds/{hold_id}/release", response={200: HoldOut, **ERROR_RESPONSES})
def hold_release(request, hold_id: Id):
    return services.legal_hold_release(actor=actor_of(request), hold_id=hold_id)


@router.post("/privacy/customers/{customer_id}/erase", response={200: ErasureOut,
                                                                 **ERROR_RESPONSES})
def erase(request, customer_id: Id, payload: ReasonIn):
    """Erase the customer (anonymise, keeping aggregates; every copy removed). Needs
    privacy.manage; 409 `legal_hold` while a hold is in place."""
    return customer_erase(actor=actor_of(request), customer_id=customer_id,
                          reason=payload.reason)


@router.get("/privacy/customers/{customer_id}/archive", response=ERROR_RESPONSES,
            openapi_extra={"responses": {200: {"description": "The zip (archive.json, "
                                                              "archive.xlsx, README.txt)",
                                               "content": {"application/zip": {}}}}})
def archive(request, customer_id: Id):
    """The access / portability archive of everything kehu holds about the customer."""
    handle = tempfile.TemporaryFile(prefix="kehu-archive-")
    try:
        customer_archive_write(actor=actor_of(request), customer_id=customer_id, out=handle)
    except BaseException:
        handle.close()
        raise
    handle.seek(0)
    response = FileResponse(handle, content_type="application/zip", as_attachment=True,
                            filename=f"kehu-customer-{customer_id}.zip")
    response["Cache-Control"] = "private, no-store"
    return response


@router.get("/privacy/requests", response={200: list[RequestOut], **ERROR_RESPONSES})
def requests_list(request, query: Query[RequestsQuery]):
    """The request queue, soonest deadline first (`status=open` by default)."""
    return list(selectors.request_list(user=request.user, status=query.status)[:500])


@router.post("/privacy/requests", response={201: RequestOut, **ERROR_RESPONSES})
def request_create(request, payload: RequestIn):
    """Open a request; its deadline is 15 working days on the business calendar."""
    return Status(201, dsr.request_open(actor=actor_of(request), intake="api",
                                        **payload.model_dump()))


@router.get("/privacy/requests/{request_id}", response={200: RequestOut, **ERROR_RESPONSES})
def request_detail(request, request_id: Id):
    return selectors.request_get(user=request.user, request_id=request_id)


@router.post("/privacy/requests/{request_id}/verify", response={200: RequestOut,
                                                                **ERROR_RESPONSES})
def request_verify(request, request_id: Id, payload: VerifyIn):
    return dsr.request_verify(actor=actor_of(request), request_id=request_id,
                              method=payload.verification, customer_id=payload.customer_id)


@router.post("/privacy/requests/{request_id}/complete", response={200: RequestOut,
                                                                  **ERROR_RESPONSES})
def request_complete(request, request_id: Id, payload: OutcomeIn):
    return dsr.request_complete(actor=actor_of(request), request_id=request_id,
                                outcome=payload.outcome)


@router.post("/privacy/requests/{request_id}/refuse", response={200: RequestOut,
                                                                **ERROR_RESPONSES})
def request_refuse(request, request_id: Id, payload: RefuseIn):
    """Refuse; the reason is required and kept."""
    return dsr.request_refuse(actor=actor_of(request), request_id=request_id,
                              reason=payload.refusal_reason)


@router.get("/privacy/retention", response={200: list[PrivacyPolicyOut], **ERROR_RESPONSES})
def retention_list(request):
    request.user.access.require("privacy.manage")
    return retention.policies()


# Before retention/{data_class}: URL patterns are tried in order, and that one would take
# "run" (and answer 405 to the POST).
@router.post("/privacy/retention/run", response={200: RetentionRunOut, **ERROR_RESPONSES})
def retention_apply(request, payload: RunIn):
    """Apply the policies now (`dry_run`: only count what would go)."""
    result = retention.retention_run(actor=actor_of(request), dry_run=payload.dry_run)
    return {"dry_run": payload.dry_run, "classes": result}


@router.put("/privacy/retention/{data_class}", response={200: PrivacyPolicyOut, **ERROR_RESPONSES})
def retention_update(request, data_class: DataClass, payload: PrivacyPolicyIn):
    return retention.retention_policy_update(actor=actor_of(request), data_class=data_class,
                                             days=payload.days, is_active=payload.is_active)

