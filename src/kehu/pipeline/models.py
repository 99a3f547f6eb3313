"""The sales pipeline (商机): pipelines and stages, deals with their stage history, quotes,
contracts with encrypted attachments, payment plans and payments, invoice requests,
sales targets and weekly forecast snapshots. Money is CNY, Decimal with two places."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

MONEY = {"max_digits": 14, "decimal_places": 2}

OPEN, WON, LOST = "open", "won", "lost"
STAGE_KINDS = [(OPEN, pgettext_lazy("deal", "Open")), (WON, _("Won")), (LOST, _("Lost"))]
COMMIT, BEST_CASE, PIPELINE = "commit", "best_case", "pipeline"
FORECAST_CATEGORIES = [(COMMIT, _("Commit")), (BEST_CASE, _("Best case")),
                       (PIPELINE, _("Pipeline"))]


class Pipeline(models.Model):
    """A sales process with its own stages; a company may run several (new business,
    renewals, channel sales). Exactly one is the default new deals land in."""

    name = models.CharField(_("name"), max_length=60, unique=True)
    is_default = models.BooleanField(_("default"), default=False)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-is_default", "name"]
        verbose_name = _("pipeline")
        verbose_name_plural = _("pipelines")

    def __str__(self) -> str:
        return self.name


class Stage(models.Model):
    """One column of a pipeline: its default win probability, its forecast category and
    after how many days a deal sitting in it counts as stalled."""

    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="stages")
    name = models.CharField(_("name"), max_length=40)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    probability = models.PositiveSmallIntegerField(
        _("probability (%)"), validators=[MaxValueValidator(100)])
    kind = models.CharField(_("kind"), max_length=6, choices=STAGE_KINDS, default=OPEN)
    forecast_category = models.CharField(_("forecast category"), max_length=10,
                                         choices=FORECAST_CATEGORIES, default=PIPELINE)
    stalled_days = models.PositiveSmallIntegerField(_("stalled after (days)"), default=14)

    class Meta:
        ordering = ["pipeline", "position", "id"]
        verbose_name = _("stage")
        verbose_name_plural = _("stages")
        constraints = [models.UniqueConstraint(fields=["pipeline", "name"],
                                               name="stage_pipeline_name")]

    def __str__(self) -> str:
        return self.name


class Deal(models.Model):
    """An opportunity (商机): a customer, an amount, a stage and when it should close.

    Record scope follows `owner` and `team` exactly as customers' do. `status` mirrors the
    stage's kind (open/won/lost) so boards and forecasts filter on one indexed column."""

    SOURCES = [("referral", _("Referral")), ("website", _("Website")),
               ("exhibition", _("Trade show")), ("cold_call", _("Cold call")),
               ("partner", _("Partner")), ("existing", _("Existing customer")),
               ("advertising", _("Advertising")), ("other", _("Other"))]

    title = models.CharField(_("title"), max_length=200)
    customer = models.ForeignKey("customers.Customer", verbose_name=_("customer"),
                                 on_delete=models.PROTECT, related_name="deals")
    pipeline = models.ForeignKey(Pipeline, verbose_name=_("pipeline"),
                                 on_delete=models.PROTECT, related_name="deals")
    stage = models.ForeignKey(Stage, verbose_name=_("stage"), on_delete=models.PROTECT,
                              related_name="deals")
    status = models.CharField(_("status"), max_length=6, choices=STAGE_KINDS, default=OPEN)
    amount = models.DecimalField(_("amount (CNY)"), validators=[MinValueValidator(0)], **MONEY)
    probability = models.PositiveSmallIntegerField(
        _("probability (%)"), validators=[MaxValueValidator(100)])
    forecast_category = models.CharField(_("forecast category"), max_length=10,
                                         choices=FORECAST_CATEGORIES, default=PIPELINE)
    expected_close_date = models.DateField(_("expected close date"))
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("owner"), null=True,
                              blank=True, on_delete=models.SET_NULL, related_name="deals")
    team = models.ForeignKey("accounts.Team", verbose_name=_("team"), null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="deals")
    source = models.CharField(_("source"), max_length=12, choices=SOURCES, blank=True)
    competitor = models.CharField(_("competitor"), max_length=100, blank=True)
    next_step = models.CharField(_("next step"), max_length=200, blank=True)
    lost_reason = models.CharField(_("lost reason"), max_length=300, blank=True)
    stage_entered_at = models.DateTimeField(_("in stage since"))
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    order = models.ForeignKey("transactions.Order", verbose_name=_("order"), null=True,
                              blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["expected_close_date", "id"]
        verbose_name = _("deal")
        verbose_name_plural = _("deals")
        indexes = [
            models.Index(fields=["pipeline", "status", "stage"], name="deal_board"),
            models.Index(fields=["owner", "status", "expected_close_date"], name="deal_owner"),
            models.Index(fields=["team", "status", "expected_close_date"], name="deal_team"),
            models.Index(fields=["customer", "status"], name="deal_customer"),
        ]

    def __str__(self) -> str:
        return self.title


class DealContact(models.Model):
    """A person at the customer involved in the deal, with their decision role."""

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="contacts")
    person = models.ForeignKey("customers.Customer", on_delete=models.CASCADE,
                               related_name="deal_roles")
    decision_role = models.CharField(_("decision role"), max_length=16, blank=True,
                                     choices=[("decision_maker", _("Decision maker")),
                                              ("influencer", _("Influencer")),
                                              ("user", _("User")),
                                              ("gatekeeper", _("Gatekeeper"))])

    class Meta:
        ordering = ["id"]
        verbose_name = _("deal contact")
        verbose_name_plural = _("deal contacts")
        constraints = [models.UniqueConstraint(fields=["deal", "person"],
                                               name="deal_contact_unique")]

    def __str__(self) -> str:
        return f"{self.person_id} @ {self.deal_id}"


class DealLine(models.Model):
    """A product the deal is about, priced in CNY."""

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey("transactions.Product", verbose_name=_("product"),
                                on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField(_("quantity"), max_digits=12, decimal_places=2)
    unit_price = models.DecimalField(_("unit price (CNY)"), max_digits=12, decimal_places=2)
    amount = models.DecimalField(_("amount (CNY)"), **MONEY)

    class Meta:
        ordering = ["id"]
        verbose_name = _("deal line")
        verbose_name_plural = _("deal lines")

    def __str__(self) -> str:
        return f"{self.product_id} × {self.quantity}"


class DealStageHistory(models.Model):
    """A deal's stay in one stage: when it entered, when it left (None while it is there)."""

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="stage_history")
    stage = models.ForeignKey(Stage, verbose_name=_("stage"), on_delete=models.PROTECT,
                              related_name="+")
    entered_at = models.DateTimeField(_("entered"))
    exited_at = models.DateTimeField(_("left"), null=True, blank=True)
    moved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["entered_at", "id"]
        verbose_name = _("stage history")
        verbose_name_plural = _("stage history")

    def __str__(self) -> str:
        return f"{self.deal_id}: {self.stage_id}"


# Quotes ------------------------------------------------------------------------------------


class Quote(models.Model):
    """A priced offer (报价单) for a deal. Revising a quote makes a new version with the same
    number; prices are before tax and tax is computed and rounded per line."""

    DRAFT, SENT, ACCEPTED, REJECTED, EXPIRED = "draft", "sent", "accepted", "rejected", "expired"
    STATUSES = [(DRAFT, _("Draft")), (SENT, _("Sent")), (ACCEPTED, _("Accepted")),
                (REJECTED, _("Rejected")), (EXPIRED, _("Expired"))]

    deal = models.ForeignKey(Deal, verbose_name=_("deal"), on_delete=models.CASCADE,
                             related_name="quotes")
    number = models.CharField(_("quote number"), max_length=40)
    version = models.PositiveSmallIntegerField(_("version"), default=1)
    status = models.CharField(_("status"), max_length=10, choices=STATUSES, default=DRAFT)
    valid_until = models.DateField(_("valid until"))
    notes = models.TextField(_("notes"), blank=True)
    subtotal = models.DecimalField(_("amount before tax (CNY)"), default=0, **MONEY)
    tax_total = models.DecimalField(_("tax (CNY)"), default=0, **MONEY)
    total = models.DecimalField(_("total with tax (CNY)"), default=0, **MONEY)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("quote")
        verbose_name_plural = _("quotes")
        constraints = [models.UniqueConstraint(fields=["number", "version"],
                                               name="quote_number_version")]

    def __str__(self) -> str:
        return f"{self.number} v{self.version}"


class QuoteLine(models.Model):
    """One line of a quote: quantity × unit price less the discount, then VAT on the line."""

    TAX_RATES = [("0.13", "13%"), ("0.09", "9%"), ("0.06", "6%"), ("0.00", "0%")]

    quote = models.ForeignKey(Quote, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField(default=0)
    product = models.ForeignKey("transactions.Product", verbose_name=_("product"),
                                on_delete=models.PROTECT, related_name="+")
    description = models.CharField(_("description"), max_length=200, blank=True)
    quantity = models.DecimalField(_("quantity"), max_digits=12, decimal_places=2)
    unit_price = models.DecimalField(_("unit price before tax (CNY)"), max_digits=12,
                                     decimal_places=2)
    discount = models.DecimalField(_("discount (%)"), max_digits=5, decimal_places=2, default=0)
    tax_rate = models.DecimalField(_("tax rate"), max_digits=4, decimal_places=2)
    net_amount = models.DecimalField(_("amount before tax (CNY)"), **MONEY)
    tax_amount = models.DecimalField(_("tax (CNY)"), **MONEY)
    gross_amount = models.DecimalField(_("amount with tax (CNY)"), **MONEY)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("quote line")
        verbose_name_plural = _("quote lines")

    def __str__(self) -> str:
        return f"{self.product_id} × {self.quantity}"


# Contracts ---------------------------------------------------------------------------------


class Contract(models.Model):
    """A signed agreement (合同), from an accepted quote or entered directly. Its status moves
    only along CONTRACT_TRANSITIONS (kehu.pipeline.contracts)."""

    DRAFT, APPROVING, SIGNED, EXECUTING = "draft", "approving", "signed", "executing"
    COMPLETED, TERMINATED = "completed", "terminated"
    STATUSES = [(DRAFT, _("Draft")), (APPROVING, _("In approval")), (SIGNED, _("Signed")),
                (EXECUTING, _("In progress")), (COMPLETED, pgettext_lazy("contract", "Completed")),
                (TERMINATED, _("Terminated"))]

    number = models.CharField(_("contract number"), max_length=40, unique=True)
    title = models.CharField(_("title"), max_length=200)
    customer = models.ForeignKey("customers.Customer", verbose_name=_("customer"),
                                 on_delete=models.PROTECT, related_name="contracts")
    deal = models.ForeignKey(Deal, verbose_name=_("deal"), null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="contracts")
    quote = models.ForeignKey(Quote, verbose_name=_("quote"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="contracts")
    party_a = models.CharField(_("party A (seller)"), max_length=200)
    party_b = models.CharField(_("party B (buyer)"), max_length=200)
    amount = models.DecimalField(_("amount (CNY)"), validators=[MinValueValidator(0)], **MONEY)
    start_date = models.DateField(_("start"))
    end_date = models.DateField(_("end"))
    signed_date = models.DateField(_("signed on"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=STATUSES, default=DRAFT)
    renewal_reminder_days = models.PositiveSmallIntegerField(_("renewal reminder (days)"),
                                                             default=30)
    renewal_reminded_on = models.DateField(_("renewal reminder sent"), null=True, blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("owner"), null=True,
                              blank=True, on_delete=models.SET_NULL, related_name="contracts")
    team = models.ForeignKey("accounts.Team", verbose_name=_("team"), null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="contracts")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("contract")
        verbose_name_plural = _("contracts")
        indexes = [models.Index(fields=["status", "end_date"], name="contract_status_end")]

    def __str__(self) -> str:
        return self.number


class ContractAttachment(models.Model):
    """A file attached to a contract, stored on disk encrypted (AES-256-GCM)."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="attachments")
    filename = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(max_length=100, blank=True)
    size = models.PositiveIntegerField(_("size"))
    sha256 = models.CharField(max_length=64)
    stored_name = models.CharField(max_length=100, unique=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("uploaded"), auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.filename


# Payments ----------------------------------------------------------------------------------


class Instalment(models.Model):
    """One due payment of a contract's plan (回款计划). `paid_amount` is what payments
    matched to it so far; `overdue_since` is set once, by the overdue check."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="instalments")
    sequence = models.PositiveSmallIntegerField(_("instalment"))
    due_date = models.DateField(_("due"))
    amount = models.DecimalField(_("amount (CNY)"), **MONEY)
    paid_amount = models.DecimalField(_("paid (CNY)"), default=0, **MONEY)
    overdue_since = models.DateField(_("overdue since"), null=True, blank=True)

    class Meta:
        ordering = ["contract", "sequence"]
        verbose_name = _("instalment")
        verbose_name_plural = _("instalments")
        constraints = [models.UniqueConstraint(fields=["contract", "sequence"],
                                               name="instalment_sequence")]
        indexes = [models.Index(fields=["due_date"], name="instalment_due")]

    def __str__(self) -> str:
        return f"{self.contract_id} #{self.sequence}"

    @property
    def outstanding(self):
        return self.amount - self.paid_amount


class Payment(models.Model):
    """Money received (回款) against a contract, matched to its instalments."""

    METHODS = [("bank_transfer", _("Bank transfer")), ("wechat_pay", _("WeChat Pay")),
               ("alipay", _("Alipay")), ("cheque", _("Cheque")),
               ("acceptance_bill", _("Bank acceptance bill")), ("cash", _("Cash"))]

    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="payments")
    received_on = models.DateField(_("received on"))
    amount = models.DecimalField(_("amount (CNY)"), **MONEY)
    method = models.CharField(_("method"), max_length=16, choices=METHODS)
    reference = models.CharField(_("reference"), max_length=100, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("recorded"), auto_now_add=True)

    class Meta:
        ordering = ["-received_on", "-id"]
        verbose_name = _("payment")
        verbose_name_plural = _("payments")

    def __str__(self) -> str:
        return f"{self.contract_id} ¥{self.amount}"


class PaymentAllocation(models.Model):
    """The part of a payment matched to one instalment."""

    payment = models.ForeignKey(Payment, on_delete=models.CASCADE, related_name="allocations")
    instalment = models.ForeignKey(Instalment, on_delete=models.CASCADE,
                                   related_name="allocations")
    amount = models.DecimalField(_("amount (CNY)"), **MONEY)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.payment_id} → {self.instalment_id}"


class InvoiceRequest(models.Model):
    """A request to finance to issue an invoice (开票申请) for a contract."""

    REQUESTED, APPROVED, ISSUED, REJECTED = "requested", "approved", "issued", "rejected"
    STATUSES = [(REQUESTED, _("Requested")), (APPROVED, _("Approved")),
                (ISSUED, _("Issued")), (REJECTED, _("Rejected"))]
    KINDS = [("normal", _("General VAT invoice")), ("special", _("Special VAT invoice"))]

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE,
                                 related_name="invoice_requests")
    amount = models.DecimalField(_("amount (CNY)"), **MONEY)
    kind = models.CharField(_("invoice type"), max_length=8, choices=KINDS, default="special")
    buyer_name = models.CharField(_("invoice title"), max_length=200)
    buyer_tax_number = models.CharField(_("taxpayer number"), max_length=20, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=STATUSES, default=REQUESTED)
    invoice_number = models.CharField(_("invoice number"), max_length=40, blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("requested"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("invoice request")
        verbose_name_plural = _("invoice requests")

    def __str__(self) -> str:
        return f"{self.contract_id} ¥{self.amount}"


# Targets and forecast -------------------------------------------------------------------------


class Target(models.Model):
    """A sales target (业绩目标) for one user or one team, for a month or a quarter."""

    MONTH, QUARTER = "month", "quarter"
    PERIODS = [(MONTH, _("Month")), (QUARTER, _("Quarter"))]

    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("user"), null=True,
                             blank=True, on_delete=models.CASCADE, related_name="+")
    team = models.ForeignKey("accounts.Team", verbose_name=_("team"), null=True, blank=True,
                             on_delete=models.CASCADE, related_name="+")
    period_kind = models.CharField(_("period"), max_length=8, choices=PERIODS)
    year = models.PositiveSmallIntegerField(_("year"))
    period = models.PositiveSmallIntegerField(_("month or quarter"))
    amount = models.DecimalField(_("target (CNY)"), **MONEY)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["year", "period_kind", "period", "id"]
        verbose_name = _("target")
        verbose_name_plural = _("targets")
        constraints = [
            models.UniqueConstraint(fields=["user", "period_kind", "year", "period"],
                                    name="target_user_period",
                                    condition=models.Q(user__isnull=False)),
            models.UniqueConstraint(fields=["team", "period_kind", "year", "period"],
                                    name="target_team_period",
                                    condition=models.Q(team__isnull=False)),
            models.CheckConstraint(condition=models.Q(user__isnull=True, team__isnull=False)
                                   | models.Q(user__isnull=False, team__isnull=True),
                                   name="target_user_xor_team"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id or self.team_id} {self.year}-{self.period_kind}{self.period}"


class ForecastSnapshot(models.Model):
    """What the forecast said for one owner and close month on one day (taken weekly), so
    it can later be compared with what was actually won."""

    taken_on = models.DateField(_("taken on"))
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                              on_delete=models.CASCADE, related_name="+")
    team = models.ForeignKey("accounts.Team", null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    close_month = models.DateField(_("close month"))
    commit = models.DecimalField(_("commit"), **MONEY)
    best_case = models.DecimalField(_("best case"), **MONEY)
    pipeline = models.DecimalField(_("pipeline"), **MONEY)
    won = models.DecimalField(_("won"), **MONEY)

    class Meta:
        ordering = ["-taken_on", "close_month"]
        constraints = [models.UniqueConstraint(fields=["taken_on", "owner", "close_month"],
                                               name="forecast_snapshot_unique")]

    def __str__(self) -> str:
        return f"{self.taken_on} {self.owner_id} {self.close_month}"
