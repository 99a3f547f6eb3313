"""The transaction and service layers: products, orders with lines, service tickets."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Product(models.Model):
    sku = models.CharField(_("SKU"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=200)
    category = models.CharField(_("category"), max_length=60, blank=True, db_index=True)
    unit_price = models.DecimalField(_("list price (CNY)"), max_digits=12, decimal_places=2)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["sku"]
        verbose_name = _("product")
        verbose_name_plural = _("products")

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"


class Order(models.Model):
    """An order in CNY. Returned and refunded orders stay, with their status, for RFM netting."""

    STATUSES = [("pending", _("Pending")), ("paid", _("Paid")), ("shipped", _("Shipped")),
                ("completed", _("Completed")), ("cancelled", _("Cancelled")),
                ("returned", _("Returned")), ("refunded", _("Refunded"))]
    # What "a purchase" means everywhere (segments, RFM scoring, the card's spend): an order
    # that was paid for and not taken back. Pending orders are not purchases yet; cancelled,
    # returned and refunded ones are netted out. The one definition; read it, never copy it.
    PURCHASE_STATUSES = ("paid", "shipped", "completed")
    PAYMENT_METHODS = [("wechat_pay", _("WeChat Pay")), ("alipay", _("Alipay")),
                       ("bank_transfer", _("Bank transfer")), ("card", _("Card")),
                       ("cash", _("Cash")), ("credit", _("On account"))]
    SALES_CHANNELS = [("direct", _("Direct sales")), ("online", _("Online shop")),
                      ("tmall", _("Tmall")), ("jd", _("JD.com")), ("store", _("Store")),
                      ("distributor", _("Distributor")), ("wechat", _("WeChat shop"))]

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE,
                                 related_name="orders")
    number = models.CharField(_("order number"), max_length=40, unique=True)
    status = models.CharField(_("status"), max_length=10, choices=STATUSES, default="pending")
    ordered_at = models.DateTimeField(_("ordered"))
    total_amount = models.DecimalField(_("total (CNY)"), max_digits=14, decimal_places=2,
                                       default=0)
    payment_method = models.CharField(_("payment method"), max_length=16,
                                      choices=PAYMENT_METHODS, blank=True)
    sales_channel = models.CharField(_("sales channel"), max_length=16, choices=SALES_CHANNELS,
                                     blank=True)
    salesperson = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    notes = models.TextField(_("notes"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-ordered_at", "-id"]
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        indexes = [models.Index(fields=["customer", "-ordered_at"], name="order_cust_time"),
                   models.Index(fields=["status", "-ordered_at"], name="order_status_time")]

    def __str__(self) -> str:
        return self.number


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="order_lines")
    quantity = models.DecimalField(_("quantity"), max_digits=12, decimal_places=2,
                                   validators=[MinValueValidator(0)])
    unit_price = models.DecimalField(_("unit price (CNY)"), max_digits=12, decimal_places=2,
                                     validators=[MinValueValidator(0)])
    amount = models.DecimalField(_("amount (CNY)"), max_digits=14, decimal_places=2)

    class Meta:
        ordering = ["id"]
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")

    def __str__(self) -> str:
        return f"{self.product_id} × {self.quantity}"


class Ticket(models.Model):
    """A service ticket: request, complaint or inquiry, with its resolution and satisfaction."""

    KINDS = [("service_request", _("Service request")), ("complaint", _("Complaint")),
             ("inquiry", _("Inquiry"))]
    STATUSES = [("open", _("Open")), ("in_progress", _("In progress")),
                ("waiting_customer", _("Waiting for the customer")),
                ("resolved", pgettext_lazy("ticket status", "Resolved")), ("closed", _("Closed"))]
    SATISFACTION_SOURCES = [("survey", _("Customer's survey answer")),
                            ("agent_phone", _("Entered by an agent on the phone"))]
    PRIORITIES = [("low", _("Low")), ("normal", _("Normal")), ("high", _("High")),
                  ("urgent", _("Urgent"))]

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE,
                                 related_name="tickets")
    number = models.CharField(_("ticket number"), max_length=40, unique=True)
    kind = models.CharField(_("type"), max_length=16, choices=KINDS)
    subject = models.CharField(_("subject"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    status = models.CharField(_("status"), max_length=16, choices=STATUSES, default="open")
    priority = models.CharField(_("priority"), max_length=8, choices=PRIORITIES,
                                default="normal")
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("assignee"), null=True,
                                 blank=True, on_delete=models.SET_NULL, related_name="+")
    product = models.ForeignKey(Product, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="tickets")
    satisfaction = models.PositiveSmallIntegerField(
        _("satisfaction"), null=True, blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(5)])
    satisfaction_source = models.CharField(
        _("satisfaction given by"), max_length=12, choices=SATISFACTION_SOURCES, blank=True,
        default="", db_default="")
    resolution = models.TextField(_("resolution"), blank=True)
    opened_at = models.DateTimeField(_("opened"))
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    merged_into = models.ForeignKey("self", verbose_name=_("merged into"), null=True,
                                    blank=True, on_delete=models.SET_NULL,
                                    related_name="merged_duplicates")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        indexes = [models.Index(fields=["customer", "-opened_at"], name="ticket_cust_time"),
                   models.Index(fields=["status", "priority"], name="ticket_status")]

    def __str__(self) -> str:
        return f"{self.number} {self.subject}"


class TicketStatusChange(models.Model):
    """One move of a ticket's status, kept forever: SLA clocks are computed from this history,
    so a changed policy recomputes past tickets."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(_("from"), max_length=16, blank=True)
    to_status = models.CharField(_("to"), max_length=16)
    at = models.DateTimeField(_("time"))
    by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("by"), null=True,
                           blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("ticket status change")
        verbose_name_plural = _("ticket status changes")
        indexes = [models.Index(fields=["ticket", "at"], name="ticket_status_hist")]

    def __str__(self) -> str:
        return f"{self.ticket_id}: {self.from_status} → {self.to_status}"


class TicketMessage(models.Model):
    """A reply to the customer, the customer's own message, or an internal note (never shown
    to the customer). Replies stop the response clocks; customer messages restart them."""

    REPLY = "reply"
    NOTE = "note"
    CUSTOMER = "customer"
    KINDS = [(REPLY, _("Reply to the customer")), (NOTE, _("Internal note")),
             (CUSTOMER, _("Customer's message"))]
    CHANNELS = [("phone", _("Phone")), ("email", _("Email")), ("sms", _("SMS")),
                ("wechat", _("WeChat")), ("visit", _("Visit")), ("other", _("Other"))]

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    kind = models.CharField(_("type"), max_length=8, choices=KINDS)
    channel = models.CharField(_("channel"), max_length=8, choices=CHANNELS, blank=True)
    body = models.TextField(_("text"))
    author = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("by"), null=True,
                               blank=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(_("time"))
    moved_from = models.ForeignKey(Ticket, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+",
                                   help_text=_("The duplicate ticket this came from."))

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("ticket message")
        verbose_name_plural = _("ticket messages")
        indexes = [models.Index(fields=["ticket", "at"], name="ticket_msg_time")]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.kind} {self.at:%Y-%m-%d %H:%M}"
