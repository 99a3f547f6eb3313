"""Pages of quotes (with print view and PDF), contracts (status, plan, payments,
attachments, invoice requests), receivables aging and the forecast with targets."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.contrib.staticfiles import finders
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.accounts import selectors as accounts
from kehu.core.actor import Actor
from kehu.core.errors import DomainError
from kehu.core.pages import requires, show_errors
from kehu.pipeline import selectors, services
from kehu.pipeline.api_contracts import attachment_response
from kehu.pipeline.forecast import month_start
from kehu.pipeline.forms import (
    AttachmentForm,
    ContractForm,
    ContractStatusForm,
    InstalmentFormSet,
    InvoiceForm,
    InvoiceStatusForm,
    PaymentForm,
    QuoteForm,
    QuoteLineFormSet,
    TargetForm,
)
from kehu.pipeline.models import Contract, Quote
from kehu.pipeline.pdf import PdfUnavailable, render_pdf
from kehu.pipeline.views import found


def _say(request, exc: DomainError) -> None:
    details = exc.details if isinstance(exc.details, dict) else {}
    texts = [str(m) for ms in details.values() for m in (ms if isinstance(ms, list) else [ms])]
    messages.error(request, "; ".join(texts) or str(exc.message))


def company() -> dict[str, str]:
    """The seller's header on quotes (settings or environment KEHU_COMPANY_*)."""
    def get(name: str) -> str:
        return getattr(settings, name, "") or os.environ.get(name, "")

    return {"name": get("KEHU_COMPANY_NAME") or _("Our company"),
            "address": get("KEHU_COMPANY_ADDRESS"), "phone": get("KEHU_COMPANY_PHONE"),
            "tax_number": get("KEHU_COMPANY_TAX_NUMBER")}


# Quotes --------------------------------------------------------------------------------------


def _line_rows(formset) -> list[dict]:
    rows = []
    for form in formset.forms:
        data = form.cleaned_data if hasattr(form, "cleaned_data") else {}
        if not data or not data.get("product"):
            continue
        rows.append({"product": data["product"], "quantity": data.get("quantity") or 1,
                     "unit_price": data.get("unit_price"), "discount": data.get("discount") or 0,
                     "tax_rate": data.get("tax_rate") or "13%"})
    return rows


@requires("deal.manage")
def quote_edit(request, quote_id: int | None = None):
    """A new quote (?deal=ID) or a draft's lines, validity and notes."""
    user = request.user
    quote = found(selectors.quote_get, user, quote_id) if quote_id else None
    deal = quote.deal if quote else found(selectors.deal_get, user, int(
        request.GET.get("deal") or request.POST.get("deal") or 0))
    products = selectors.product_choices(user)
    initial_lines = ([{"product": line.product_id, "quantity": line.quantity,
                       "unit_price": line.unit_price, "discount": line.discount,
                       "tax_rate": f"{int(line.tax_rate * 100)}%"} for line in quote.lines.all()]
                     if quote else [])
    form = QuoteForm(request.POST or None, initial={
        "valid_until": quote.valid_until if quote else timezone.localdate() + dt.timedelta(
            days=30), "notes": quote.notes if quote else ""})
    lines = QuoteLineFormSet(request.POST or None, prefix="lines", initial=initial_lines,
                             form_kwargs={"products": products})
    if request.method == "POST" and form.is_valid() and lines.is_valid():
        actor = Actor.from_request(request)
        try:
            if quote is None:
                quote = services.quote_create(actor=actor, deal=deal, lines=_line_rows(lines),
                                              **form.cleaned_data)
            else:
                services.quote_update(actor=actor, quote=quote, lines=_line_rows(lines),
                                      **form.cleaned_data)
        except DomainError as exc:
            show_errors(form, exc)
        else:
            messages.success(request, _("Quote saved."))
            return redirect("pipeline:quote", quote.pk)
    return render(request, "pipeline/quote_form.html", {"form": form, "lines": lines,
                                                        "deal": deal, "quote": quote})


@requires("customer.view")
def quote_detail(request, quote_id: int):
    quote = found(selectors.quote_get, request.user, quote_id)
    return render(request, "pipeline/quote_detail.html", {
        "quote": quote, "lines": list(quote.lines.all()),
        "versions": selectors.quote_list(request.user).filter(number=quote.number)
        .order_by("version"),
        "contracts": quote.contracts.all(),
        "can_manage": request.user.access.can("deal.manage"), "today": timezone.localdate()})


QUOTE_ACTIONS = {"send": services.quote_send, "accept": services.quote_accept,
                 "reject": services.quote_reject, "expire": services.quote_expire}


@require_POST
@requires("deal.manage")
def quote_action(request, quote_id: int, action: str):
    quote = found(selectors.quote_get, request.user, quote_id)
    actor = Actor.from_request(request)
    try:
        if action == "revise":
            quote = services.quote_revise(actor=actor, quote=quote)
        elif action in QUOTE_ACTIONS:
            quote = QUOTE_ACTIONS[action](actor=actor, quote=quote)
        else:
            raise DomainError(_("Unknown action."))
    except DomainError as exc:
        _say(request, exc)
    else:
        messages.success(request, _("Quote %(number)s v%(version)s: %(status)s.") % {
            "number": quote.number, "version": quote.version,
            "status": quote.get_status_display()})
    return redirect("pipeline:quote", quote.pk)


def _print_context(request, quote: Quote) -> dict:
    return {"quote": quote, "lines": list(quote.lines.all()), "company": company(),
            "deal": quote.deal, "customer": quote.deal.customer}


@requires("customer.view")
def quote_print(request, quote_id: int):
    """The printable quote (A4 CSS); works wherever a browser does."""
    quote = found(selectors.quote_get, request.user, quote_id)
    return render(request, "pipeline/quote_print.html", _print_context(request, quote))


@requires("customer.view")
def quote_pdf(request, quote_id: int):
    """The same page as a PDF; without Pango, the quote page explains instead of failing."""
    quote = found(selectors.quote_get, request.user, quote_id)
    css = Path(finders.find("pipeline/quote_print.css")).read_text(encoding="utf-8")
    html = render_to_string("pipeline/quote_print.html",
                            {**_print_context(request, quote), "pdf": True, "print_css": css},
                            request)
    try:
        pdf = render_pdf(html, base_url=request.build_absolute_uri("/"))
    except PdfUnavailable as exc:
        messages.error(request, str(exc.message))
        return redirect("pipeline:quote", quote.pk)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = (f'inline; filename="{quote.number}-v{quote.version}'
                                       f'.pdf"')
    return response


# Contracts -----------------------------------------------------------------------------------


@requires("customer.view")
def contract_list(request):
    status = request.GET.get("status", "")
    if status not in dict(Contract.STATUSES):
        status = ""
    rows = selectors.contract_list(request.user, status=status,
                                   search=request.GET.get("q", "")[:100])[:200]
    return render(request, "pipeline/contract_list.html", {
        "contracts": rows, "statuses": Contract.STATUSES, "status": status,
        "q": request.GET.get("q", "")})


@requires("deal.manage")
def contract_create(request):
    """A draft contract from an accepted quote (?quote=ID) or for a deal (?deal=ID)."""
    user = request.user
    source = request.GET if request.method == "GET" else request.POST
    quote = found(selectors.quote_get, user, int(source["quote"])) if source.get(
        "quote", "").isdigit() else None
    deal = quote.deal if quote else (found(selectors.deal_get, user, int(source["deal"]))
                                     if source.get("deal", "").isdigit() else None)
    if deal is None:
        messages.error(request, _("Open a contract from a deal or an accepted quote."))
        return redirect("pipeline:contracts")
    start = timezone.localdate()
    form = ContractForm(request.POST or None, initial={
        "title": deal.title, "amount": quote.total if quote else deal.amount,
        "party_b": deal.customer.name, "party_a": company()["name"], "start_date": start,
        "end_date": start.replace(year=start.year + 1) - dt.timedelta(days=1)
        if not (start.month == 2 and start.day == 29) else start + dt.timedelta(days=364)})
    if request.method == "POST" and form.is_valid():
        try:
            contract = services.contract_create(actor=Actor.from_request(request), quote=quote,
                                                deal=deal, **form.cleaned_data)
        except DomainError as exc:
            show_errors(form, exc)
        else:
            messages.success(request, _("Contract %s created.") % contract.number)
            return redirect("pipeline:contract", contract.pk)
    return render(request, "pipeline/contract_form.html", {"form": form, "deal": deal,
                                                           "quote": quote})


@requires("customer.view")
def contract_detail(request, contract_id: int):
    contract = found(selectors.contract_get, request.user, contract_id)
    plan = list(contract.instalments.all())
    return render(request, "pipeline/contract_detail.html", {
        "contract": contract, "plan": plan, "payments": list(contract.payments.all()),
        "invoices": list(contract.invoice_requests.all()),
        "attachments": list(contract.attachments.all()),
        "paid": sum((i.paid_amount for i in plan), 0),
        "status_form": ContractStatusForm(), "payment_form": PaymentForm(initial={
            "received_on": timezone.localdate()}),
        "plan_forms": InstalmentFormSet(prefix="plan", initial=[
            {"due_date": i.due_date, "amount": i.amount} for i in plan]),
        "attachment_form": AttachmentForm(), "invoice_form": InvoiceForm(initial={
            "buyer_name": contract.party_b}),
        "invoice_status_form": InvoiceStatusForm(), "today": timezone.localdate(),
        "can_manage": request.user.access.can("deal.manage")})


@require_POST
@requires("deal.manage")
def contract_post(request, contract_id: int, action: str):
    """The contract page's forms: status, plan, payment, attachment, invoice request."""
    contract = found(selectors.contract_get, request.user, contract_id)
    actor = Actor.from_request(request)
    try:
        if action == "status":
            form = ContractStatusForm(request.POST)
            if form.is_valid():
                services.contract_set_status(actor=actor, contract=contract,
                                             **form.cleaned_data)
                messages.success(request, _("Status changed."))
        elif action == "plan":
            forms = InstalmentFormSet(request.POST, prefix="plan")
            if forms.is_valid():
                rows = [f.cleaned_data for f in forms.forms
                        if f.cleaned_data.get("due_date") or f.cleaned_data.get("amount")]
                services.payment_plan_set(actor=actor, contract=contract, instalments=rows)
                messages.success(request, _("Payment plan saved."))
        elif action == "payment":
            form = PaymentForm(request.POST)
            if form.is_valid():
                services.payment_record(actor=actor, contract=contract, **form.cleaned_data)
                messages.success(request, _("Payment recorded."))
            else:
                messages.error(request, "; ".join(str(e) for errs in form.errors.values()
                                                  for e in errs))
        elif action == "attach":
            form = AttachmentForm(request.POST, request.FILES)
            if form.is_valid():
                upload = form.cleaned_data["file"]
                services.contract_attach(actor=actor, contract=contract, file=upload,
                                         filename=upload.name,
                                         content_type=upload.content_type or "")
                messages.success(request, _("File attached."))
        elif action == "invoice":
            form = InvoiceForm(request.POST)
            if form.is_valid():
                services.invoice_request_create(actor=actor, contract=contract,
                                                **form.cleaned_data)
                messages.success(request, _("Invoice requested."))
    except DomainError as exc:
        _say(request, exc)
    return redirect("pipeline:contract", contract.pk)


@require_POST
@requires("deal.manage")
def invoice_status(request, request_id: int):
    row = found(selectors.invoice_request_get, request.user, request_id)
    form = InvoiceStatusForm(request.POST)
    if form.is_valid():
        try:
            services.invoice_request_set_status(actor=Actor.from_request(request), request=row,
                                                **form.cleaned_data)
        except DomainError as exc:
            _say(request, exc)
    return redirect("pipeline:contract", row.contract_id)


@requires("customer.view")
def attachment_download(request, contract_id: int, attachment_id: int):
    contract = found(selectors.contract_get, request.user, contract_id)
    return attachment_response(found(selectors.attachment_get, request.user, contract,
                                     attachment_id))


# Receivables and forecast --------------------------------------------------------------------


@requires("customer.view")
def receivables(request):
    return render(request, "pipeline/receivables.html", {
        "aging": selectors.aging_report(request.user),
        "overdue": selectors.instalment_list(request.user, overdue=True)[:200],
        "invoices": selectors.invoice_request_list(request.user, status="requested")[:100],
        "can_export": request.user.access.can("customer.export")})


@requires("customer.view")
def forecast(request):
    user = request.user
    today = timezone.localdate()
    owner_id = int(request.GET["owner"]) if request.GET.get("owner", "").isdigit() else None
    team_id = int(request.GET["team"]) if request.GET.get("team", "").isdigit() else None
    can_target = user.access.can("target.manage")
    users, teams = list(accounts.user_list(user=user)), list(accounts.team_list(user=user))
    form = TargetForm(request.POST or None, users=users, teams=teams, initial={
        "year": today.year, "period": today.month, "period_kind": "month"})
    if request.method == "POST" and can_target and form.is_valid():
        data = dict(form.cleaned_data)
        kind, _sep, pk = data.pop("who").partition(":")
        who = {"user": next((u for u in users if str(u.pk) == pk), None)} if kind == "user" \
            else {"team": next((t for t in teams if str(t.pk) == pk), None)}
        try:
            services.target_set(actor=Actor.from_request(request), **who, **data)
        except DomainError as exc:
            show_errors(form, exc)
        else:
            messages.success(request, _("Target saved."))
            return redirect(request.get_full_path())
    quarter = (today.month - 1) // 3 + 1
    return render(request, "pipeline/forecast.html", {
        "months": selectors.forecast(user, first=month_start(today), months=3,
                                     owner_id=owner_id, team_id=team_id),
        "month_attainment": selectors.attainment(user, period_kind="month", year=today.year,
                                                 period=today.month, owner_id=owner_id
                                                 or (None if team_id else user.pk),
                                                 team_id=team_id),
        "quarter_attainment": selectors.attainment(user, period_kind="quarter",
                                                   year=today.year, period=quarter,
                                                   owner_id=owner_id
                                                   or (None if team_id else user.pk),
                                                   team_id=team_id),
        "accuracy": selectors.forecast_accuracy(user, close_month=today, owner_id=owner_id,
                                                team_id=team_id),
        "targets": selectors.target_list(user, year=today.year)[:200],
        "users": users, "teams": teams, "owner_id": owner_id, "team_id": team_id,
        "form": form if can_target else None, "quarter": quarter, "today": today})
