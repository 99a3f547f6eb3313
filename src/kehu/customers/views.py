"""Customer pages: the list (live search, filters, columns, saved views, bulk actions), the
create and edit forms, caller lookup and the custom-field admin. Thin: selectors and services."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.http import QueryDict
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.accounts import selectors as account_selectors
from kehu.core.actor import Actor
from kehu.core.errors import Conflict, DomainError, NotFound, PermissionDenied, RateLimited
from kehu.core.normalize import REGIONS
from kehu.core.pages import requires, show_errors
from kehu.customers import selectors, services
from kehu.customers.duplicates import form_duplicate_check
from kehu.customers.fields import LIST_COLUMNS, LIST_FILTERS
from kehu.customers.forms import (
    BulkForm,
    CustomerForm,
    CustomFieldForm,
    SavedViewForm,
    conflict_rows,
    customer_form_initial,
)
from kehu.customers.layouts import form_options
from kehu.customers.listing import (
    DEFAULT_COLUMNS,
    cell_value,
    choice_labels,
    filters_from_query,
    list_columns,
)
from kehu.customers.models import Customer

SORTABLE = {"name": "name", "region": "region", "lifecycle_stage": "lifecycle_stage",
            "created_at": "created_at", "updated_at": "updated_at"}


def card_url(customer_id: int) -> str:
    """The customer card (served by the cards app); its literal path until that exists."""
    try:
        return reverse("cards:card", args=[customer_id])
    except NoReverseMatch:
        return f"/customers/{customer_id}/"


def _query(params: QueryDict, **overrides) -> str:
    data = params.copy()
    for key, value in overrides.items():
        data.pop(key, None)
        if value not in (None, ""):
            data[key] = value
    return data.urlencode()


@requires("customer.view")
def customer_list(request):
    params = request.GET
    view_id = params.get("view", "")
    if view_id.isdigit() and len(params) == 1:
        try:
            saved = selectors.saved_view_get(user=request.user, view_id=int(view_id))
        except NotFound:
            pass
        else:
            return redirect(f"{reverse('customers:list')}?{urlencode(saved.params, doseq=True)}")
    definitions = list(selectors.custom_field_list(user=request.user))
    columns_available = list_columns()
    for d in definitions:
        columns_available[f"custom.{d.key}"] = d.label
    # A column hidden for the caller (the access policy's field rule) is not offered.
    columns_available = {key: label for key, label in columns_available.items()
                         if not request.user.access.is_hidden(selectors.policy_name(key))}
    columns = [c for c in params.getlist("cols") if c in columns_available] or [
        c for c in DEFAULT_COLUMNS if c in columns_available]
    error = None
    try:
        page = selectors.customer_list(user=request.user, filters=filters_from_query(params, definitions),
                                       sort=params.get("sort", "-created_at"),
                                       cursor=params.get("cursor") or None,
                                       limit=50, with_count=params.get("count") == "1",
                                       actor=Actor.from_request(request))
    except DomainError as exc:
        page, error = None, exc
    rows, labels = [], choice_labels()
    for customer in page.items if page else []:
        data = selectors.customer_present(request.user, customer, detail=False)
        data["card_url"] = card_url(customer.pk)
        data["cells"] = [_cell(data, column, labels) for column in columns]
        rows.append(data)
    sort = page.sort if page else "-created_at"
    headers = []
    for column in columns:
        key = SORTABLE.get(column)
        header = {"key": column, "label": columns_available[column], "sort_url": None,
                  "direction": None}
        if key:
            header["direction"] = ("desc" if sort == f"-{key}" else "asc" if sort == key
                                   else None)
            next_sort = key if sort == f"-{key}" else f"-{key}"
            header["sort_url"] = "?" + _query(params, sort=next_sort, cursor=None)
        headers.append(header)
    context = {
        "rows": rows, "headers": headers, "page": page, "error": error,
        "params": params, "columns": columns, "columns_available": columns_available,
        "definitions": definitions, "regions": REGIONS,
        "lifecycles": Customer.LIFECYCLE_STAGES, "kinds": Customer.KINDS,
        "next_url": "?" + _query(params, cursor=page.next_cursor) if page and page.next_cursor
        else None,
        "first_url": "?" + _query(params, cursor=None) if params.get("cursor") else None,
        "query": params.urlencode(),
        "saved_views": selectors.saved_view_list(user=request.user),
        "saved_view_form": SavedViewForm(initial={"params": params.urlencode()}),
        "users": account_selectors.user_list(user=request.user),
        "teams": account_selectors.team_list(user=request.user),
        "can_assign": request.user.access.can("customer.assign"),
        "can_tag": request.user.access.can("segment.manage"),
        "can_add": request.user.access.can("customer.add"),
        "can_share": request.user.access.can("segment.manage"),
        "custom_filters": [(d, params.get(f"cf_{d.key}", "")) for d in definitions],
        "extra_filters": [
            {"key": f.key, "label": f.label, "widget": f.widget, "current": params.get(f.key, ""),
             "choices": f.choices() if f.choices else []}
            for f in LIST_FILTERS.values()
            if not f.permission or request.user.access.can(f.permission)],
    }
    template = "customers/_results.html" if request.htmx else "customers/list.html"
    return render(request, template, context)


def _cell(data: dict, column: str, labels: dict):
    if column == "tags" and data["tags"]:
        # Coloured like on the card (list.js paints data-color; no inline styles under the CSP).
        return format_html('<span class="tags">{}</span>', format_html_join(
            "", '<span class="tag" data-color="{}">{}</span>',
            ((t["color"], t["name"]) for t in data["tags"])))
    value = cell_value(data, column, labels=labels)
    if column in ("created_at", "updated_at") and value:
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    for columns in LIST_COLUMNS.values():
        if column in columns.columns and columns.display is not None and value is not None:
            return columns.display(column, value)
    return value


def _form(request, *, kind, customer=None, initial=None, data=None):
    definitions = list(selectors.custom_field_list(user=request.user))
    return CustomerForm(
        data if data is not None else (request.POST or None), initial=initial, kind=kind,
        access=request.user.access, definitions=definitions,
        users=account_selectors.user_list(user=request.user), editing=customer is not None,
        **form_options(user=request.user, kind=kind, definitions=definitions,
                       customer=customer))


@requires("customer.add")
def customer_create(request):
    kind = request.GET.get("kind") or request.POST.get("kind") or Customer.KIND_PERSON
    if kind not in dict(Customer.KINDS):
        kind = Customer.KIND_PERSON
    form = _form(request, kind=kind, initial={"lifecycle_stage": "lead"})
    duplicates = None
    if request.method == "POST" and form.is_valid():
        changes = form.changes()
        choice = request.POST.get("duplicate_ok", "")
        duplicates = form_duplicate_check(user=request.user, changes=changes, kind=kind,
                                          confirmed=bool(choice))
        if duplicates is None:
            try:
                customer = services.customer_create(actor=Actor.from_request(request), kind=kind,
                                                    **{k: v for k, v in changes.items()
                                                       if v not in (None, "")})
            except DomainError as exc:
                show_errors(form, exc)
            else:
                messages.success(request, _("Customer %s created.") % customer.name)
                other = choice.removeprefix("merge:")
                if choice.startswith("merge:") and other.isdigit():
                    return redirect(f"{reverse('identity:compare')}?ids={customer.pk},{other}")
                return redirect(card_url(customer.pk))
    title = _("New organisation") if kind == Customer.KIND_ORGANISATION else _("New person")
    return render(request, "customers/form.html", {
        "form": form, "title": title, "kind": kind, "duplicates": duplicates,
        "can_merge": request.user.access.can("customer.merge")})


def _initial(request, customer: Customer) -> dict:
    wechat = selectors.customer_present(request.user, customer).get("wechat") or ""
    return customer_form_initial(customer, wechat=wechat)


@requires("customer.change")
def customer_edit(request, customer_id: int):
    customer = selectors.customer_get(user=request.user, customer_id=customer_id)
    form = _form(request, kind=customer.kind, customer=customer,
                 initial=_initial(request, customer))
    conflict = duplicates = None
    if request.method == "POST" and form.is_valid():
        changes = form.changes()
        if not changes.get("id_number"):
            changes.pop("id_number", None)  # blank means "keep": the clear value is never shown
        duplicates = form_duplicate_check(
            user=request.user, changes=changes, kind=customer.kind, customer=customer,
            changed=form.changed_data, confirmed=bool(request.POST.get("duplicate_ok")))
    if request.method == "POST" and form.is_valid() and duplicates is None:
        try:
            services.customer_update(actor=Actor.from_request(request), customer=customer,
                                     expected_version=form.cleaned_data.get("version"),
                                     changes=changes)
        except Conflict as exc:
            conflict = conflict_rows(exc.details, form)
            # Let them review what changed and save again on top of the current version.
            data = request.POST.copy()
            data["version"] = exc.details.get("version")
            form = _form(request, kind=customer.kind, customer=customer,
                         initial=_initial(request, customer), data=data)
            form.is_valid()
        except DomainError as exc:
            show_errors(form, exc)
        else:
            messages.success(request, _("Customer %s saved.") % customer.name)
            return redirect(card_url(customer.pk))
    return render(request, "customers/form.html", {
        "form": form, "customer": customer, "kind": customer.kind, "conflict": conflict,
        "title": _("Edit %s") % customer.name,
        "id_number_masked": customer.id_number_masked, "duplicates": duplicates,
        "existing_id": customer.pk, "can_merge": request.user.access.can("customer.merge")})


@requires("customer.view")
def customer_lookup(request):
    """Caller lookup: a phone in any format goes straight to the card."""
    value = request.GET.get("phone", "").strip()
    list_url = reverse("customers:list")
    if not value:
        return redirect(list_url)
    try:
        found = services.customer_sensitive_lookup(
            actor=Actor.from_request(request), by="phone",
            find=lambda: selectors.customer_lookup(user=request.user, phone=value))
    except (PermissionDenied, RateLimited) as exc:
        messages.error(request, str(exc.message))
        return redirect(list_url)
    except DomainError:
        found = None  # not a whole phone number (e.g. the last four): search the list
    if found is not None:
        return redirect(card_url(found.pk))
    messages.info(request, _("No customer with that number; showing search results."))
    return redirect(f"{list_url}?{urlencode({'q': value})}")


def _back(request, fallback: str) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return fallback


@require_POST
@requires("customer.view")
def customer_bulk(request):
    form = BulkForm(request.POST)
    back = _back(request, reverse("customers:list"))
    if not form.is_valid():
        messages.error(request, _("Select customers and an action."))
        return redirect(back)
    data, actor = form.cleaned_data, Actor.from_request(request)
    try:
        if data["action"] == "assign":
            owner = account_selectors.user_get(user=request.user, user_id=data["owner"] or 0)
            changed = services.customers_assign_owner(actor=actor, customer_ids=data["ids"],
                                                      owner=owner)
            messages.success(request, _("%(n)d customers reassigned to %(owner)s.") % {
                "n": changed, "owner": owner})
        else:
            changed = services.customers_add_tag(actor=actor, customer_ids=data["ids"],
                                                 name=data["tag"] or "")
            messages.success(request, _("Tag added to %(n)d customers.") % {"n": changed})
    except DomainError as exc:
        details = exc.details if isinstance(exc.details, dict) else {}
        text = "; ".join(str(m) for msgs in details.values() if isinstance(msgs, list)
                         for m in msgs) or str(exc.message)
        messages.error(request, text)
    return redirect(back)


@require_POST
@requires("customer.view")
def saved_view_save(request):
    form = SavedViewForm(request.POST)
    back = reverse("customers:list")
    if form.is_valid():
        params = {k: v if len(v) > 1 else v[0] for k, v in QueryDict(
            form.cleaned_data["params"]).lists() if k not in ("cursor", "view")}
        try:
            view = services.saved_view_save(actor=Actor.from_request(request),
                                            name=form.cleaned_data["name"], params=params,
                                            shared=form.cleaned_data["shared"])
        except DomainError as exc:
            messages.error(request, "; ".join(
                str(m) for msgs in exc.details.values() for m in msgs)
                if isinstance(exc.details, dict) and exc.details else str(exc.message))
        else:
            messages.success(request, _("View “%s” saved.") % view.name)
            return redirect(f"{back}?view={view.pk}")
    return redirect(back)


@require_POST
@requires("customer.view")
def saved_view_delete(request, view_id: int):
    view = selectors.saved_view_get(user=request.user, view_id=view_id)
    try:
        services.saved_view_delete(actor=Actor.from_request(request), view=view)
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("View deleted."))
    return redirect("customers:list")


@require_POST
@requires("customer.view")
def reveal_id_number(request, customer_id: int):
    """htmx: swap the masked ID number for the clear one (audited by the service)."""
    customer = selectors.customer_get(user=request.user, customer_id=customer_id)
    value = services.customer_reveal_id_number(actor=Actor.from_request(request),
                                               customer=customer)
    return render(request, "customers/_revealed.html", {"value": value})


@requires("customfield.manage")
def custom_fields(request):
    form = CustomFieldForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.definition_data()
        data.pop("is_active", None)
        try:
            services.custom_field_define(actor=Actor.from_request(request),
                                         key=form.cleaned_data["key"],
                                         field_type=form.cleaned_data["field_type"], **data)
        except DomainError as exc:
            show_errors(form, exc)
        else:
            messages.success(request, _("Custom field added."))
            return redirect("customers:fields")
    return render(request, "customers/fields.html", {
        "form": form,
        "definitions": selectors.custom_field_list(user=request.user, include_inactive=True)})


@requires("customfield.manage")
def custom_field_edit(request, field_id: int):
    definition = selectors.custom_field_get(user=request.user, field_id=field_id)
    rules = definition.validation or {}
    initial = {"label": definition.label, "applies_to": definition.applies_to,
               "required": definition.required, "help_text": definition.help_text,
               "choices": "\n".join(map(str, definition.choices or [])),
               "position": definition.position, "is_active": definition.is_active, **rules}
    form = CustomFieldForm(request.POST or None, initial=initial, editing=True)
    if request.method == "POST" and form.is_valid():
        try:
            services.custom_field_update(actor=Actor.from_request(request),
                                         definition=definition,
                                         is_active=form.cleaned_data["is_active"],
                                         **form.definition_data())
        except DomainError as exc:
            show_errors(form, exc)
        else:
            messages.success(request, _("Custom field saved."))
            return redirect("customers:fields")
    return render(request, "customers/field_form.html", {"form": form,
                                                         "definition": definition})
