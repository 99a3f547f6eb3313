"""The customer card page: header, identity with inline edit, one timeline, tabs.

Thin: the card selector gathers everything; edits go through the customers services.
"""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from kehu.accounts import selectors as account_selectors
from kehu.assignment import selectors as assignment_selectors
from kehu.cards import selectors
from kehu.cards.forms import AddressForm, ContactForm, IdentifierForm
from kehu.core.actor import Actor
from kehu.core.errors import Conflict, DomainError
from kehu.core.pages import requires, show_errors
from kehu.customers import selectors as customer_selectors
from kehu.customers import services as customer_services
from kehu.customers.duplicates import form_duplicate_check
from kehu.customers.forms import CustomerForm, conflict_rows, customer_form_initial
from kehu.customers.layouts import form_options
from kehu.customers.models import Customer
from kehu.identity import selectors as identity_selectors

# Lazy: built at import, read in the language of each request.
TIMELINE_FILTERS = [("interaction", gettext_lazy("Interactions")), ("event", gettext_lazy("Events")),
                    ("order", gettext_lazy("Orders")), ("ticket", gettext_lazy("Tickets"))]


def _kinds(request) -> set[str]:
    return {k for k in request.GET.getlist("kind") if k in selectors.TIMELINE_KINDS}


@requires("customer.view")
def card(request, customer_id: int):
    data = selectors.customer_card(user=request.user, customer_id=customer_id)
    can_merge = request.user.access.can("customer.merge")
    return render(request, "cards/card.html", {
        "card_merges": identity_selectors.customer_merges(user=request.user,
                                                          customer_id=customer_id),
        "card_duplicates": identity_selectors.customer_pending_candidates(
            user=request.user, customer_id=customer_id) if can_merge else [],
        "can_merge": can_merge,
        "card": data, "c": data.customer, "timeline": data.timeline,
        "card_assignment": assignment_selectors.card_assignment(user=request.user,
                                                                customer_id=customer_id),
        "identity_sections": selectors.identity_sections(
            user=request.user, customer=selectors.card_customer(user=request.user,
                                                                customer_id=customer_id),
            custom_fields=data.custom_fields),
        "identifier_form": IdentifierForm(), "address_form": AddressForm(),
        "contact_form": ContactForm(),
        "customer_ref": {"pk": data.customer["id"]},
        "can_log": request.user.access.can("interaction.add"),
        "can_order": request.user.access.can("order.manage"),
        "can_insights": request.user.access.can("scoring.view"),
        "can_ticket": request.user.access.can("ticket.manage"),
        "can_deal": request.user.access.can("deal.manage"),
        "timeline_filters": TIMELINE_FILTERS, "kinds": set(),
    })


@requires("customer.view")
def card_follow_ups(request, customer_id: int):
    """The follow-up tab, reloaded when a change elsewhere on the card (logging an
    interaction with a next follow-up) announces `followUpsChanged`."""
    customer = selectors.card_customer(user=request.user, customer_id=customer_id)
    return render(request, "cards/_follow_ups.html", {
        "follow_ups": selectors.card_follow_ups(user=request.user, customer=customer),
        "oob_count": True})


@requires("customer.view")
def card_timeline(request, customer_id: int):
    """One more page of the timeline (htmx: scrolled to the end, or a type filter changed)."""
    customer = selectors.card_customer(user=request.user, customer_id=customer_id)
    cursor = request.GET.get("cursor") or None
    kinds = _kinds(request)
    page = selectors.card_timeline(user=request.user, customer=customer, kinds=kinds or None,
                                   cursor=cursor)
    template = "cards/_timeline_page.html" if cursor else "cards/_timeline.html"
    return render(request, template, {"timeline": page, "c": {"id": customer.pk},
                                      "kinds": kinds, "timeline_filters": TIMELINE_FILTERS})


@requires("customer.view")
def identity(request, customer_id: int):
    return _identity_block(request, customer_id)


def _identity_block(request, customer_id: int, *, error=None, saved: bool = False):
    """The identity block as the user may see it, with the row forms when they may edit."""
    customer = customer_selectors.customer_get(user=request.user, customer_id=customer_id)
    custom_fields = selectors.custom_field_values(user=request.user, customer=customer)
    return render(request, "cards/_identity.html", {
        "c": customer_selectors.customer_present(request.user, customer),
        "custom_fields": custom_fields,
        "identity_sections": selectors.identity_sections(user=request.user, customer=customer,
                                                         custom_fields=custom_fields),
        "identifier_form": IdentifierForm(), "address_form": AddressForm(),
        "row_error": error, "saved": saved})


def _row_error(exc: DomainError) -> str:
    details = exc.details if isinstance(exc.details, dict) else {}
    messages = [str(m) for value in details.values() if isinstance(value, list | tuple)
                for m in value]
    return " ".join(messages) or str(exc.message)


@requires("customer.change")
@require_POST
def identifier_add(request, customer_id: int):
    customer = customer_selectors.customer_get(user=request.user, customer_id=customer_id)
    form = IdentifierForm(request.POST)
    if not form.is_valid():
        return _identity_block(request, customer_id, error=_("Choose a kind and enter a value."))
    try:
        customer_services.identifier_add(actor=Actor.from_request(request), customer=customer,
                                         **form.cleaned_data)
    except DomainError as exc:
        return _identity_block(request, customer_id, error=_row_error(exc))
    return _identity_block(request, customer_id, saved=True)


@requires("customer.change")
@require_POST
def identifier_remove(request, customer_id: int, identifier_id: int):
    customer = customer_selectors.customer_get(user=request.user, customer_id=customer_id)
    identifier = customer_selectors.identifier_get(user=request.user, customer=customer,
                                                   identifier_id=identifier_id)
    try:
        customer_services.identifier_remove(actor=Actor.from_request(request),
                                            identifier=identifier)
    except DomainError as exc:
        return _identity_block(request, customer_id, error=_row_error(exc))
    return _identity_block(request, customer_id, saved=True)


@requires("customer.change")
@require_POST
def address_add(request, customer_id: int):
    customer = customer_selectors.customer_get(user=request.user, customer_id=customer_id)
    form = AddressForm(request.POST)
    if not form.is_valid():
        return _identity_block(request, customer_id, error=_("Enter the address."))
    try:
        customer_services.address_set(actor=Actor.from_request(request), customer=customer,
                                      raw=form.cleaned_data["raw"],
                                      label=form.cleaned_data["label"], is_primary=True)
    except DomainError as exc:
        return _identity_block(request, customer_id, error=_row_error(exc))
    return _identity_block(request, customer_id, saved=True)


@requires("customer.change")
@require_POST
def address_remove(request, customer_id: int, address_id: int):
    customer = customer_selectors.customer_get(user=request.user, customer_id=customer_id)
    address = customer_selectors.address_get(user=request.user, customer=customer,
                                             address_id=address_id)
    try:
        customer_services.address_remove(actor=Actor.from_request(request), address=address)
    except DomainError as exc:
        return _identity_block(request, customer_id, error=_row_error(exc))
    return _identity_block(request, customer_id, saved=True)


@requires("customer.change")
@require_POST
def contact_add(request, customer_id: int):
    """Link a person to this organisation; the person is found by name or phone."""
    organisation = customer_selectors.customer_get(user=request.user, customer_id=customer_id)
    form = ContactForm(request.POST)
    error = None
    if form.is_valid():
        matches = customer_selectors.customer_list(
            user=request.user, limit=2,
            filters=customer_selectors.CustomerFilters(q=form.cleaned_data["person"],
                                                       kind=Customer.KIND_PERSON)).items
        if len(matches) != 1:
            error = (_("No person matches “%s”.") if not matches else
                     _("Several people match “%s”; type more of the name or the phone."))
            error = error % form.cleaned_data["person"]
        else:
            try:
                customer_services.contact_link_save(
                    actor=Actor.from_request(request), organisation=organisation,
                    person=matches[0], job_title=form.cleaned_data["job_title"],
                    decision_role=form.cleaned_data["decision_role"],
                    is_primary=form.cleaned_data["is_primary"])
            except DomainError as exc:
                error = _row_error(exc)
    else:
        error = _("Enter a person to link.")
    return _contacts_panel(request, organisation.pk, error=error)


@requires("customer.change")
@require_POST
def contact_remove(request, customer_id: int, link_id: int):
    organisation = customer_selectors.customer_get(user=request.user, customer_id=customer_id)
    link = customer_selectors.contact_link_get(user=request.user, organisation=organisation,
                                               link_id=link_id)
    customer_services.contact_link_remove(actor=Actor.from_request(request), link=link)
    return _contacts_panel(request, organisation.pk)


def _contacts_panel(request, organisation_id: int, *, error=None) -> HttpResponse:
    organisation = customer_selectors.customer_get(user=request.user, customer_id=organisation_id)
    return render(request, "cards/_contacts.html", {
        "c": customer_selectors.customer_present(request.user, organisation),
        "contact_form": ContactForm(), "row_error": error})


def _identity_form(request, customer: Customer, data=None) -> CustomerForm:
    definitions = customer_selectors.custom_field_list(user=request.user, kind=customer.kind)
    presented = customer_selectors.customer_present(request.user, customer)
    initial = customer_form_initial(customer, wechat=presented.get("wechat") or "")
    definitions = list(definitions)
    return CustomerForm(data, initial=initial, kind=customer.kind, access=request.user.access,
                        definitions=definitions,
                        users=account_selectors.user_list(user=request.user), editing=True,
                        **form_options(user=request.user, kind=customer.kind,
                                       definitions=definitions, customer=customer))


@requires("customer.change")
def identity_edit(request, customer_id: int):
    """Inline edit of the identity block. A stale version shows the other person's change
    (their values, field by field) instead of overwriting it."""
    customer = customer_selectors.customer_get(user=request.user, customer_id=customer_id)
    form = _identity_form(request, customer, request.POST if request.method == "POST" else None)
    conflict = duplicates = None
    if request.method == "POST" and form.is_valid():
        changes = form.changes()
        if not changes.get("id_number"):
            changes.pop("id_number", None)  # blank keeps the stored number (never shown in clear)
        duplicates = form_duplicate_check(
            user=request.user, changes=changes, kind=customer.kind, customer=customer,
            changed=form.changed_data, confirmed=bool(request.POST.get("duplicate_ok")))
    if request.method == "POST" and form.is_valid() and duplicates is None:
        try:
            customer_services.customer_update(
                actor=Actor.from_request(request), customer=customer,
                expected_version=form.cleaned_data.get("version"), changes=changes)
        except Conflict as exc:
            conflict = conflict_rows(exc.details, form)
            data = request.POST.copy()
            data["version"] = exc.details.get("version")
            form = _identity_form(request, customer, data)
            form.is_valid()
        except DomainError as exc:
            show_errors(form, exc)
        else:
            return _identity_block(request, customer_id, saved=True)
    return render(request, "cards/_identity_form.html", {
        "form": form, "c": {"id": customer.pk, "name": customer.name},
        "conflict": conflict, "id_number_masked": customer.id_number_masked,
        "duplicates": duplicates, "existing_id": customer.pk,
        "can_merge": request.user.access.can("customer.merge")})
