"""API: customers and the rows of their card. Thin: schemas in, services/selectors, schemas out.

Every customer in a response comes from `selectors.customer_present`, so the API masks
exactly as the pages and exports do.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from pydantic import create_model, field_validator

from kehu.accounts import selectors as account_selectors
from kehu.core.errors import NotFound, ValidationFailed
from kehu.core.http import ERROR_RESPONSES, actor_of
from kehu.core.schemas import MAX_ID, Day, Days, Flag, Id, Input, Limit, Position
from kehu.customers import selectors, services
from kehu.customers.fields import LIST_FILTERS
from kehu.customers.listing import filters_from_query
from kehu.customers.models import Customer

router = Router(tags=["customers"])


def custom_fields_fingerprint() -> str:
    """What the OpenAPI document says about custom fields depends on: a cached document is
    rebuilt when it changes (kehu.api.api.KehuAPI)."""
    from kehu.customers.models import CustomFieldDefinition

    try:
        rows = list(CustomFieldDefinition.objects.filter(is_active=True).order_by("pk")
                    .values_list("pk", "key", "label", "field_type", "applies_to", "required",
                                 "choices", "validation", "position"))
    except Exception:  # noqa: BLE001 - as _document_custom_fields: no database, no fields
        return ""
    return repr(rows)


def _document_custom_fields(schema: dict[str, Any]) -> None:
    """List the live custom field definitions in the OpenAPI description of `custom`."""
    from kehu.customers.models import CustomFieldDefinition

    try:
        definitions = list(CustomFieldDefinition.objects.filter(is_active=True)
                           .order_by("position", "id"))
    except Exception:  # noqa: BLE001 - schema generation must not fail without a database
        definitions = []
    lines = ["Custom field values by key. Defined fields (GET /api/v1/custom-fields):"]
    for d in definitions:
        extra = f", choices: {', '.join(map(str, d.choices))}" if d.choices else ""
        rules = f", rules: {d.validation}" if d.validation else ""
        lines.append(f"- `{d.key}` ({d.field_type}, {d.applies_to}"
                     f"{', required' if d.required else ''}{extra}{rules}): {d.label}")
    schema["description"] = "\n".join(lines)


# Schemas ------------------------------------------------------------------------------


class Ref(Schema):
    id: int
    name: str


class TagOut(Schema):
    id: int
    name: str
    color: str


class IdentifierOut(Schema):
    id: int
    kind: str
    system: str
    value: str | None
    last4: str | None
    is_primary: bool
    verified: bool
    source: str


class AddressOut(Schema):
    id: int
    label: str
    province: str
    city: str
    district: str
    detail: str | None
    postal_code: str
    region: str
    is_primary: bool


class ContactOut(Schema):
    id: int
    person: Ref
    job_title: str
    decision_role: str
    is_primary: bool


class EmployerOut(Schema):
    id: int
    organisation: Ref
    job_title: str
    decision_role: str
    is_primary: bool


class CustomerRowOut(Schema):
    """A customer as the caller may see it (sensitive fields masked or null by role; a field
    the form designer hides for the caller's role is null)."""

    id: int
    kind: str
    name: str
    gender: str | None
    birthday: str | None
    title: str | None
    company: str | None = Field("", description="The company a person works for, as typed")
    mobile: str | None
    email: str | None
    wechat: str | None
    id_number: str | None = Field(None, description="Masked; reveal with POST …/reveal-id-number")
    id_number_revealable: bool
    uscc: str | None
    industry: str | None
    company_size: str | None
    revenue_band: str | None
    website: str | None
    owner: Ref | None
    team: Ref | None
    source: str | None
    lifecycle_stage: str | None
    preferred_channel: str | None
    product_interests: list[str]
    notes: str | None
    province: str
    city: str
    region: str
    custom: dict[str, Any] = Field(default_factory=dict,
                                   json_schema_extra=_document_custom_fields)
    tags: list[TagOut]
    quality_score: int | None
    status: str
    version: int = Field(..., description="Send it back with PATCH; a stale one gives 409")
    created_at: datetime
    updated_at: datetime
    last_activity_at: datetime | None
    can_edit: bool
    field_modes: dict[str, str]


class CustomerOut(CustomerRowOut):
    identifiers: list[IdentifierOut]
    addresses: list[AddressOut]
    contacts: list[ContactOut]
    employers: list[EmployerOut]


class CustomerPageOut(Schema):
    items: list[CustomerRowOut]
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page")
    count: int | None = Field(None, description="Only when `count=true` was asked")


class AddressIn(Input):
    raw: str = Field("", description="The address as written; parsed into its parts")
    province: str = ""
    city: str = ""
    district: str = ""
    detail: str = ""
    postal_code: str = ""
    label: Literal["home", "work", "billing", "shipping", "registered"] = "home"
    is_primary: Flag = True


class _CustomerFields(Input):
    gender: str | None = None
    birthday: str | None = Field(None, description="A date (1990-01-02, 1990/1/2, 1990年1月2日) "
                                                   "from 1900-01-01 to today; \"\" clears it")
    title: str | None = None
    company: str | None = None
    uscc: str | None = None
    industry: str | None = None
    company_size: str | None = None
    revenue_band: str | None = None
    website: str | None = None
    source: str | None = None
    lifecycle_stage: str | None = None
    preferred_channel: str | None = None
    product_interests: list[str] | None = None
    notes: str | None = None
    mobile: str | None = Field(None, description="Any format; becomes the primary mobile")
    email: str | None = None
    wechat: str | None = None
    id_number: str | None = Field(None, description="Stored only encrypted; never returned")
    owner_id: Id | None = None
    team_id: Id | None = None
    custom: dict[str, Any] | None = Field(None, json_schema_extra=_document_custom_fields)


class CustomerIn(_CustomerFields):
    kind: Literal["person", "organisation"] = "person"
    name: str = Field(..., min_length=1, max_length=200)
    address: str | AddressIn | None = None


class CustomerPatch(_CustomerFields):
    version: Id = Field(..., description="The version you read; 409 if someone changed it")
    name: str | None = None
    address: str | AddressIn | None = None


class IdentifierIn(Input):
    kind: Literal["phone", "mobile", "landline", "email", "wechat", "external"]
    value: str
    system: str = ""
    source: str = ""
    verified: Flag = False
    is_primary: Flag = False


class ContactIn(Input):
    person_id: Id
    job_title: str = ""
    decision_role: Literal["", "decision_maker", "influencer", "user", "gatekeeper"] = ""
    is_primary: Flag = False


class TagIn(Input):
    name: str = Field(..., min_length=1, max_length=60)


class BulkAssignIn(Input):
    customer_ids: list[Id] = Field(..., max_length=10_000)
    owner_id: Id
    team_id: Id | None = None


class BulkTagIn(Input):
    customer_ids: list[Id] = Field(..., max_length=10_000)
    name: str = Field(..., min_length=1, max_length=60)


class CountOut(Schema):
    changed: int


class RevealOut(Schema):
    id_number: str


class CustomFieldOut(Schema):
    id: int
    key: str
    label: str
    field_type: str
    applies_to: str
    required: bool
    choices: list[Any]
    help_text: str
    validation: dict[str, Any]
    position: int
    is_active: bool


class CustomFieldIn(Input):
    key: str = Field(..., pattern=r"^[-a-zA-Z0-9_]+$", max_length=40)
    label: str = Field(..., min_length=1, max_length=60)
    field_type: Literal["text", "number", "date", "choice", "multi_choice", "boolean", "url",
                        "user"]
    applies_to: Literal["person", "organisation", "both"] = "both"
    required: Flag = False
    choices: list[Any] = []
    help_text: str = ""
    validation: dict[str, Any] = Field(default_factory=dict,
                                       description="min, max, max_length, pattern")
    position: Position = 0


class CustomFieldPatch(Input):
    label: str | None = None
    applies_to: Literal["person", "organisation", "both"] | None = None
    required: Flag | None = None
    choices: list[Any] | None = None
    help_text: str | None = None
    validation: dict[str, Any] | None = None
    position: Position | None = None
    is_active: Flag | None = None


class SavedViewOut(Schema):
    id: int
    name: str
    params: dict[str, Any]
    shared: bool
    owner: str

    @staticmethod
    def resolve_owner(view):
        return view.user.get_username()


class SavedViewIn(Input):
    name: str = Field(..., min_length=1, max_length=60)
    params: dict[str, Any] = {}
    shared: Flag = False


class _ListQueryBase(Schema):
    q: str = Field("", description="Name, pinyin or initials, phone (any format or last 4), "
                                   "email, company, ID number (identifiers only when the "
                                   "caller sees them in clear; a whole one is an audited, "
                                   "rate-limited lookup)")
    owner: str | None = Field(None, description="A user id or `me`")
    team: Id | None = None
    region: str = ""
    province: str = ""
    lifecycle: str = ""
    tag: str | None = Field(None, description="Tag id or name")
    source: str = ""
    kind: str = ""
    created_from: Day | None = None
    created_to: Day | None = None
    custom: list[str] = Field([], description="`key=value`, `key=>=10`, `key=1..5`")
    stale_days: Days | None = Field(None, description="No interaction for this many days")
    sort: str = Field("-created_at", description="created_at, updated_at, name, "
                                                  "lifecycle_stage, region; `-` for descending "
                                                  "(a masked or hidden field: 422)")
    cursor: str | None = None
    limit: Limit = 50
    count: Flag = False

    @field_validator("owner")
    @classmethod
    def _owner_id_or_me(cls, value: str | None) -> str | None:
        if value in (None, "", "me"):
            return value
        if not (value.isascii() and value.isdigit() and 1 <= int(value) <= MAX_ID):
            raise ValueError(str(_("A user id or “me”.")))
        return value


def _list_query() -> type[Schema]:
    """The list's query parameters: the built-in filters, then the ones apps above customers
    registered (value tier, RFM scores, data quality…; fields.register_filter), bounded as
    each declares."""
    extra = {f.key: f.api_field for f in LIST_FILTERS.values()}
    return create_model("ListQuery", __base__=_ListQueryBase, **extra)


ListQuery = _list_query()


# Helpers ------------------------------------------------------------------------------


def _owner(request, owner_id: int | None):
    if owner_id is None:
        return None
    try:
        return account_selectors.user_get(user=request.user, user_id=owner_id)
    except NotFound:
        raise ValidationFailed(details={"owner_id": [_("No such user.")]}) from None


def _team(request, team_id: int | None):
    if team_id is None:
        return None
    try:
        return account_selectors.team_get(user=request.user, team_id=team_id)
    except NotFound:
        raise ValidationFailed(details={"team_id": [_("No such team.")]}) from None


def _changes(request, data: dict[str, Any]) -> dict[str, Any]:
    """API field names -> service change keys (owner_id -> owner …)."""
    if "owner_id" in data:
        data["owner"] = _owner(request, data.pop("owner_id"))
    if "team_id" in data:
        data["team"] = _team(request, data.pop("team_id"))
    for key in ("gender", "title", "company", "uscc", "industry", "company_size", "revenue_band",
                "website", "source", "notes", "mobile", "email", "wechat", "id_number"):
        if key in data and data[key] is None:
            data[key] = ""
    return data


def _present(request, customer: Customer) -> dict[str, Any]:
    fresh = selectors.customer_get(user=request.user, customer_id=customer.pk)
    return selectors.customer_present(request.user, fresh)


def _get(request, customer_id: Id) -> Customer:
    return selectors.customer_get(user=request.user, customer_id=customer_id)


def filters_from(query: ListQuery | dict[str, Any]) -> selectors.CustomerFilters:
    """The list filters from API query parameters: the one parser the page, the export, the
    CLI and the duplicate scan use too (customers.listing.filters_from_query)."""
    data = query.dict() if isinstance(query, Schema) else dict(query)
    return filters_from_query({key: value.isoformat() if hasattr(value, "isoformat") else value
                               for key, value in data.items()})


# Customers ----------------------------------------------------------------------------


@router.get("/customers", response={200: CustomerPageOut, **ERROR_RESPONSES},
            summary="List and search customers")
def list_customers(request, query: Query[ListQuery]):
    """Scoped to the caller's records; keyset pagination with `cursor` (stable and fast at
    any depth)."""
    page = selectors.customer_list(user=request.user, filters=filters_from(query),
                                   sort=query.sort, cursor=query.cursor, limit=query.limit,
                                   with_count=query.count, actor=actor_of(request))
    return {"items": [selectors.customer_present(request.user, c, detail=False)
                      for c in page.items],
            "next_cursor": page.next_cursor, "count": page.count}


class CallerMatchOut(Schema):
    """Who is calling: enough to greet them and open the card."""

    id: int
    kind: str
    name: str
    mobile: str | None
    email: str | None
    lifecycle_stage: str
    region: str
    province: str
    city: str
    owner: Ref | None
    team: Ref | None
    tags: list[TagOut]
    version: int
    last_activity_at: datetime | None
    card_path: str = Field(..., description="Path of the customer's card page")


@router.get("/customers/lookup", response={200: CallerMatchOut | CustomerRowOut,
                                           **ERROR_RESPONSES},
            summary="Find the customer holding a phone, email or ID number")
def lookup_customer(request, phone: str = "", email: str = "", id_number: str = ""):
    """Caller lookup: any phone format works (+86 …, 0086…, spaces, dashes); 404 if nobody
    in the caller's scope holds it. By phone it answers with a short caller match built for
    call-centre speed; by email or ID number with the customer's list row. GET
    /customers/{id}/card has everything.

    A lookup needs the field in clear for the caller (403 otherwise), counts against the
    caller's hourly allowance of sensitive lookups (429 `rate_limited` beyond it) and is
    audited with the number of customers found."""
    actor = actor_of(request)
    if phone:
        match = services.customer_sensitive_lookup(
            actor=actor, by="phone",
            find=lambda: selectors.customer_caller_match(user=request.user, phone=phone))
        if match is None:
            raise NotFound()
        return match
    found = services.customer_sensitive_lookup(
        actor=actor, by="email" if email else "id_number",
        find=lambda: selectors.customer_lookup(user=request.user, email=email,
                                               id_number=id_number))
    if found is None:
        raise NotFound()
    return selectors.customer_present(request.user, found, detail=False)


@router.post("/customers", response={201: CustomerOut, **ERROR_RESPONSES},
             summary="Create a customer")
def create_customer(request, payload: CustomerIn):
    data = _changes(request, payload.dict(exclude_unset=True))
    address = data.pop("address", None)
    customer = services.customer_create(
        actor=actor_of(request), address=address, **{k: v for k, v in data.items()
                                                     if v is not None})
    return Status(201, _present(request, customer))


@router.get("/customers/{customer_id}", response={200: CustomerOut, **ERROR_RESPONSES},
            summary="One customer's identity")
def get_customer(request, customer_id: Id):
    return selectors.customer_present(request.user, _get(request, customer_id))


@router.patch("/customers/{customer_id}", response={200: CustomerOut, **ERROR_RESPONSES},
              summary="Change a customer (optimistic locking on `version`)")
def update_customer(request, customer_id: Id, payload: CustomerPatch):
    """Send only the fields to change and the `version` you read. If someone changed the
    customer since, the answer is 409 `conflict` with `details.current` (the values now) and
    `details.fields` (what changed since your version)."""
    customer = _get(request, customer_id)
    data = _changes(request, payload.dict(exclude_unset=True))
    version = data.pop("version")
    customer = services.customer_update(actor=actor_of(request), customer=customer,
                                        expected_version=version, changes=data)
    return _present(request, customer)


@router.delete("/customers/{customer_id}", response={204: None, **ERROR_RESPONSES},
               summary="Delete a customer (soft)")
def delete_customer(request, customer_id: Id, version: Id | None = None):
    services.customer_delete(actor=actor_of(request), customer=_get(request, customer_id),
                             expected_version=version)
    return Status(204, None)


@router.post("/customers/{customer_id}/reveal-id-number",
             response={200: RevealOut, **ERROR_RESPONSES},
             summary="Show the clear ID number (audited)")
def reveal_id_number(request, customer_id: Id):
    value = services.customer_reveal_id_number(actor=actor_of(request),
                                               customer=_get(request, customer_id))
    return {"id_number": value}


# Identifiers and addresses ------------------------------------------------------------


@router.get("/customers/{customer_id}/identifiers",
            response={200: list[IdentifierOut], **ERROR_RESPONSES}, summary="Identifiers")
def list_identifiers(request, customer_id: Id):
    return selectors.customer_present(request.user, _get(request, customer_id))["identifiers"]


@router.post("/customers/{customer_id}/identifiers",
             response={201: IdentifierOut, **ERROR_RESPONSES}, summary="Add an identifier")
def add_identifier(request, customer_id: Id, payload: IdentifierIn):
    identifier = services.identifier_add(actor=actor_of(request),
                                         customer=_get(request, customer_id), **payload.dict())
    return Status(201, selectors.identifier_present(request.user, identifier))


@router.post("/customers/{customer_id}/identifiers/{identifier_id}/primary",
             response={200: IdentifierOut, **ERROR_RESPONSES}, summary="Make primary")
def make_identifier_primary(request, customer_id: Id, identifier_id: Id):
    customer = _get(request, customer_id)
    identifier = selectors.identifier_get(user=request.user, customer=customer,
                                          identifier_id=identifier_id)
    identifier = services.identifier_set_primary(actor=actor_of(request), identifier=identifier)
    return selectors.identifier_present(request.user, identifier)


@router.delete("/customers/{customer_id}/identifiers/{identifier_id}",
               response={204: None, **ERROR_RESPONSES}, summary="Remove an identifier")
def remove_identifier(request, customer_id: Id, identifier_id: Id):
    customer = _get(request, customer_id)
    identifier = selectors.identifier_get(user=request.user, customer=customer,
                                          identifier_id=identifier_id)
    services.identifier_remove(actor=actor_of(request), identifier=identifier)
    return Status(204, None)


@router.get("/customers/{customer_id}/addresses",
            response={200: list[AddressOut], **ERROR_RESPONSES}, summary="Addresses")
def list_addresses(request, customer_id: Id):
    return selectors.customer_present(request.user, _get(request, customer_id))["addresses"]


@router.post("/customers/{customer_id}/addresses",
             response={201: AddressOut, **ERROR_RESPONSES}, summary="Add an address")
def add_address(request, customer_id: Id, payload: AddressIn):
    address = services.address_set(actor=actor_of(request),
                                   customer=_get(request, customer_id), **payload.dict())
    return Status(201, selectors.address_present(request.user, address))


@router.put("/customers/{customer_id}/addresses/{address_id}",
            response={200: AddressOut, **ERROR_RESPONSES}, summary="Replace an address")
def replace_address(request, customer_id: Id, address_id: Id, payload: AddressIn):
    customer = _get(request, customer_id)
    address = selectors.address_get(user=request.user, customer=customer, address_id=address_id)
    address = services.address_set(actor=actor_of(request), customer=customer, address=address,
                                   **payload.dict())
    return selectors.address_present(request.user, address)


@router.delete("/customers/{customer_id}/addresses/{address_id}",
               response={204: None, **ERROR_RESPONSES}, summary="Remove an address")
def remove_address(request, customer_id: Id, address_id: Id):
    customer = _get(request, customer_id)
    address = selectors.address_get(user=request.user, customer=customer, address_id=address_id)
    services.address_remove(actor=actor_of(request), address=address)
    return Status(204, None)


# Organisation contacts and tags --------------------------------------------------------


@router.get("/customers/{customer_id}/contacts",
            response={200: list[ContactOut], **ERROR_RESPONSES},
            summary="An organisation's contacts")
def list_contacts(request, customer_id: Id):
    return selectors.customer_present(request.user, _get(request, customer_id))["contacts"]


@router.post("/customers/{customer_id}/contacts",
             response={201: ContactOut, **ERROR_RESPONSES},
             summary="Link a person as a contact of an organisation")
def save_contact(request, customer_id: Id, payload: ContactIn):
    organisation = _get(request, customer_id)
    person = _get(request, payload.person_id)
    link = services.contact_link_save(actor=actor_of(request), organisation=organisation,
                                      person=person, job_title=payload.job_title,
                                      decision_role=payload.decision_role,
                                      is_primary=payload.is_primary)
    return Status(201, selectors.contact_present(link))


@router.delete("/customers/{customer_id}/contacts/{link_id}",
               response={204: None, **ERROR_RESPONSES}, summary="Unlink a contact")
def remove_contact(request, customer_id: Id, link_id: Id):
    organisation = _get(request, customer_id)
    link = selectors.contact_link_get(user=request.user, organisation=organisation,
                                      link_id=link_id)
    services.contact_link_remove(actor=actor_of(request), link=link)
    return Status(204, None)


@router.get("/tags", response={200: list[TagOut], **ERROR_RESPONSES}, summary="All tags")
def list_tags(request, search: str = ""):
    request.user.access.require("customer.view")
    return list(selectors.tag_list(user=request.user, search=search)[:500])


@router.post("/customers/{customer_id}/tags", response={201: TagOut, **ERROR_RESPONSES},
             summary="Tag a customer")
def add_tag(request, customer_id: Id, payload: TagIn):
    tag = services.tag_add(actor=actor_of(request), customer=_get(request, customer_id),
                           name=payload.name)
    return Status(201, tag)


@router.delete("/customers/{customer_id}/tags/{tag_id}",
               response={204: None, **ERROR_RESPONSES}, summary="Untag a customer")
def remove_tag(request, customer_id: Id, tag_id: Id):
    customer = _get(request, customer_id)
    services.tag_remove(actor=actor_of(request), customer=customer,
                        tag=selectors.tag_get(user=request.user, tag_id=tag_id))
    return Status(204, None)


@router.post("/customers/bulk/assign-owner", response={200: CountOut, **ERROR_RESPONSES},
             summary="Reassign many customers")
def bulk_assign(request, payload: BulkAssignIn):
    owner = _owner(request, payload.owner_id)
    changed = services.customers_assign_owner(
        actor=actor_of(request), customer_ids=payload.customer_ids, owner=owner,
        team=_team(request, payload.team_id))
    return {"changed": changed}


@router.post("/customers/bulk/add-tag", response={200: CountOut, **ERROR_RESPONSES},
             summary="Tag many customers")
def bulk_tag(request, payload: BulkTagIn):
    changed = services.customers_add_tag(actor=actor_of(request),
                                         customer_ids=payload.customer_ids, name=payload.name)
    return {"changed": changed}


# Custom field definitions and saved views ----------------------------------------------


@router.get("/custom-fields", response={200: list[CustomFieldOut], **ERROR_RESPONSES},
            summary="Custom field definitions")
def list_custom_fields(request, include_inactive: Flag = False):
    return list(selectors.custom_field_list(user=request.user,
                                            include_inactive=include_inactive))


@router.post("/custom-fields", response={201: CustomFieldOut, **ERROR_RESPONSES},
             summary="Define a custom field")
def create_custom_field(request, payload: CustomFieldIn):
    return Status(201, services.custom_field_define(actor=actor_of(request), **payload.dict()))


@router.patch("/custom-fields/{field_id}", response={200: CustomFieldOut, **ERROR_RESPONSES},
              summary="Change a custom field (key and type are fixed)")
def update_custom_field(request, field_id: Id, payload: CustomFieldPatch):
    definition = selectors.custom_field_get(user=request.user, field_id=field_id)
    data = payload.dict(exclude_unset=True)
    current = {k: getattr(definition, k) for k in (
        "label", "applies_to", "required", "choices", "help_text", "validation", "position",
        "is_active")}
    current.update({k: v for k, v in data.items() if v is not None})
    return services.custom_field_update(actor=actor_of(request), definition=definition,
                                        **current)


@router.get("/saved-views", response={200: list[SavedViewOut], **ERROR_RESPONSES},
            summary="My saved list views and shared ones")
def list_saved_views(request):
    return list(selectors.saved_view_list(user=request.user))


@router.post("/saved-views", response={201: SavedViewOut, **ERROR_RESPONSES},
             summary="Save a list view")
def create_saved_view(request, payload: SavedViewIn):
    return Status(201, services.saved_view_save(actor=actor_of(request), **payload.dict()))


@router.put("/saved-views/{view_id}", response={200: SavedViewOut, **ERROR_RESPONSES},
            summary="Replace a saved view")
def replace_saved_view(request, view_id: Id, payload: SavedViewIn):
    view = selectors.saved_view_get(user=request.user, view_id=view_id)
    return services.saved_view_save(actor=actor_of(request), view=view, **payload.dict())


@router.delete("/saved-views/{view_id}", response={204: None, **ERROR_RESPONSES},
               summary="Delete a saved view")
def delete_saved_view(request, view_id: Id):
    view = selectors.saved_view_get(user=request.user, view_id=view_id)
    services.saved_view_delete(actor=actor_of(request), view=view)
    return Status(204, None)


# The form designer's endpoints (/form-layouts, /field-rules) live beside these.
from kehu.customers.designer_api import router as _designer_router  # noqa: E402

router.add_router("", _designer_router)
